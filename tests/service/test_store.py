"""The store against a real MLflow registry (SQLite), and its cache when the registry is down."""

from __future__ import annotations

from pathlib import Path

import pytest

from gigcast.bundle import write_bundle
from service.store import ModelNotFoundError, fetch
from tests.serving import free_port
from training.pipeline import Trained
from training.tracking import log_training, promote


@pytest.fixture(scope="module")
def registry(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    registered = log_training(
        tracking_uri=uri,
        model_name="gigcast",
        bundle_dir=write_bundle(trained.bundle, folder / "bundle"),
        params={},
        metrics=trained.metrics,
        tables={},
        figures={},
        example_skill=trained.bundle.skills["skill"][0],
    )
    promote(tracking_uri=uri, model_name="gigcast", version=registered.version)
    return uri


def test_a_restart_serves_from_the_cache_when_the_registry_is_down(
    registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = fetch(tracking_uri=registry, name="gigcast", alias="champion", cache_dir=tmp_path)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail at once rather than back off
    down = f"http://127.0.0.1:{free_port()}"  # an MLflow server that is not running
    again = fetch(tracking_uri=down, name="gigcast", alias="champion", cache_dir=tmp_path)
    assert (again.version, again.run_id) == (served.version, served.run_id)
    assert again.index.skills.keys() == served.index.skills.keys()
    with pytest.raises(Exception):  # noqa: B017 - a registry that is down and nothing cached: no model
        fetch(tracking_uri=down, name="gigcast", alias="champion", cache_dir=tmp_path / "empty")


def test_an_alias_the_registry_lacks_is_not_served_from_the_cache(registry: str, tmp_path: Path) -> None:
    fetch(tracking_uri=registry, name="gigcast", alias="champion", cache_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match="no gigcast@staging"):
        fetch(tracking_uri=registry, name="gigcast", alias="staging", cache_dir=tmp_path)
