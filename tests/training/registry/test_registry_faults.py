"""Registry faults a trainer meets: a champion that cannot be served, a run a killed trainer left,
two trainers on a new registry, a registry another process holds locked, a server that died."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import polars as pl
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from gigcast.registry import version_by_alias
from gigcast.settings import CHAMPION_ALIAS
from tests.conftest import register
from tests.e2e.helpers import command
from training.cli import app
from training.pipeline import Trained
from training.registry.tracking import close_abandoned_runs, trainer_tags

runner = CliRunner()


def postings(folder: Path) -> Path:
    """A few weeks of one skill, enough to train a small version on."""
    data = folder / "postings.csv"
    rows = [{"uid": str(i), "published_on": f"2026-10-{1 + i % 28:02d}", "attrs": "rag"} for i in range(60)]
    pl.DataFrame(rows).write_csv(data)
    return data


def errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_training_replaces_a_damaged_champion_and_promote_refuses_one(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    bad = register(uri, trained, tmp_path / "bad", damaged=True)
    MlflowClient(tracking_uri=uri).set_registered_model_alias("gigcast", CHAMPION_ALIAS, bad)

    result = runner.invoke(app, ["run", "--data", str(postings(tmp_path)), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "cannot be served" in result.output and "the new version replaces it" in result.output
    champion = version_by_alias(tracking_uri=uri, name="gigcast", alias=CHAMPION_ALIAS)
    assert champion is not None and champion.version != bad

    again = runner.invoke(app, ["promote", "--version", bad])
    assert again.exit_code != 0 and "Traceback" not in again.output
    assert f"version {bad}, which cannot be served" in " ".join(again.output.split())
    assert version_by_alias(tracking_uri=uri, name="gigcast", alias=CHAMPION_ALIAS) == champion


def test_a_run_whose_trainer_was_killed_is_marked_failed(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    killed = f"""
import os, signal, mlflow
from training.registry.tracking import trainer_tags
mlflow.set_tracking_uri({uri!r})
mlflow.set_experiment("gigcast")
run = mlflow.start_run(tags=trainer_tags())
print(run.info.run_id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # killed mid-logging
"""
    done = subprocess.run([sys.executable, "-c", killed], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL
    run_id = done.stdout.split()[-1]
    client = MlflowClient(tracking_uri=uri)
    assert client.get_run(run_id).info.status == "RUNNING"
    with mlflow_run(uri) as alive:  # a run this process is logging is not abandoned
        assert close_abandoned_runs(tracking_uri=uri) == [run_id]
    assert client.get_run(run_id).info.status == "FAILED"
    assert client.get_run(alive).info.status == "FINISHED"


@contextmanager
def mlflow_run(uri: str) -> Iterator[str]:
    import mlflow

    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(
        experiment_id=mlflow.set_experiment("gigcast").experiment_id, tags=trainer_tags()
    ) as run:
        yield run.info.run_id


def test_run_if_drifted_replaces_a_damaged_champion_that_monitor_cannot_score(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    bad = register(uri, trained, tmp_path / "bad", damaged=True)  # never monitored: it cannot be
    client = MlflowClient(tracking_uri=uri)
    client.set_registered_model_alias("gigcast", CHAMPION_ALIAS, bad)
    data = postings(tmp_path)

    scoring = runner.invoke(app, ["monitor", "--data", str(data)])
    assert scoring.exit_code == 2 and "Traceback" not in scoring.output
    (line,) = errors(scoring.output)
    assert (
        "cannot be served" in line and "gigcast-train run --if-drifted trains a version to replace it" in line
    )

    result = runner.invoke(app, ["run", "--if-drifted", "--data", str(data), "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"@champion is gigcast version {bad}, which cannot be served" in result.output
    champion = version_by_alias(tracking_uri=uri, name="gigcast", alias=CHAMPION_ALIAS)
    assert champion is not None and champion.version != bad
    tags = client.get_run(champion.run_id).data.tags
    assert tags["gigcast.retrained_for"] == "damaged champion" and tags["gigcast.damaged_version"] == bad
    assert tags["gigcast.verdict_basis"] == "damaged champion" and tags["gigcast.promoted"] == "true"


def test_two_trainers_open_a_new_registry_at_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start = tmp_path / "start"
    trainer = f"""
import time
from pathlib import Path
from training.registry.tracking import experiment_id
print("ready", flush=True)
while not Path({str(start)!r}).exists():  # both open the new file at the same moment
    time.sleep(0.002)
print(experiment_id({uri!r}, "gigcast"), flush=True)
"""
    trainers = [
        subprocess.Popen(
            [sys.executable, "-c", trainer], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for process in trainers:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
    start.touch()
    done = [process.communicate(timeout=120) for process in trainers]
    assert [process.returncode for process in trainers] == [0, 0], [err[-3000:] for _, err in done]
    ids = {out.split()[-1] for out, _ in done}
    assert len(ids) == 1  # one experiment, created by one of them and found by the other
    names = [e.name for e in MlflowClient(tracking_uri=uri).search_experiments()]
    assert sorted(names) == ["Default", "gigcast"]


@contextmanager
def held(database: Path) -> Iterator[sqlite3.Connection]:
    """An exclusive lock on ``database``, as another process's long write would hold it."""
    with closing(sqlite3.connect(database, isolation_level=None, check_same_thread=False)) as other:
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield other
        finally:
            other.rollback()


def test_a_locked_registry_is_waited_for_then_refused_in_one_line(trained: Trained, tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    uri = f"sqlite:///{database}"
    promote_args = ["promote", "--version", register(uri, trained, tmp_path / "v1")]
    env = {"MLFLOW_TRACKING_URI": uri, "GIGCAST_REGISTRY_WAIT_SECONDS": "1"}
    with held(database):
        for args in (["runs"], promote_args):
            started = time.monotonic()
            done = runner.invoke(app, args, env=env)
            took = time.monotonic() - started
            assert done.exit_code == 1 and "Traceback" not in done.output, (args, done.output, done.exception)
            assert errors(done.output) == [
                f"error: the registry {uri} is locked by another process: waited 1 s for it"
            ]
            assert 1 <= took < 10, args

    with held(database) as other:  # let go of after a second: waited for, then answered
        threading.Timer(1.0, other.rollback).start()
        started = time.monotonic()
        done = runner.invoke(app, promote_args, env={**env, "GIGCAST_REGISTRY_WAIT_SECONDS": "20"})
        assert done.exit_code == 0, done.output
        assert "gigcast@champion is version 1" in done.output and time.monotonic() - started >= 0.9


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused, as to a server that died."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_dead_team_server_fails_a_command_within_a_minute_in_one_line(tmp_path: Path) -> None:
    user_settings = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_HTTP")}
    env = {**user_settings, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{closed_port()}"}
    started = time.monotonic()
    commands = [
        subprocess.Popen(
            [command("gigcast-train"), *args], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        for args in (["runs"], ["promote", "--version", "1"])
    ]
    try:
        for process in commands:  # both at once: they need no more than a core each
            _, stderr = process.communicate(timeout=90)  # MLflow's own retries take four minutes
            assert process.returncode == 1 and "Traceback" not in stderr, stderr
            (line,) = stderr.splitlines()
            assert line.startswith("error: MLflow: API request to http://127.0.0.1:"), line
            assert "Connection refused" in line
    finally:
        for process in commands:
            process.kill()
            process.wait()
    assert time.monotonic() - started < 60
