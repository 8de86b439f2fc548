"""Registry faults a trainer meets: a champion that cannot be served, a run a killed trainer left."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from gigcast.registry import version_by_alias
from gigcast.settings import CHAMPION_ALIAS
from tests.conftest import register
from training.cli import app
from training.pipeline import Trained
from training.registry.tracking import close_abandoned_runs, trainer_tags

runner = CliRunner()


def test_training_replaces_a_damaged_champion_and_promote_refuses_one(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    bad = register(uri, trained, tmp_path / "bad", damaged=True)
    MlflowClient(tracking_uri=uri).set_registered_model_alias("gigcast", CHAMPION_ALIAS, bad)
    data = tmp_path / "postings.csv"
    rows = [{"uid": str(i), "published_on": f"2026-10-{1 + i % 28:02d}", "attrs": "rag"} for i in range(60)]
    pl.DataFrame(rows).write_csv(data)

    result = runner.invoke(app, ["run", "--data", str(data), "--quiet"])
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
