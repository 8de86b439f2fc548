"""Shared fixtures: a small real market and a model trained on it with real Prophet fits."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
import uuid
from collections.abc import Callable, Iterator
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
from training.registry.tracking import log_training, skill_metrics

END = date(2026, 11, 15)  # a Sunday: the market's last week starts Monday 2026-11-09
SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


@pytest.fixture(scope="session")
def small_market() -> pl.DataFrame:
    """Six skills over 40 weeks, one of them launched late."""
    return synthesize(skills=6, weeks=40, end=END, seed=11, messy=0.0).postings


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that ``build`` fills once in a test run, however many pytest-xdist workers ask.

    Without workers it is a new folder of the session. With them, it is in the folder their
    sessions share: the first to ask builds it while the others wait on a lock, then reuse it.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # this run's: popen-gw0, popen-gw1 and so on are in it
    folder, built = shared / name, shared / f"{name}.built"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not built.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a worker that failed building left
            folder.mkdir()
            build(folder)
            built.touch()
    return folder


@pytest.fixture(scope="session")
def trained(
    small_market: pl.DataFrame, taxonomy: Taxonomy, tmp_path_factory: pytest.TempPathFactory
) -> Trained:
    """The small market trained in process with real fits, once a test run (pickled for its workers)."""

    def fit(folder: Path) -> None:
        path = folder / "postings.parquet"
        small_market.write_parquet(path)
        accepted = ingest([path], taxonomy=taxonomy).accepted
        done = train(accepted, taxonomy=taxonomy, config=TrainConfig(horizon=12, workers=1))
        (folder / "trained.pickle").write_bytes(pickle.dumps(done))

    folder = built_once(tmp_path_factory, "market", fit)
    done: Trained = pickle.loads((folder / "trained.pickle").read_bytes())
    return done


def skills_with_postings(index: ForecastIndex) -> list[str]:
    """Ids of the skills with postings in the weeks the index's model was trained on, in order;
    every other skill of the taxonomy answers too, from its category's data."""
    return [skill for skill, entry in index.skills.items() if entry.weeks_of_history]


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
        example_skill=skills_with_postings(ForecastIndex(trained.bundle))[0],
        skill_figures=skill_metrics(trained.scores),  # each skill's backtest, as gigcast-train logs it
    ).version


#: The test modules that serve copies of the end-to-end tests' trained market (tests/e2e/conftest.py).
TRAINED_MARKET_MODULES = frozenset(
    f"tests/e2e/test_{name}.py" for name in ("end_to_end", "faults", "hot_swap", "soak", "workers")
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """``-n 2 --dist loadfile`` (make test): each file's tests on one worker, in their order, and
    the files of ``TRAINED_MARKET_MODULES`` on one worker together, which trains the market they
    share while the other worker runs other files, instead of waiting for it."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return "the trained market's files" if file in TRAINED_MARKET_MODULES else file

    return Scheduling(config, log)


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
