"""Shared fixtures: a small real market and a model trained on it with real Prophet fits."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from gigcast.bundle import write_bundle
from gigcast.lookup import ForecastIndex
from gigcast.taxonomy import Taxonomy, load_taxonomy
from service.store import LoadedModel
from training.data.ingest import ingest
from training.data.synth import synthesize
from training.pipeline import TrainConfig, Trained, train
from training.registry.tracking import log_training

END = date(2026, 11, 15)  # a Sunday: the market's last week starts Monday 2026-11-09
SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="session")
def small_market() -> pl.DataFrame:
    """Six skills over 40 weeks, one of them launched late."""
    return synthesize(skills=6, weeks=40, end=END, seed=11, messy=0.0).postings


@pytest.fixture(scope="session")
def trained(
    small_market: pl.DataFrame, taxonomy: Taxonomy, tmp_path_factory: pytest.TempPathFactory
) -> Trained:
    path = tmp_path_factory.mktemp("market") / "postings.parquet"
    small_market.write_parquet(path)
    accepted = ingest([path], taxonomy=taxonomy).accepted
    return train(accepted, taxonomy=taxonomy, config=TrainConfig(horizon=12, workers=1))


@pytest.fixture(scope="session")
def model(trained: Trained) -> LoadedModel:
    return LoadedModel(
        name="gigcast", version="1", alias="champion", run_id="run", index=ForecastIndex(trained.bundle)
    )


@pytest.fixture(scope="session")
def short_model(trained: Trained, model: LoadedModel) -> LoadedModel:
    """The model cut to its first four weeks, as one trained with ``--horizon 4`` would hold."""
    bundle, weeks = trained.bundle, 4
    last = bundle.manifest.first_forecast_week + timedelta(weeks=weeks - 1)
    cut = {
        name: bundle.table(name).filter(pl.col("week_start") <= last)
        for name in ("demand", "demand_totals", "rates")
    }
    short = replace(bundle, manifest=replace(bundle.manifest, horizon_weeks=weeks), **cut)
    return replace(model, index=ForecastIndex(short))


def register(uri: str, trained: Trained, folder: Path, *, damaged: bool = False) -> str:
    """A version of ``trained``'s bundle in the registry at ``uri``; with a junk table when damaged."""
    bundle = write_bundle(trained.bundle, folder / "bundle")  # the pyfunc keeps the folder's name
    if damaged:
        (bundle / "rates.parquet").write_bytes(b"junk")
    return log_training(
        tracking_uri=uri,
        model_name="gigcast",
        bundle_dir=bundle,
        params={},
        metrics=trained.metrics,
        tables={"scores": trained.scores, "holdout": trained.holdout},  # what monitoring scores it by
        figures={},
        example_skill=trained.bundle.skills["skill"][0],
    ).version


#: Where the tests find PostgreSQL; GIGCAST_REQUIRE_POSTGRES=1 (set by CI) fails them instead of
#: skipping when it is not there.
POSTGRES = os.environ.get("GIGCAST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@pytest.fixture(scope="session")
def postgres() -> str:
    """The PostgreSQL server's URI without a database; skips (or fails in CI) when it is down."""
    import psycopg

    try:
        psycopg.connect(f"{POSTGRES}/postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        why = f"no PostgreSQL at {POSTGRES}: {str(exc).strip().splitlines()[0]}"
        if os.environ.get("GIGCAST_REQUIRE_POSTGRES") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return POSTGRES


@pytest.fixture
def database(postgres: str) -> Iterator[str]:
    """A database of its own for one test, dropped after it: its URI."""
    import psycopg

    name = f"gigcast_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{postgres}/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
