"""The store against a real MLflow registry (SQLite), and its cache when the registry is down."""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from mlflow import MlflowClient
from prometheus_client import REGISTRY

from gigcast.bundle import Target
from gigcast.monitored import Monitored, data_age_weeks
from gigcast.settings import CHAMPION_ALIAS
from service.registry import Alias
from service.store import ModelNotFoundError, NothingToServeError, Store, fetch
from tests.conftest import register
from tests.serving import free_port
from training.pipeline import Trained
from training.registry.tracking import RegistryError, promote


@pytest.fixture(scope="module")
def registry(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    promote(tracking_uri=uri, model_name="gigcast", version=register(uri, trained, folder))
    return uri


def test_a_restart_serves_from_the_cache_when_the_registry_is_down(registry: str, tmp_path: Path) -> None:
    copy = tmp_path / "mlflow.db"
    shutil.copy(registry.removeprefix("sqlite:///"), copy)
    uri = f"sqlite:///{copy}"
    served = fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=tmp_path))
    copy.write_bytes(b"not a database")  # the registry fails, as one that is down would
    again = fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=tmp_path))
    assert (again.version, again.run_id) == (served.version, served.run_id)
    assert again.index.skills.keys() == served.index.skills.keys()
    with pytest.raises(Exception):  # noqa: B017 - a registry that is down and nothing cached: no model
        fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=tmp_path / "empty"))


def is_nan(value: float | None) -> bool:
    """Whether a gauge shows NaN: present, and no figure."""
    return value is not None and math.isnan(value)


def test_a_version_is_served_with_its_monitoring_figures_and_the_cache_without(
    registry: str, trained: Trained, tmp_path: Path
) -> None:
    copy = tmp_path / "mlflow.db"
    shutil.copy(registry.removeprefix("sqlite:///"), copy)
    uri = f"sqlite:///{copy}"
    monitored = Monitored(
        run_id="monitoring-run",
        through=trained.bundle.manifest.first_forecast_week,
        drifted=True,
        coverage={Target.DEMAND: 0.625, Target.RATE: 0.75},
        mase_ratio={Target.DEMAND: 1.5},
    )
    client = MlflowClient(tracking_uri=uri)
    for key, value in monitored.tags().items():
        client.set_model_version_tag("gigcast", "1", key, value)
    served = fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=tmp_path))
    assert served.monitored == monitored
    Store().swap(served)
    gauge = REGISTRY.get_sample_value
    assert gauge("gigcast_monitored_coverage", {"target": "demand"}) == 0.625
    assert gauge("gigcast_monitored_coverage", {"target": "rate"}) == 0.75
    assert gauge("gigcast_monitored_mase_ratio", {"target": "demand"}) == 1.5
    assert is_nan(gauge("gigcast_monitored_mase_ratio", {"target": "rate"}))  # never measured
    assert gauge("gigcast_monitored_drifted") == 1
    copy.write_bytes(b"not a database")  # the registry is down: the cache serves, without tags
    again = fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=tmp_path))
    assert again.version == served.version and again.monitored is None
    Store().swap(again)
    assert is_nan(gauge("gigcast_monitored_drifted"))
    for name in ("gigcast_monitored_coverage", "gigcast_monitored_mase_ratio"):
        assert all(is_nan(gauge(name, {"target": str(target)})) for target in Target), name
    age = data_age_weeks(trained.bundle.manifest.data_end, today=date.today())
    assert gauge("gigcast_data_age_weeks") == age


def test_an_alias_the_registry_lacks_is_not_served_from_the_cache(registry: str, tmp_path: Path) -> None:
    fetch(Alias(tracking_uri=registry, name="gigcast", alias="champion", cache_dir=tmp_path))
    with pytest.raises(ModelNotFoundError, match="no gigcast@staging"):
        fetch(Alias(tracking_uri=registry, name="gigcast", alias="staging", cache_dir=tmp_path))


def test_a_damaged_cache_entry_is_fetched_again(registry: str, tmp_path: Path) -> None:
    served = fetch(Alias(tracking_uri=registry, name="gigcast", alias="champion", cache_dir=tmp_path))
    (cached,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (cached / "rate_cells.parquet").write_text("junk")
    again = fetch(Alias(tracking_uri=registry, name="gigcast", alias="champion", cache_dir=tmp_path))
    assert again.version == served.version and again.index.skills.keys() == served.index.skills.keys()


def test_a_damaged_version_is_never_promoted_and_a_damaged_champion_serves_the_last_good_one(
    trained: Trained, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    good = register(uri, trained, tmp_path / "good")
    promote(tracking_uri=uri, model_name="gigcast", version=good)
    bad = register(uri, trained, tmp_path / "bad", damaged=True)
    with pytest.raises(RegistryError, match=f"version {bad}, which cannot be served"):
        promote(tracking_uri=uri, model_name="gigcast", version=bad)
    cache = tmp_path / "cache"
    assert fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=cache)).version == good
    MlflowClient(tracking_uri=uri).set_registered_model_alias("gigcast", CHAMPION_ALIAS, bad)  # as by hand
    with caplog.at_level(logging.WARNING, logger="service.store"):
        served = fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=cache))
    assert served.version == good
    assert (
        f"version {bad} cannot be served" in caplog.text and f"serving cached version {good}" in caplog.text
    )
    with pytest.raises(NothingToServeError, match="damaged"):  # nothing good was ever served from this cache
        fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=tmp_path / "empty"))


def test_the_cache_falls_back_only_to_what_the_same_registry_served(
    registry: str, trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetch(Alias(tracking_uri=registry, name="gigcast", alias="champion", cache_dir=tmp_path))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    other = f"http://127.0.0.1:{free_port()}"  # another registry, down, sharing this cache folder
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises: not the other registry's model
        fetch(Alias(tracking_uri=other, name="gigcast", alias="champion", cache_dir=tmp_path))


@pytest.mark.parametrize(
    "pointer",
    [
        b"",
        b"\xff\xfe garbage",
        b"[1, 2]",
        b'{"registry": null}',
        b'{"registry": "REGISTRY", "version": 1, "run_id": "r", "folder": 7}',
        b'{"registry": "REGISTRY", "version": 1, "run_id": "r", "folder": "../elsewhere"}',
        b'{"registry": "REGISTRY", "version": 1, "run_id": "r", "folder": "/"}',
    ],
)
def test_garbage_in_the_cache_pointer_means_nothing_cached(
    registry: str, tmp_path: Path, pointer: bytes
) -> None:
    copy = tmp_path / "mlflow.db"
    shutil.copy(registry.removeprefix("sqlite:///"), copy)
    uri = f"sqlite:///{copy}"
    cache = tmp_path / "cache"
    fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=cache))
    (tmp_path / "elsewhere").symlink_to(next(p for p in cache.iterdir() if p.is_dir()))
    (cache / "gigcast@champion.json").write_bytes(pointer.replace(b"REGISTRY", uri.encode()))
    copy.write_bytes(b"not a database")
    with pytest.raises(NothingToServeError, match="no version of it was served"):
        fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=cache))


def test_a_registry_file_replaced_on_disk_is_the_one_the_server_reads(tmp_path: Path) -> None:
    """Restored from a backup while the server runs: the alias it follows is the new file's."""
    path = tmp_path / "mlflow.db"
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri)
    client.create_registered_model("gigcast")
    for _ in range(2):
        client.create_model_version("gigcast", source=tmp_path.as_uri())
    client.set_registered_model_alias("gigcast", "champion", "1")
    followed = Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=tmp_path / "cache")
    assert (found := followed.version()) is not None and found.version == "1"
    shutil.move(path, tmp_path / "x.db")
    shutil.copy(tmp_path / "x.db", path)
    promote = f"from mlflow import MlflowClient; MlflowClient(tracking_uri={uri!r})"
    promote += ".set_registered_model_alias('gigcast', 'champion', '2')"
    subprocess.run([sys.executable, "-c", promote], check=True, timeout=120)  # as a trainer elsewhere would
    assert (found := followed.version()) is not None and found.version == "2"
