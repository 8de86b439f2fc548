"""The store of accepted postings: merged by posting_id, by week, with its watermark."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from training.data.columns import KEPT
from training.data.store import StoreError, merge, read_state, stored


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


def test_merging_replaces_by_posting_id_and_keeps_the_latest_time(tmp_path: Path) -> None:
    store = tmp_path / "store"
    merge(store, source="db", accepted=accepted(("a", "2026-11-02", 40), ("b", "2026-11-10", 50)), labels={})
    state = merge(
        store,
        source="db",
        # b corrected and moved a week earlier; c is new
        accepted=accepted(("b", "2026-11-03", 55), ("c", "2026-11-17", 60)),
        labels={"x-ops": "X Ops"},
    )
    rows = stored(store)
    assert rows["posting_id"].to_list() == ["a", "b", "c"]
    assert rows.filter(pl.col("posting_id") == "b")["hourly_rate"].item() == 55
    assert sorted(p.name for p in store.glob("week=*")) == [
        "week=2026-11-02.parquet",
        "week=2026-11-16.parquet",
    ]
    assert state.watermark == datetime(2026, 11, 17, tzinfo=UTC) and state.labels == {"x-ops": "X Ops"}
    assert read_state(store) == state


def test_a_state_that_cannot_be_read_says_how_to_start_again(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(StoreError, match="use --full to fill the store anew"):
        read_state(tmp_path)
