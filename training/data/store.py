"""Accepted postings of earlier runs, kept on disk so that a weekly run reads only what changed.

A store is a folder of Parquet files, one per week of ``posted_at``, holding that week's accepted
postings, and ``state.json``, which lists those files with their row counts. ``state.json`` is
the store's one commit point: a write puts new week files beside the old ones, then replaces
``state.json`` in one step, then removes the files no longer listed. A writer killed at any
moment leaves the store as it was before the write or as it is after it, never part of each; a
listed file that is missing or holds other rows makes the store damaged, never quietly thinner.
Files the state does not list are not read (the next writer removes its predecessors' leftovers).

The state also keeps, per week, how many rows the source held in that week when it was read:
a run compares those counts with the source's own and reads again every week that differs, so
the store follows rows inserted late, deleted, or moved to another week (see ``Window``).

One writer at a time: :func:`writing` holds a lock on the folder for the whole of a write.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from gigcast.weeks import monday_of
from training.data.columns import KEPT
from training.data.database import Window
from training.data.panels import WEEK, week_of

#: How far before the watermark a run reads every row again, for rows corrected in place.
OVERLAP = timedelta(days=7)
STATE_FILE = "state.json"
LOCK_FILE = "writer.lock"
#: The layout of ``state.json``; a store of an earlier layout is filled anew.
FORMAT = 2
_WEEK_FILES = "week=*.parquet"


class StoreError(ValueError):
    """A store that holds another source's postings, is damaged, or cannot be written."""


class StoreBusyError(StoreError):
    """Another process is writing the store."""


@dataclass(frozen=True)
class Week:
    """One week of the store."""

    file: str | None  # the file of its accepted postings; None when none was accepted
    postings: int  # rows in that file
    read: int  # rows the source held in the week when it was last read, accepted or not


@dataclass(frozen=True)
class State:
    source: str  # the label of the source the store was filled from
    watermark: datetime  # the latest posted_at stored
    labels: dict[str, str] = field(default_factory=dict)  # skill id -> the data's name for it
    weeks: dict[date, Week] = field(default_factory=dict)

    def window(self, counts: dict[date, int]) -> Window:
        """What to read next: the weeks from the watermark less ``OVERLAP`` on, and every earlier
        week whose count of rows in the source (``counts``) is not the one read last time."""
        since = monday_of((self.watermark - OVERLAP).date())
        recorded = {week: entry.read for week, entry in self.weeks.items()}
        changed = {
            week
            for week in recorded.keys() | counts.keys()
            if week < since and recorded.get(week, 0) != counts.get(week, 0)
        }
        return Window(since, frozenset(changed))


def read_state(store: Path) -> State | None:
    """The store's state; None for a store that is new, or was written by an earlier gigcast."""
    path = store / STATE_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") is None:  # before the state listed its files: filled anew
            return None
        if raw["format"] != FORMAT:
            raise ValueError(f"layout {raw['format']}, not {FORMAT}")
        return State(
            source=raw["source"],
            watermark=datetime.fromisoformat(raw["watermark"]),
            labels=dict(raw["labels"]),
            weeks={date.fromisoformat(week): Week(**entry) for week, entry in raw["weeks"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(
            f"{path}: not a gigcast store state ({exc}); use --full to fill the store anew"
        ) from None


@contextlib.contextmanager
def writing(store: Path) -> Iterator[None]:
    """Hold the store's writer lock, or raise StoreBusyError naming the process that holds it.

    The lock is the kernel's (``flock``): it ends with its process, however that ends.
    """
    store.mkdir(parents=True, exist_ok=True)
    with (store / LOCK_FILE).open("a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise StoreBusyError(f"{store} is being written by {holder}; run again when it ends") from None
        lock.truncate(0)
        lock.write(f"gigcast-train pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
        lock.flush()
        # Leftovers of a killed writer go; a state that cannot be read, or of an earlier layout,
        # keeps every file until a new state replaces it.
        with contextlib.suppress(StoreError):
            state = read_state(store)
            if state is not None or not (store / STATE_FILE).exists():
                _remove_unlisted(store, state)
        yield


def stored(store: Path, state: State | None) -> pl.DataFrame:
    """Every posting of the store, oldest first; StoreError when a listed file is missing or wrong."""
    if state is None:
        return pl.DataFrame()
    frames = [_week_rows(store, week, entry) for week, entry in sorted(state.weeks.items()) if entry.file]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical_relaxed").sort("posted_at", "posting_id")


def write(
    store: Path,
    *,
    before: State | None,
    source: str,
    accepted: pl.DataFrame,
    window: Window,
    counts: dict[date, int],
    labels: dict[str, str],
) -> State | None:
    """Put a read of ``window`` into the store and commit it; the new state (None: nothing stored).

    Every week the window covers is replaced by the rows ``accepted`` holds for it: a row deleted
    from the source, or quarantined since, leaves the store. A posting read again under another
    week leaves the week it was in. ``counts`` are the source's rows per week, as read. Call it
    inside :func:`writing`. A write that fails (a full disk) leaves the store as it was.
    """
    read = accepted.select(KEPT).with_columns(week_of())
    kept = {} if before is None else {w: e for w, e in before.weeks.items() if not window.covers(w)}
    left = _weeks_holding(store, kept, read["posting_id"])  # kept weeks holding a posting read again
    weeks = dict(kept)
    for week in window.weeks | {w for w in counts if window.covers(w)}:
        weeks[week] = Week(None, 0, counts.get(week, 0))
    written: list[Path] = []
    try:
        for week in sorted(set(read[WEEK].unique()) | left):
            rows = read.filter(pl.col(WEEK) == week).drop(WEEK)
            if week in left:
                old = _week_rows(store, week, kept[week]).filter(
                    ~pl.col("posting_id").is_in(read["posting_id"])
                )
                rows = pl.concat([old, rows], how="vertical_relaxed")
            recorded = weeks.get(week, Week(None, 0, counts.get(week, 0))).read
            if rows.is_empty():
                weeks[week] = Week(None, 0, recorded)
                continue
            path = store / f"week={week.isoformat()}.{secrets.token_hex(4)}.parquet"
            written.append(path)
            _write_durably(path, rows)
            weeks[week] = Week(path.name, rows.height, recorded)
        weeks = {week: entry for week, entry in weeks.items() if entry.file or entry.read}
        latest = read["posted_at"].max()
        if before is not None and window.since is not None:
            latest = max(before.watermark, latest) if isinstance(latest, datetime) else before.watermark
        if not isinstance(latest, datetime):
            return None
        state = State(source, latest, {**(before.labels if before else {}), **labels}, weeks)
        _commit(store, state)
    except Exception as exc:
        for path in written:
            path.unlink(missing_ok=True)
        if not isinstance(exc, OSError | pl.exceptions.ComputeError):  # polars says so of a failed write
            raise
        problem = exc.strerror if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise StoreError(f"{store}: could not write ({problem}); the store is as it was") from None
    # From here the state lists the new files: a failure must not take them back.
    _sync_folder(store)  # the rename on disk before the files it replaced go
    _remove_unlisted(store, state)
    return state


def _week_rows(store: Path, week: date, entry: Week) -> pl.DataFrame:
    """The rows of one listed week, checked against what the state says of them."""
    path = store / str(entry.file)
    try:
        rows = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        problem = "is missing" if not path.exists() else f"cannot be read ({str(exc).splitlines()[0]})"
        raise StoreError(f"{store} is damaged: {path.name} {problem}; use --full to fill it anew") from None
    if rows.columns != list(KEPT) or rows.height != entry.postings:
        raise StoreError(
            f"{store} is damaged: {path.name} holds {rows.height} rows of columns {', '.join(rows.columns)}, "
            f"not the {entry.postings} postings of week {week} it should; use --full to fill it anew"
        )
    return rows


def _weeks_holding(store: Path, weeks: dict[date, Week], ids: pl.Series) -> set[date]:
    """Those of ``weeks`` whose file holds any of ``ids``."""
    files = {entry.file: week for week, entry in weeks.items() if entry.file}
    if not files or ids.is_empty():
        return set()
    holding = (
        pl.scan_parquet([store / name for name in files], include_file_paths="file")
        .filter(pl.col("posting_id").is_in(ids.implode()))
        .select(pl.col("file").unique())
        .collect()
    )
    return {files[Path(file).name] for file in holding["file"]}


def _write_durably(path: Path, rows: pl.DataFrame) -> None:
    """Write ``rows`` and have them on disk before anything lists the file."""
    with path.open("xb") as file:
        rows.write_parquet(file)
        file.flush()
        os.fsync(file.fileno())


def _commit(store: Path, state: State) -> None:
    """Replace ``state.json`` in one step: from here on the store is the one ``state`` lists."""
    raw = {
        "format": FORMAT,
        "source": state.source,
        "watermark": state.watermark.isoformat(),
        "labels": state.labels,
        "weeks": {week.isoformat(): asdict(entry) for week, entry in sorted(state.weeks.items())},
    }
    scratch = store / f"{STATE_FILE}.{os.getpid()}"
    with scratch.open("w", encoding="utf-8") as file:
        json.dump(raw, file, indent=2)
        file.flush()
        os.fsync(file.fileno())
    os.replace(scratch, store / STATE_FILE)


def _sync_folder(store: Path) -> None:
    folder = os.open(store, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself on disk
    finally:
        os.close(folder)


def _remove_unlisted(store: Path, state: State | None) -> None:
    """Week files ``state`` does not list, and scratch states: what an interrupted write left."""
    listed = {entry.file for entry in state.weeks.values()} if state else set()
    for path in [*store.glob(_WEEK_FILES), *store.glob(f"{STATE_FILE}.*")]:
        if path.name not in listed:
            path.unlink(missing_ok=True)
