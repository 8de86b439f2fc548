"""Accepted postings of earlier runs, kept on disk so that a weekly run reads only what is new.

A store is a folder of Parquet files, one per week of ``posted_at`` (``week=2026-11-09.parquet``),
holding canonical accepted postings, and ``state.json``: the source it was filled from, the
watermark (the latest ``posted_at`` stored) and the names the data gave skills the taxonomy lacks.

A run asks the database only for rows posted since the watermark less ``OVERLAP`` (rows that
arrive late), merges them in by ``posting_id`` (the newer copy wins) and trains on the whole
store: the same rows, so the same forecasts, as a full re-read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from training.data.columns import KEPT

#: How far before the watermark a run reads again, for rows written late with an earlier time.
OVERLAP = timedelta(days=7)
STATE_FILE = "state.json"


@dataclass(frozen=True)
class State:
    source: str  # the label of the source the store was filled from
    watermark: datetime  # the latest posted_at stored
    labels: dict[str, str] = field(default_factory=dict)  # skill id -> the data's name for it


class StoreError(ValueError):
    """A store that holds another source's postings, or cannot be read."""


def read_state(store: Path) -> State | None:
    """The store's state; None for a store that is new or empty."""
    path = store / STATE_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return State(raw["source"], datetime.fromisoformat(raw["watermark"]), dict(raw["labels"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"{path}: not a gigcast store state ({exc}); use --full to fill the store anew"
        ) from None


def stored(store: Path) -> pl.DataFrame:
    """Every posting in the store, oldest first."""
    files = sorted(store.glob("week=*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.read_parquet(files).sort("posted_at", "posting_id")


def merge(store: Path, *, source: str, accepted: pl.DataFrame, labels: dict[str, str]) -> State | None:
    """Put ``accepted`` into the store, each posting replacing a stored one of the same id.

    Only the weeks ``accepted`` touches are written, each to a scratch file renamed into place.
    Returns the store's state; None while it holds nothing.
    """
    store.mkdir(parents=True, exist_ok=True)
    before = read_state(store)
    if accepted.is_empty():
        return before
    ids = accepted["posting_id"]
    weeks = accepted.with_columns(week=pl.col("posted_at").dt.truncate("1w").dt.date())
    for week in sorted(set(weeks["week"].to_list()) | _weeks_holding(store, ids)):
        path = _week_file(store, week)
        old = pl.read_parquet(path).filter(~pl.col("posting_id").is_in(ids)) if path.is_file() else None
        new = weeks.filter(pl.col("week") == week).select(KEPT)
        rows = new if old is None else pl.concat([old, new], how="vertical_relaxed")
        scratch = path.with_suffix(f".{os.getpid()}")
        if rows.is_empty():
            path.unlink(missing_ok=True)
            continue
        rows.write_parquet(scratch)
        os.replace(scratch, path)
    latest = accepted["posted_at"].max()
    assert isinstance(latest, datetime)
    watermark = max(before.watermark, latest) if before else latest
    state = State(source, watermark, {**(before.labels if before else {}), **labels})
    scratch = store / f"{STATE_FILE}.{os.getpid()}"
    raw = {"source": state.source, "watermark": state.watermark.isoformat(), "labels": state.labels}
    scratch.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    os.replace(scratch, store / STATE_FILE)
    return state


def clear(store: Path) -> None:
    """Empty the store, to fill it anew."""
    for path in [*store.glob("week=*.parquet"), store / STATE_FILE]:
        path.unlink(missing_ok=True)


def _week_file(store: Path, week: date) -> Path:
    return store / f"week={week.isoformat()}.parquet"


def _weeks_holding(store: Path, ids: pl.Series) -> set[date]:
    """Weeks of the store that hold any of ``ids``: a posting whose time moved leaves its old week."""
    files = sorted(store.glob("week=*.parquet"))
    if not files:
        return set()
    holding = (
        pl.scan_parquet(files, include_file_paths="file")
        .filter(pl.col("posting_id").is_in(ids.implode()))
        .select(pl.col("file").unique())
        .collect()
    )
    return {date.fromisoformat(Path(file).stem.removeprefix("week=")) for file in holding["file"]}
