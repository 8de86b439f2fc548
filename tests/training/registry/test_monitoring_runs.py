"""Monitoring runs in a real MLflow registry (SQLite): what a version is scored by, and what stays on it."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from mlflow import MlflowClient
from polars.testing import assert_frame_equal

from gigcast.bundle import Target, write_bundle
from gigcast.monitored import TAG_PREFIX, Monitored
from tests.conftest import register
from training.pipeline import Trained
from training.registry.monitoring import log_monitoring, scored_version
from training.registry.tracking import RegistryError, log_training, promote


@pytest.fixture(scope="module")
def registry(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A registry whose champion, version 1, is the session's trained market; tests add to it."""
    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    promote(tracking_uri=uri, model_name="gigcast", version=register(uri, trained, folder / "v1"))
    return uri


def test_a_version_is_scored_by_the_tables_its_training_run_logged(trained: Trained, registry: str) -> None:
    scored = scored_version(tracking_uri=registry, model_name="gigcast", version=None)  # the champion
    assert scored.version.version == "1"
    assert scored.bundle.manifest.data_end == trained.bundle.manifest.data_end
    assert_frame_equal(scored.backtest, trained.scores, check_dtypes=False)
    assert_frame_equal(scored.holdout, trained.holdout)
    # a column empty in this run still reads as numbers, not text
    assert all(
        scored.backtest[c].dtype == pl.Float64 for c in scored.backtest.columns if c.startswith("mase")
    )


def test_a_version_that_is_not_there_or_cannot_be_scored_is_a_registry_error(
    trained: Trained, registry: str, tmp_path: Path
) -> None:
    bundle = write_bundle(trained.bundle, tmp_path / "bundle")
    with pytest.raises(RegistryError, match="has no version 9"):
        scored_version(tracking_uri=registry, model_name="gigcast", version="9")
    bare = log_training(
        tracking_uri=registry,
        model_name="gigcast",
        bundle_dir=bundle,
        params={},
        metrics={},
        tables={},
        figures={},
        example_skill=trained.bundle.skills["skill"][0],
    ).version
    with pytest.raises(RegistryError, match=r"has no tables/scores\.csv"):
        scored_version(tracking_uri=registry, model_name="gigcast", version=bare)


def test_the_version_keeps_only_its_latest_monitoring_runs_figures(trained: Trained, registry: str) -> None:
    scored = scored_version(tracking_uri=registry, model_name="gigcast", version="1").version
    both = Monitored(
        run_id="",
        through=trained.bundle.manifest.first_forecast_week,
        drifted=True,
        coverage={Target.DEMAND: 0.4, Target.RATE: 0.55},
        mase_ratio={Target.DEMAND: 2.5, Target.RATE: 1.5},
    )
    first = log_monitoring(
        tracking_uri=registry, scored=scored, monitored=both, params={}, metrics={}, tables={}, figures={}
    )
    client = MlflowClient(tracking_uri=registry)
    kept = Monitored.from_tags(client.get_model_version("gigcast", "1").tags)
    assert kept is not None and kept.run_id == first and kept.coverage == both.coverage

    demand_only = Monitored(
        run_id="",
        through=both.through,
        drifted=False,
        coverage={Target.DEMAND: 0.8},
        mase_ratio={Target.DEMAND: 1.0},
    )
    tagged = scored_version(
        tracking_uri=registry, model_name="gigcast", version="1"
    ).version  # as monitor reads it
    second = log_monitoring(
        tracking_uri=registry,
        scored=tagged,
        monitored=demand_only,
        params={},
        metrics={},
        tables={},
        figures={},
    )
    tags = client.get_model_version("gigcast", "1").tags
    kept = Monitored.from_tags(tags)
    assert kept is not None and kept.run_id == second and not kept.drifted
    assert kept.coverage == {Target.DEMAND: 0.8} and kept.mase_ratio == {Target.DEMAND: 1.0}
    assert not [key for key in tags if key.startswith(TAG_PREFIX) and "rate" in key]  # no stale rate figure
    run = client.get_run(second)
    assert run.data.tags["gigcast.model_version"] == "1" and run.data.tags["gigcast.drifted"] == "false"
