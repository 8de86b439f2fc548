"""The whole training job against a real MLflow registry (SQLite): what it reports on the way and returns."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import adbc_driver_postgresql.dbapi
import polars as pl
import pytest
from mlflow import MlflowClient
from polars.testing import assert_frame_equal

from gigcast.settings import CHAMPION_ALIAS
from gigcast.taxonomy import Taxonomy
from training.data.database import DatabaseSource
from training.data.store import OVERLAP
from training.data.synth import synthesize
from training.job import Hooks, JobConfig, run_job
from training.pipeline import TrainConfig, TrainingError
from training.registry.promotion import Basis
from training.registry.tracking import skill_metrics


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A market with about 5% of its rows broken as real exports are."""
    path = tmp_path / "postings.parquet"
    synthesize(skills=4, weeks=30, seed=5, messy=0.05).postings.write_parquet(path)
    return path


def test_the_job_trains_registers_promotes_and_says_so_on_the_way(
    messy: Path, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    said: list[tuple[str, object]] = []
    hooks = Hooks(
        closed=lambda run_id: said.append(("closed", run_id)),
        reading=lambda paths: said.append(("reading", list(paths))),
        read=lambda result: said.append(("read", result.rows)),
        fitting=lambda n: said.append(("fitting", n)),
        fitted=lambda n: said.append(("fitted", n)),
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    quarantine = tmp_path / "out" / "quarantine.csv"
    config = JobConfig(
        sources=[messy],
        taxonomy=taxonomy,
        tracking_uri=uri,
        quarantine=quarantine,
        train=TrainConfig(horizon=8, workers=1),
    )
    done = run_job(config, hooks=hooks)

    assert [what for what, _ in said[:3]] == ["reading", "read", "fitting"]
    assert said[0][1] == [messy] and said[1][1] == done.ingested.rows
    series = said[2][1]
    assert series and sum(n for what, n in said if what == "fitted") == series  # type: ignore[misc]
    assert 0 < done.ingested.quarantined.height == pl.read_csv(quarantine).height
    assert done.promoted and done.verdict.basis is Basis.NO_CHAMPION and done.champion_before is None
    client = MlflowClient(tracking_uri=uri)
    assert (
        str(client.get_model_version_by_alias("gigcast", CHAMPION_ALIAS).version) == done.registered.version
    )
    run = client.get_run(done.registered.run_id)
    assert run.data.metrics["ingest_rows"] == done.ingested.rows
    per_skill = skill_metrics(done.trained.scores)
    assert per_skill and {key: run.data.metrics[key] for key in per_skill} == per_skill
    # the logged model carries the run's headline figures, not one per skill
    (model,) = client.search_logged_models(experiment_ids=[run.info.experiment_id])
    linked = {metric.key for metric in model.metrics or []}
    assert "demand_mase" in linked and not linked & set(per_skill)
    assert run.data.params["targets"] == "every target the data holds"
    assert run.data.tags["gigcast.promoted"] == "true"


def test_too_much_quarantined_stops_the_job_before_anything_is_logged(
    messy: Path, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = JobConfig(sources=[messy], taxonomy=taxonomy, tracking_uri=uri, max_rejected=0.01)
    with pytest.raises(TrainingError, match=r"of rows were quarantined, more than --max-rejected 1%"):
        run_job(config)
    assert MlflowClient(tracking_uri=uri).search_registered_models() == []


def test_a_store_reads_only_new_rows_and_forecasts_as_a_full_read_does(
    database: str, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    market = synthesize(skills=4, weeks=30, seed=5, messy=0.0).postings.with_columns(
        pl.col("posted_at").str.to_datetime(time_zone="UTC")  # a database keeps times as times
    )
    last_week = market["posted_at"].max().replace(hour=0, minute=0, second=0) - timedelta(days=6)  # type: ignore[union-attr]
    earlier, late = (
        market.filter(pl.col("posted_at") < last_week),
        market.filter(pl.col("posted_at") >= last_week),
    )
    with adbc_driver_postgresql.dbapi.connect(database) as connection:
        earlier.write_database("postings", connection, engine="adbc")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    source = DatabaseSource(uri=database, table="postings")
    config = JobConfig(
        sources=[source],
        taxonomy=taxonomy,
        tracking_uri=uri,
        store=tmp_path / "store",
        train=TrainConfig(horizon=4, workers=1),
    )
    first = run_job(config)
    assert first.ingested.rows == earlier.height

    with adbc_driver_postgresql.dbapi.connect(database) as connection:
        late.write_database("postings", connection, engine="adbc", if_table_exists="append")
    second = run_job(config)
    since = earlier["posted_at"].max() - OVERLAP  # type: ignore[operator]
    assert second.ingested.rows == market.filter(pl.col("posted_at") >= since).height < market.height
    params = MlflowClient(tracking_uri=uri).get_run(second.registered.run_id).data.params
    assert params["read_since"] == since.isoformat() and params["store_postings"] == str(market.height)

    full = run_job(replace(config, store=None))
    assert full.ingested.rows == market.height
    for table in ("demand", "demand_totals", "rates", "rate_cells", "premiums", "skills"):
        # the same rows in another order: sums may differ in their last bits, nothing more
        assert_frame_equal(second.trained.bundle.table(table), full.trained.bundle.table(table), rel_tol=1e-9)
