"""The store of accepted postings: weeks replaced whole, one commit point, damage found, one writer."""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.synchronize
import os
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from training.data.columns import KEPT
from training.data.database import Window
from training.data.store import (
    STATE_FILE,
    State,
    StoreBusyError,
    StoreError,
    read_state,
    stored,
    write,
    writing,
)

NOV_2, NOV_9, NOV_16 = date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)


def accepted(*rows: tuple[str, str, float]) -> pl.DataFrame:
    """Accepted postings of (posting_id, posted_at, hourly_rate)."""
    frame = pl.DataFrame(
        [
            {
                "posting_id": posting_id,
                "posted_at": datetime.fromisoformat(posted_at).replace(tzinfo=UTC),
                "skills": ["rag"],
                "hourly_rate": rate,
                "is_hourly": True,
                "budget_usd": None,
                "experience_level": "expert",
                "country": "US",
                "category": None,
            }
            for posting_id, posted_at, rate in rows
        ],
        schema_overrides={"budget_usd": pl.Float64, "category": pl.String},
    )
    return frame.select(KEPT)


def ids(store: Path) -> list[str]:
    return stored(store, read_state(store))["posting_id"].to_list()


def filled(store: Path) -> State:
    """A store read whole: a and b in the week of Nov 2, c in the week of Nov 9."""
    rows = accepted(("a", "2026-11-02", 40), ("b", "2026-11-03", 50), ("c", "2026-11-10", 60))
    with writing(store):
        state = write(
            store,
            before=None,
            source="db",
            accepted=rows,
            window=Window(),
            counts={NOV_2: 3, NOV_9: 3},
            labels={},
        )
    assert state is not None
    return state


def test_a_read_replaces_the_weeks_it_covers_whole_and_keeps_the_others(tmp_path: Path) -> None:
    store = tmp_path / "store"
    before = filled(store)
    assert before.weeks[NOV_9].read == 3 and before.weeks[NOV_9].postings == 1  # two were quarantined
    # the week of Nov 9 read again: c is gone from the source (or quarantined now), d is new and a
    # moved there from the week of Nov 2, which was not read again
    again = accepted(("a", "2026-11-11", 45), ("d", "2026-11-12", 70))
    with writing(store):
        state = write(
            store,
            before=before,
            source="db",
            accepted=again,
            window=Window(NOV_9),
            counts={NOV_2: 3, NOV_9: 2},
            labels={"x-ops": "X Ops"},
        )
    assert state is not None and read_state(store) == state
    rows = stored(store, state)
    assert rows["posting_id"].to_list() == ["b", "a", "d"]
    assert rows.filter(pl.col("posting_id") == "a")["hourly_rate"].item() == 45
    assert state.weeks[NOV_2].read == 3 and state.weeks[NOV_9].read == 2  # as the source held them
    assert state.watermark == datetime(2026, 11, 12, tzinfo=UTC) and state.labels == {"x-ops": "X Ops"}
    listed = {entry.file for entry in state.weeks.values()}
    assert {path.name for path in store.glob("week=*")} == listed  # the replaced files are gone


def test_a_week_the_source_holds_no_more_leaves_the_store(tmp_path: Path) -> None:
    store = tmp_path / "store"
    before = filled(store)
    with writing(store):
        state = write(
            store,
            before=before,
            source="db",
            accepted=accepted(("c", "2026-11-10", 60)),
            window=Window(NOV_9, frozenset({NOV_2})),
            counts={NOV_9: 1},
            labels={},
        )
    assert state is not None and set(state.weeks) == {NOV_9}
    assert ids(store) == ["c"]


def test_the_next_read_asks_again_for_each_week_whose_count_changed(tmp_path: Path) -> None:
    state = filled(tmp_path / "store")
    # the watermark is Nov 10: a week before it is in the week of Nov 2, read whole from its Monday
    assert state.window({NOV_2: 3, NOV_9: 3}) == Window(NOV_2)
    late = State("db", datetime(2026, 11, 20, tzinfo=UTC), weeks=state.weeks)
    assert late.window({NOV_2: 3, NOV_9: 3, NOV_16: 9}) == Window(NOV_9)
    assert late.window({NOV_2: 4, NOV_9: 3}) == Window(NOV_9, frozenset({NOV_2}))  # a late insert
    assert late.window({NOV_9: 3}) == Window(NOV_9, frozenset({NOV_2}))  # every row deleted
    assert late.window({date(2026, 9, 7): 1, NOV_2: 3}) == Window(NOV_9, frozenset({date(2026, 9, 7)}))


@pytest.mark.parametrize(
    "damage",
    ["missing", "empty", "other schema", "other rows"],
)
def test_a_damaged_store_says_so_and_how_to_start_again(tmp_path: Path, damage: str) -> None:
    store = tmp_path / "store"
    state = filled(store)
    victim = store / str(state.weeks[NOV_2].file)
    if damage == "missing":
        victim.unlink()
    elif damage == "empty":
        victim.write_bytes(b"")
    elif damage == "other schema":
        pl.DataFrame({"posting_id": ["a", "b"], "when": [1, 2]}).write_parquet(victim)
    else:
        accepted(("a", "2026-11-02", 40)).write_parquet(victim)
    with pytest.raises(StoreError, match=r"is damaged: week=2026-11-02\.\w+\.parquet .*use --full") as raised:
        stored(store, state)
    assert "\n" not in str(raised.value)


def test_files_the_state_does_not_list_are_not_read_and_the_next_writer_removes_leftovers(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    state = filled(store)
    stray = store / "week=2026-11-16.parquet"
    accepted(("z", "2026-11-16", 10)).write_parquet(stray)  # copied in by hand, or left by a killed write
    (store / f"{STATE_FILE}.12345").write_text("{")
    assert ids(store) == ["a", "b", "c"]
    with writing(store):
        assert not stray.exists() and not (store / f"{STATE_FILE}.12345").exists()
    assert read_state(store) == state and ids(store) == ["a", "b", "c"]


def test_a_store_of_an_earlier_layout_is_filled_anew_and_a_broken_state_is_refused(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text(json.dumps({"source": "db", "watermark": "2026-11-10T00:00:00+00:00"}))
    assert read_state(tmp_path) is None
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(StoreError, match="use --full to fill the store anew"):
        read_state(tmp_path)


def _hold(
    store: Path, ready: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event
) -> None:
    with writing(store):
        ready.set()
        done.wait(30)


def test_one_writer_at_a_time_and_the_second_is_told_who_writes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    context = multiprocessing.get_context("spawn")
    ready, done = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(store, ready, done))
    holder.start()
    try:
        assert ready.wait(30)
        with (
            pytest.raises(
                StoreBusyError, match=rf"is being written by gigcast-train pid {holder.pid} since "
            ),
            writing(store),
        ):
            pass
    finally:
        done.set()
        holder.join(30)
    with writing(store):  # the lock ends with its holder
        pass


def _write_limited(store: Path, limit: int) -> str:
    """A write in a process whose files may not grow past ``limit`` bytes: the kernel refuses it."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    before = read_state(store)
    rows = accepted(*((f"n{i}", "2026-11-17", 30.0 + i) for i in range(5000)))
    try:
        with writing(store):
            write(
                store, before=before, source="db", accepted=rows, window=Window(NOV_16), counts={}, labels={}
            )
    except StoreError as error:
        return str(error)
    return "written"


def test_a_write_the_disk_refuses_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    store = tmp_path / "store"
    state = filled(store)
    files = sorted(path.name for path in store.iterdir())
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        said = pool.apply(_write_limited, (store, 4096))
    assert said.startswith(f"{store}: could not write (") and said.endswith("; the store is as it was")
    assert sorted(path.name for path in store.iterdir()) == files  # nothing left behind
    assert read_state(store) == state and ids(store) == ["a", "b", "c"]


def _write_unsynced(store: Path) -> str:
    """A write in a process where the folder cannot be synced once ``state.json`` is replaced."""
    import errno
    import sys

    def refuse(event: str, args: tuple[object, ...]) -> None:
        if event == "open" and str(args[0]) == str(store):  # the folder, opened to sync the rename
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    before = read_state(store)
    sys.addaudithook(refuse)
    rows = accepted(("n", "2026-11-17", 30.0))
    try:
        with writing(store):
            write(
                store, before=before, source="db", accepted=rows, window=Window(NOV_16), counts={}, labels={}
            )
    except (OSError, StoreError) as error:
        return str(error)
    return "written"


def test_a_commit_that_cannot_be_synced_keeps_the_files_its_state_lists(tmp_path: Path) -> None:
    store = tmp_path / "store"
    filled(store)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        said = pool.apply(_write_unsynced, (store,))
    assert "Input/output error" in said
    assert ids(store) == ["a", "b", "c", "n"]  # never damaged: the new state and its files
