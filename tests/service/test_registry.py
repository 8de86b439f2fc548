"""How the server asks the registry: child processes against a real SQLite registry, its REST client
against registries that refuse or hang, and the SQLite file's stamp that spares a child per poll."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from mlflow import MlflowClient

from gigcast import registry as in_process
from gigcast.bundle import MANIFEST_FILE, Target, read_bundle
from gigcast.monitored import Monitored
from gigcast.registry import RegisteredVersion
from service.registry import Alias, RegistryError, fetch_bundle, sqlite_stamp, version_by_alias
from service.registry_child import BAD_QUESTION
from tests.conftest import register
from tests.serving import free_port
from training.pipeline import Trained
from training.registry.tracking import promote


def versions(folder: Path, count: int) -> str:
    """A SQLite registry at ``folder`` with ``count`` versions of gigcast (no bundles) and @champion at 1."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    client.create_registered_model("gigcast")
    for _ in range(count):
        client.create_model_version("gigcast", source=folder.as_uri())
    client.set_registered_model_alias("gigcast", "champion", "1")
    return uri


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended: any child the server side started."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def test_a_child_answers_as_mlflow_does_tags_included(tmp_path: Path) -> None:
    uri = versions(tmp_path, 1)
    client = MlflowClient(tracking_uri=uri)
    monitored = Monitored(
        run_id="r", through=date(2026, 11, 30), drifted=True, coverage={Target.RATE: 0.5}, mase_ratio={}
    )
    for key, value in {**monitored.tags(), "owner": "pricing team"}.items():
        client.set_model_version_tag("gigcast", "1", key, value)
    found = version_by_alias(tracking_uri=uri, name="gigcast", alias="champion")
    expected = in_process.version_by_alias(tracking_uri=uri, name="gigcast", alias="champion")
    assert found is not None and expected is not None
    assert (found, found.tags) == (expected, expected.tags)
    assert Monitored.from_tags(found.tags) == monitored


def test_a_model_or_alias_the_registry_lacks_is_none_and_a_version_it_lacks_an_error(tmp_path: Path) -> None:
    uri = versions(tmp_path, 1)
    assert version_by_alias(tracking_uri=uri, name="gigcast", alias="staging") is None
    assert version_by_alias(tracking_uri=uri, name="elsewhere", alias="champion") is None
    gone = RegisteredVersion("gigcast", "7", "run")
    with pytest.raises(RegistryError, match="the registry has no gigcast version 7"):
        fetch_bundle(tracking_uri=uri, version=gone, cache_dir=tmp_path / "cache")


def test_a_registry_that_is_down_is_an_error_that_says_why_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "mlflow.db"
    broken.write_bytes(b"not a database")
    with pytest.raises(RegistryError, match="not a database"):
        version_by_alias(tracking_uri=f"sqlite:///{broken}", name="gigcast", alias="champion")
    # a team's server in a workspace is asked through MLflow's client, whose message holds the URI
    monkeypatch.setenv("MLFLOW_WORKSPACE", "pricing")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    nobody = f"http://gigcast:s3cret-pass@127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(RegistryError, match="Connection refused") as caught:
        version_by_alias(tracking_uri=nobody, name="gigcast", alias="champion")
    assert "MlflowException" in str(caught.value)  # the child's, not the REST client's
    assert "s3cret-pass" not in str(caught.value) and "gigcast:***@127.0.0.1" in str(caught.value)


def test_a_child_that_takes_too_long_is_killed_and_the_registry_counts_as_down(tmp_path: Path) -> None:
    uri = versions(tmp_path, 1)
    began = time.monotonic()
    with pytest.raises(RegistryError, match=r"gave no answer in 0\.1 s"):  # MLflow alone takes longer to load
        version_by_alias(tracking_uri=uri, name="gigcast", alias="champion", timeout=0.1)
    assert time.monotonic() - began < 5


@pytest.mark.parametrize(
    ("argv", "stdin", "said"),
    [
        (["promote"], "{}", "usage: python -m service.registry_child version|fetch"),
        (["version"], "champion", "not JSON"),
        (["version"], '{"tracking_uri": "sqlite:///x.db"}', "version needs a JSON object of strings"),
        (["fetch"], '{"tracking_uri": "sqlite:///x.db", "name": "gigcast", "version": 1}', "fetch needs"),
    ],
)
def test_a_child_asked_something_it_does_not_know_exits_2_and_says_what_it_needs(
    argv: list[str], stdin: str, said: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.registry_child", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == BAD_QUESTION
    assert said in done.stderr and done.stdout == ""


def test_a_bundle_is_fetched_with_its_version_then_found_cached(trained: Trained, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    promote(tracking_uri=uri, model_name="gigcast", version=register(uri, trained, tmp_path))
    cache = tmp_path / "cache"
    found = version_by_alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=cache)
    assert found is not None
    folder = in_process.bundle_folder(tracking_uri=uri, version=found, cache_dir=cache)
    assert (folder / MANIFEST_FILE).is_file()  # fetched by the child that asked
    (tmp_path / "mlflow.db").write_bytes(b"not a database")  # from now on the registry cannot answer
    assert fetch_bundle(tracking_uri=uri, version=found, cache_dir=cache) == folder
    assert read_bundle(folder).skills.height == trained.bundle.skills.height


def test_the_alias_is_asked_again_only_when_the_registry_file_changed(tmp_path: Path) -> None:
    uri = versions(tmp_path, 2)
    path = tmp_path / "mlflow.db"
    followed = Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=tmp_path / "cache")
    first = followed.version()
    assert first is not None and first.version == "1"
    before = children_cpu()
    for _ in range(20):
        assert followed.version() == first
    assert children_cpu() == before  # no child was started: the file is as it was
    was, stamp = os.stat(path), sqlite_stamp(uri)
    MlflowClient(tracking_uri=uri).set_registered_model_alias("gigcast", "champion", "2")
    os.utime(path, ns=(was.st_atime_ns, was.st_mtime_ns))  # as if within the same tick of the clock
    changed = sqlite_stamp(uri)
    assert stamp is not None and changed is not None
    assert changed[:4] == stamp[:4] and changed != stamp  # SQLite's change counter tells them apart
    now = followed.version()
    assert now is not None and now.version == "2"
    assert children_cpu() > before


def test_only_a_sqlite_file_has_a_stamp(tmp_path: Path) -> None:
    assert sqlite_stamp(f"sqlite:///{tmp_path / 'none.db'}") is None  # not there: asked every time
    assert sqlite_stamp("postgresql://mlflow@db.internal/mlflow") is None
    assert sqlite_stamp("http://mlflow.internal:5000") is None
    uri = versions(tmp_path, 1)
    assert sqlite_stamp(uri) == sqlite_stamp(uri) is not None


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections and never answers on them: a registry that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_team_registry_that_hangs_is_down_after_its_timeout(
    silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "0.5")
    began = time.monotonic()
    uri = f"http://gigcast:s3cret-pass@127.0.0.1:{silent_port}"
    with pytest.raises(RegistryError, match="timed out") as caught:
        version_by_alias(tracking_uri=uri, name="gigcast", alias="champion")
    assert time.monotonic() - began < 5
    assert "s3cret-pass" not in str(caught.value) and "gigcast:***@127.0.0.1" in str(caught.value)


def test_a_team_registry_that_is_down_is_an_error_at_once() -> None:
    began = time.monotonic()
    with pytest.raises(RegistryError, match="refused"):
        version_by_alias(tracking_uri=f"http://127.0.0.1:{free_port()}", name="gigcast", alias="champion")
    assert time.monotonic() - began < 5


def test_a_child_answer_is_one_json_object_on_stdout(tmp_path: Path) -> None:
    uri = versions(tmp_path, 1)
    done = subprocess.run(
        [sys.executable, "-m", "service.registry_child", "version"],
        input=json.dumps({"tracking_uri": uri, "name": "gigcast", "alias": "champion"}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"name": "gigcast", "version": "1", "run_id": "", "tags": {}}
