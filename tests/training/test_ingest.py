from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from gigcast.taxonomy import Taxonomy
from training.ingest import IngestError, ingest

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def write(tmp_path: Path, rows: list[dict[str, object]], suffix: str = ".csv") -> Path:
    path = tmp_path / f"postings{suffix}"
    frame = pl.DataFrame(rows)
    frame.write_csv(path) if suffix == ".csv" else frame.write_parquet(path)
    return path


def test_every_row_is_accepted_or_quarantined_with_its_reason(tmp_path: Path, taxonomy: Taxonomy) -> None:
    rows = [
        {
            "posting_id": "1",
            "posted_at": "2026-11-02T10:00:00Z",
            "skills": "Prompt Engineering;SQL",
            "hourly_rate": "45",
            "experience_level": "Expert",
            "country": "Poland",
        },
        {
            "posting_id": "2",
            "posted_at": "not a date",
            "skills": "SQL",
            "hourly_rate": "",
            "experience_level": "",
            "country": "",
        },
        {
            "posting_id": "3",
            "posted_at": "2026-11-03",
            "skills": "SQL",
            "hourly_rate": "950000",
            "experience_level": "",
            "country": "",
        },
        {
            "posting_id": "1",
            "posted_at": "2026-11-03",
            "skills": "SQL",
            "hourly_rate": "",
            "experience_level": "",
            "country": "",
        },
        {
            "posting_id": "5",
            "posted_at": "2027-01-01",
            "skills": "SQL",
            "hourly_rate": "",
            "experience_level": "",
            "country": "",
        },
        {
            "posting_id": "6",
            "posted_at": "2026-11-03",
            "skills": "",
            "hourly_rate": "",
            "experience_level": "",
            "country": "",
        },
        {
            "posting_id": "7",
            "posted_at": "2026-11-03",
            "skills": "SQL",
            "hourly_rate": "lots",
            "experience_level": "guru",
            "country": "Narnia",
        },
        {
            "posting_id": "8",
            "posted_at": "2026-11-03",
            "skills": "SQL",
            "hourly_rate": "$30",
            "experience_level": "Entry level",
            "country": "Narnia",
        },
    ]
    result = ingest(write(tmp_path, rows), taxonomy=taxonomy, now=NOW)
    assert result.rows == len(rows) == result.accepted.height + result.quarantined.height
    reasons = dict(zip(result.quarantined["posting_id"], result.quarantined["reason"], strict=True))
    assert reasons == {
        "2": "unparseable_posted_at",
        "3": "rate_out_of_range",
        "1": "duplicate_posting_id",
        "5": "posted_at_in_future",
        "6": "no_skill",
        "7": "rate_not_a_number",
    }
    assert result.quarantined.filter(pl.col("posting_id") == "7")["row_number"].item() == 7
    first = result.accepted.filter(pl.col("posting_id") == "1").row(0, named=True)
    assert first["skills"] == ["prompt-engineering", "sql"]
    assert first["experience_level"] == "expert"
    assert first["country"] == "PL"
    assert first["hourly_rate"] == 45.0
    eight = result.accepted.filter(pl.col("posting_id") == "8").row(0, named=True)
    assert (eight["hourly_rate"], eight["experience_level"], eight["country"]) == (30.0, "entry", None)


def test_missing_file_and_columns_are_named(tmp_path: Path, taxonomy: Taxonomy) -> None:
    with pytest.raises(IngestError, match="no such file"):
        ingest(tmp_path / "absent.csv", taxonomy=taxonomy)
    path = write(tmp_path, [{"id": "1", "when": "2026-01-01"}])
    with pytest.raises(IngestError, match="posting_id, posted_at, skills or title"):
        ingest(path, taxonomy=taxonomy)


def test_parquet_with_typed_columns_reads_like_csv(
    tmp_path: Path, taxonomy: Taxonomy, small_market: pl.DataFrame
) -> None:
    sample = small_market.head(500)
    from_parquet = ingest(write(tmp_path, sample.to_dicts(), ".parquet"), taxonomy=taxonomy, now=NOW)
    csv_path = tmp_path / "same.csv"
    sample.write_csv(csv_path)
    from_csv = ingest(csv_path, taxonomy=taxonomy, now=NOW)
    assert from_parquet.accepted.height == from_csv.accepted.height == 500
    assert from_parquet.accepted.equals(from_csv.accepted)
