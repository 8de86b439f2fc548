"""The whole training job against a real MLflow registry (SQLite): what it reports on the way and returns."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import adbc_driver_postgresql.dbapi
import polars as pl
import psycopg
import pytest
from mlflow import MlflowClient
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from gigcast.settings import CHAMPION_ALIAS
from gigcast.taxonomy import Taxonomy
from gigcast.weeks import monday_of
from training.cli import app
from training.data.database import DatabaseSource
from training.data.store import OVERLAP, writing
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


def test_a_store_reads_what_changed_and_forecasts_as_a_full_read_does(
    database: str, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    market = synthesize(skills=4, weeks=30, seed=5, messy=0.0).postings.with_columns(
        pl.col("posted_at").str.to_datetime(time_zone="UTC")  # a database keeps times as times
    )
    last_week = market["posted_at"].max().replace(hour=0, minute=0, second=0) - timedelta(days=6)  # type: ignore[union-attr]
    # two aliases of one skill that the data holds apart, and newer weeks that name only one
    row = pl.int_range(pl.len())
    market = market.with_columns(
        skills=pl.when(row % 7 == 0)
        .then(pl.lit("MySQL"))
        .when(
            (row % 11 == 0)
            & pl.col("posted_at").is_between(last_week - timedelta(weeks=12), last_week - timedelta(weeks=3))
        )
        .then(pl.lit("PostgreSQL"))
        .otherwise("skills")
    )
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

    # a new week arrives, and older rows change: one deleted, one moved 60 days earlier, the
    # newest rate corrected out of range (quarantined now)
    with adbc_driver_postgresql.dbapi.connect(database) as connection:
        late.write_database("postings", connection, engine="adbc", if_table_exists="append")
    old, moved = earlier["posting_id"][100], earlier["posting_id"][200]
    newest = earlier.filter(pl.col("hourly_rate").is_not_null()).sort("posted_at")["posting_id"][-1]
    with psycopg.connect(database) as connection:
        connection.execute(f"DELETE FROM postings WHERE posting_id = '{old}'")
        connection.execute(
            f"UPDATE postings SET posted_at = posted_at - interval '60 days' WHERE posting_id = '{moved}'"
        )
        connection.execute(f"UPDATE postings SET hourly_rate = 9000 WHERE posting_id = '{newest}'")
    second = run_job(config)
    held = market.height - 1
    since = monday_of((earlier["posted_at"].max() - OVERLAP).date())  # type: ignore[operator]
    assert second.ingested.rows < held  # the weeks that changed, and the newest
    params = MlflowClient(tracking_uri=uri).get_run(second.registered.run_id).data.params
    assert params["read_since"] == since.isoformat() and params["read_weeks_changed"] == "3"
    assert params["store_postings"] == str(held - 1)

    full = run_job(replace(config, store=None))
    assert full.ingested.rows == held
    assert {"mysql", "postgresql"} <= set(second.trained.bundle.skills["skill"])
    assert second.trained.bundle.manifest.postings_per_week == full.trained.bundle.manifest.postings_per_week
    for table in ("demand", "demand_totals", "rates", "rate_cells", "premiums", "skills"):
        # the same rows in another order: sums may differ in their last bits, nothing more
        assert_frame_equal(second.trained.bundle.table(table), full.trained.bundle.table(table), rel_tol=1e-9)


def test_a_store_another_run_is_writing_is_refused_in_one_line(database: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    flags = ["run", "--data", database, "--table", "postings", "--store", str(store), "--quiet"]
    with writing(store):
        result = CliRunner().invoke(app, flags, env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}"})
    assert result.exit_code == 1
    assert f"{store} is being written by gigcast-train pid {os.getpid()} since " in result.output
    assert "run again when it ends" in result.output and "Traceback" not in result.output


def test_a_run_on_less_of_the_champions_data_is_not_promoted_however_it_scores(
    taxonomy: Taxonomy, tmp_path: Path
) -> None:
    market = synthesize(skills=3, weeks=24, seed=6, messy=0.0).postings
    whole, thinned = tmp_path / "whole.parquet", tmp_path / "thinned.parquet"
    market.write_parquet(whole)
    week = pl.col("posted_at").str.to_datetime(time_zone="UTC").dt.truncate("1w")
    weeks = market.select(week.unique().sort()).to_series()
    lost = weeks.gather(range(2, weeks.len() - 2, 2))  # every other week, as a half-filled store
    market.filter(~week.is_in(lost.implode())).write_parquet(thinned)
    config = JobConfig(
        sources=[whole],
        taxonomy=taxonomy,
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        train=TrainConfig(horizon=4, workers=1),
    )
    assert run_job(config).promoted
    done = run_job(replace(config, sources=[thinned]))
    assert done.verdict.basis is Basis.LESS_DATA and not done.promoted and done.champion_before == "1"
    assert f"({lost.len()} of them missing)" in done.verdict.reason
