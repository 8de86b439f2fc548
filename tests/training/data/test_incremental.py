"""A real PostgreSQL table read through a store: the store follows the table, and a writer killed
at any step of a refill or of a merge leaves a store that is whole, never part of two."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import adbc_driver_postgresql.dbapi
import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from gigcast.taxonomy import Taxonomy, load_taxonomy
from tests.conftest import END
from training.data import incremental
from training.data.database import DatabaseError, DatabaseSource
from training.data.ingest import ingest
from training.data.store import read_state, stored, writing
from training.data.synth import synthesize


@pytest.fixture(scope="module")
def market() -> pl.DataFrame:
    """Six weeks of three skills, with times as a database keeps them."""
    postings = synthesize(skills=3, weeks=6, end=END, seed=4, messy=0.0).postings
    return postings.with_columns(pl.col("posted_at").str.to_datetime(time_zone="UTC"))


@pytest.fixture
def table(database: str, market: pl.DataFrame) -> DatabaseSource:
    with adbc_driver_postgresql.dbapi.connect(database) as connection:
        market.write_database("postings", connection, engine="adbc")
    return DatabaseSource(uri=database, table="postings")


def execute(source: DatabaseSource, *statements: str) -> None:
    with psycopg.connect(source.uri) as connection:
        for statement in statements:
            connection.execute(statement)


def refresh(
    store: Path, source: DatabaseSource, taxonomy: Taxonomy, *, full: bool = False
) -> incremental.Plan:
    """What ``gigcast-train run --store`` does before it trains."""
    with writing(store):
        plan = incremental.plan(store, source, columns={}, full=full)
        incremental.commit(store, plan, ingest([plan.source], taxonomy=taxonomy), taxonomy=taxonomy)
    return plan


def assert_as_a_full_read(store: Path, source: DatabaseSource, taxonomy: Taxonomy) -> None:
    whole = ingest([source], taxonomy=taxonomy).accepted.sort("posting_id")
    assert_frame_equal(stored(store, read_state(store)).sort("posting_id"), whole)


def monday(moment: datetime) -> date:
    return moment.date() - timedelta(days=moment.weekday())


def change(source: DatabaseSource, market: pl.DataFrame) -> set[date]:
    """What a platform's table goes through between two runs, far from the newest rows too.

    Returns the weeks before the newest two whose count of rows changed.
    """
    by_time = market.sort("posted_at")
    rated = by_time.filter(pl.col("hourly_rate").is_not_null())
    newest, deleted, moved = rated["posting_id"][-1], by_time.row(0, named=True), by_time.row(100, named=True)
    late = by_time.tail(3).with_columns(pl.col("posted_at") - timedelta(days=20))
    copy = (
        "INSERT INTO postings SELECT '{prefix}' || posting_id, posted_at {shift}, title, skills, category, "
        "is_hourly, hourly_rate, hourly_rate_min, hourly_rate_max, budget_usd, experience_level, country "
        "FROM postings ORDER BY posted_at DESC LIMIT {n}"
    )
    execute(
        source,
        # corrected to a rate out of range in the newest week: quarantined now, so it must leave
        f"UPDATE postings SET hourly_rate = 9000 WHERE posting_id = '{newest}'",
        f"DELETE FROM postings WHERE posting_id = '{deleted['posting_id']}'",  # in the first week
        # posted_at corrected 60 days earlier, before anything read so far
        "UPDATE postings SET posted_at = posted_at - interval '60 days' "
        f"WHERE posting_id = '{moved['posting_id']}'",
        copy.format(prefix="late-", shift="- interval '20 days'", n=3),  # written late
        copy.format(prefix="new-", shift="+ interval '7 days'", n=20),  # and a new week
    )
    return {
        monday(deleted["posted_at"]),
        monday(moved["posted_at"]),
        monday(moved["posted_at"] - timedelta(days=60)),
        *(monday(t) for t in late["posted_at"]),
    }


def test_the_store_follows_updates_deletes_moves_and_late_rows(
    table: DatabaseSource, market: pl.DataFrame, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    first = refresh(store, table, taxonomy)
    assert first.before is None and first.source == table  # a new store reads everything
    assert_as_a_full_read(store, table, taxonomy)

    changed = change(table, market)
    again = refresh(store, table, taxonomy)
    assert again.before is not None and again.window.since is not None
    assert again.window.weeks == changed and len(changed) == 4
    assert_as_a_full_read(store, table, taxonomy)
    read = ingest([again.source], taxonomy=taxonomy)
    assert read.rows < ingest([table], taxonomy=taxonomy).rows  # only those weeks were read


def test_a_text_posted_at_is_refused_before_anything_is_stored(
    table: DatabaseSource, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    execute(table, "ALTER TABLE postings ALTER COLUMN posted_at TYPE text")
    store = tmp_path / "store"
    with pytest.raises(DatabaseError, match=r"posted_at \(posted_at\) is text; .* cast it in --query"):
        refresh(store, table, taxonomy)
    assert read_state(store) is None
    typed = DatabaseSource(uri=table.uri, query="SELECT *, posted_at::timestamptz AS posted FROM postings")
    with writing(store):
        plan = incremental.plan(store, typed, columns={"posted_at": "posted"}, full=False)
    assert sum(plan.counts.values()) == ingest([table], taxonomy=taxonomy).rows


# --- a writer killed at every step --------------------------------------------------------------


def _killed_at(step: int, store: Path, source: DatabaseSource, full: bool) -> None:
    """``refresh`` in a process that kills itself before its ``step``-th change to the store's files."""
    seen = 0

    def count(event: str, args: tuple[object, ...]) -> None:
        nonlocal seen
        writes = event == "open" and isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR)
        if (writes or event in ("os.rename", "os.remove")) and str(args[0]).startswith(str(store)):
            seen += 1
            if seen == step:
                os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(count)
    refresh(store, source, load_taxonomy(), full=full)


@pytest.mark.parametrize("full", [True, False], ids=["refill", "merge"])
def test_a_writer_killed_at_any_step_leaves_a_whole_store(
    table: DatabaseSource, market: pl.DataFrame, taxonomy: Taxonomy, tmp_path: Path, full: bool
) -> None:
    original = tmp_path / "original"
    refresh(original, table, taxonomy)
    before = stored(original, read_state(original)).sort("posting_id")
    change(table, market)
    after = ingest([table], taxonomy=taxonomy).accepted.sort("posting_id")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # each writer forks with its imports done
    step, left = 0, {}  # the last store killed before the commit, and after it: the most left behind
    while True:
        step += 1
        store = tmp_path / f"killed-{step}"
        shutil.copytree(original, store)
        writer = context.Process(target=_killed_at, args=(step, store, table, full))
        writer.start()
        writer.join(120)
        if writer.exitcode == 0:  # no step left to kill it at
            break
        assert writer.exitcode == -signal.SIGKILL
        whole = stored(store, read_state(store)).sort("posting_id")  # never damaged
        assert whole.equals(before) or whole.equals(after), f"killed at step {step}"
        left["before" if whole.equals(before) else "after"] = store
    assert step > 5 and set(left) == {"before", "after"}
    for store in left.values():  # the next plain run finds a whole store and clears what was left
        refresh(store, table, taxonomy)
        assert stored(store, read_state(store)).sort("posting_id").equals(after)
        state = read_state(store)
        assert state is not None
        listed = {entry.file for entry in state.weeks.values() if entry.file}
        assert {path.name for path in store.glob("week=*")} == listed
