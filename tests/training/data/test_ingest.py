from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from gigcast.taxonomy import Taxonomy
from training.data.ingest import REASONS, IngestError, ingest, write_quarantine
from training.data.synth import synthesize, write_market

NOW = datetime(2026, 11, 25, tzinfo=UTC)
BLANK = {"hourly_rate": "", "experience_level": "", "country": ""}


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    frame = pl.DataFrame(rows)
    {".csv": frame.write_csv, ".parquet": frame.write_parquet, ".ndjson": frame.write_ndjson}[path.suffix](
        path
    )
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
        {"posting_id": "2", "posted_at": "not a date", "skills": "SQL", **BLANK},
        {"posting_id": "3", "posted_at": "2026-11-03", "skills": "SQL", **BLANK, "hourly_rate": "950000"},
        {"posting_id": "1", "posted_at": "2026-11-03", "skills": "SQL", **BLANK},
        {"posting_id": "5", "posted_at": "2027-01-01", "skills": "SQL", **BLANK},
        {"posting_id": "6", "posted_at": "2026-11-03", "skills": "", **BLANK},
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
        {"posting_id": "9", "posted_at": "", "skills": "SQL", **BLANK},
        {"posting_id": "", "posted_at": "2026-11-03", "skills": "SQL", **BLANK},
        {"posting_id": "11", "posted_at": "2026-11-03", "skills": "SQL", **BLANK, "experience_level": "guru"},
    ]
    result = ingest([write(tmp_path / "p.csv", rows)], taxonomy=taxonomy, now=NOW)
    assert result.rows == len(rows) == result.accepted.height + result.quarantined.height
    reasons = dict(zip(result.quarantined["row_number"], result.quarantined["reason"], strict=True))
    assert reasons == {
        2: "unparseable_posted_at",
        3: "rate_out_of_range",
        4: "duplicate_posting_id",
        5: "posted_at_in_future",
        6: "no_skill",
        7: "rate_not_a_number",
        9: "missing_posted_at",
        10: "missing_posting_id",
        11: "unknown_experience_level",
    }
    assert set(reasons.values()) <= set(REASONS)
    seven = result.quarantined.filter(pl.col("row_number") == 7).row(0, named=True)
    assert (seven["hourly_rate"], seven["experience_level"], seven["country"]) == ("lots", "guru", "Narnia")
    first = result.accepted.filter(pl.col("posting_id") == "1").row(0, named=True)
    assert first["skills"] == ["prompt-engineering", "sql"]
    assert (first["experience_level"], first["country"], first["hourly_rate"]) == ("expert", "PL", 45.0)
    eight = result.accepted.filter(pl.col("posting_id") == "8").row(0, named=True)
    assert (eight["hourly_rate"], eight["experience_level"], eight["country"]) == (30.0, "entry", None)


def test_rate_ranges_give_their_midpoint_and_inverted_ones_are_quarantined(
    tmp_path: Path, taxonomy: Taxonomy
) -> None:
    rows = [
        {"id": "a", "published_on": "2026-11-02", "tags": "rag", "hourly_low": "20", "hourly_high": "40"},
        {"id": "b", "published_on": "2026-11-02", "tags": "rag", "hourly_low": "50", "hourly_high": "10"},
        {"id": "c", "published_on": "2026-11-02", "tags": "rag", "hourly_low": "25", "hourly_high": ""},
    ]
    result = ingest([write(tmp_path / "p.csv", rows)], taxonomy=taxonomy, now=NOW)
    assert dict(result.accepted.select("posting_id", "hourly_rate").iter_rows()) == {"a": 30.0, "c": 25.0}
    assert result.reasons() == {"rate_range_inverted": 1}


def test_files_of_every_format_in_a_directory_are_one_union(tmp_path: Path, taxonomy: Taxonomy) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write(
        folder / "a.csv", [{"posting_id": "1", "posted_at": "2026-11-02", "skills": "rag", "country": "PL"}]
    )
    write(
        folder / "b.ndjson",
        [{"posting_id": "2", "posted_at": "2026-11-03T08:00:00", "skills": ["SQL"], "hourly_rate": 40.5}],
    )
    write(
        folder / "c.parquet",
        [{"posting_id": "1", "posted_at": datetime(2026, 11, 4), "title": "Need a Power BI expert"}],
    )
    (folder / "notes.txt").write_text("ignored")
    result = ingest([folder], taxonomy=taxonomy, now=NOW)
    assert result.rows == 3
    accepted = {r["posting_id"]: r for r in result.accepted.iter_rows(named=True)}
    assert accepted["1"]["skills"] == ["rag-development"] and accepted["1"]["country"] == "PL"
    assert accepted["2"]["hourly_rate"] == 40.5 and accepted["2"]["skills"] == ["sql"]
    dup = result.quarantined.row(0, named=True)
    assert (Path(dup["source"]).name, dup["row_number"], dup["reason"]) == (
        "c.parquet",
        1,
        "duplicate_posting_id",
    )
    assert dup["title"] == "Need a Power BI expert"


def test_explicit_columns_map_an_unknown_export(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = write(tmp_path / "p.csv", [{"ref": "x1", "when": "2026-11-02", "what": "rag"}])
    with pytest.raises(IngestError, match="missing required columns: posting_id, posted_at, skills or title"):
        ingest([path], taxonomy=taxonomy)
    mapped = ingest(
        [path],
        taxonomy=taxonomy,
        columns={"posting_id": "ref", "posted_at": "when", "skills": "what"},
        now=NOW,
    )
    assert mapped.accepted["skills"].to_list() == [["rag-development"]]
    assert mapped.columns[str(path)] == {"posting_id": "ref", "posted_at": "when", "skills": "what"}


def test_unreadable_inputs_are_named(tmp_path: Path, taxonomy: Taxonomy) -> None:
    with pytest.raises(IngestError, match="no such file or directory"):
        ingest([tmp_path / "absent.csv"], taxonomy=taxonomy)
    (tmp_path / "p.xlsx").write_text("")
    with pytest.raises(IngestError, match=re.escape("unknown format '.xlsx'")):
        ingest([tmp_path / "p.xlsx"], taxonomy=taxonomy)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match=re.escape("empty: no .parquet, .csv, .ndjson, .jsonl files")):
        ingest([empty], taxonomy=taxonomy)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_quarantine_file_keeps_original_values(tmp_path: Path, taxonomy: Taxonomy, suffix: str) -> None:
    path = write(
        tmp_path / "p.csv",
        [{"posting_id": "1", "posted_at": "yesterday", "skills": "rag", "note": "keep me"}],
    )
    result = ingest([path], taxonomy=taxonomy, now=NOW)
    out = tmp_path / f"q{suffix}"
    write_quarantine(result.quarantined, out)
    read = pl.read_csv(out, infer_schema=False) if suffix == ".csv" else pl.read_parquet(out)
    assert read.select("row_number", "reason", "posted_at", "note").row(0) in (
        ("1", "unparseable_posted_at", "yesterday", "keep me"),
        (1, "unparseable_posted_at", "yesterday", "keep me"),
    )


def test_synthetic_messy_rows_are_quarantined_for_the_reason_they_were_broken(
    tmp_path: Path, taxonomy: Taxonomy
) -> None:
    market = synthesize(skills=8, weeks=20, end=date(2026, 11, 15), seed=2, messy=0.05)
    write_market(market, tmp_path / "m.csv")
    result = ingest([tmp_path], taxonomy=taxonomy, now=NOW)  # the truth files beside it are not postings
    assert result.rows == market.postings.height
    assert result.reasons() == dict(
        sorted(market.facts["expected_reasons"].items(), key=lambda kv: (-kv[1], kv[0]))
    )


def test_parquet_and_csv_of_the_same_market_read_alike(tmp_path: Path, taxonomy: Taxonomy) -> None:
    postings = synthesize(skills=3, weeks=6, end=date(2026, 11, 15), seed=4).postings
    postings.write_parquet(tmp_path / "m.parquet")
    postings.write_csv(tmp_path / "m.csv")
    from_parquet = ingest([tmp_path / "m.parquet"], taxonomy=taxonomy, now=NOW)
    from_csv = ingest([tmp_path / "m.csv"], taxonomy=taxonomy, now=NOW)
    assert from_parquet.accepted.equals(from_csv.accepted)
    assert from_parquet.reasons() == from_csv.reasons()


@pytest.mark.parametrize("suffix", [".ndjson", ".parquet"])
def test_quarantined_rows_with_list_skills_keep_their_values(
    tmp_path: Path, taxonomy: Taxonomy, suffix: str
) -> None:
    rows = [{"posting_id": "1", "posted_at": "2026-11-02", "skills": ["RAG", "SQL"]}] * 2
    result = ingest([write(tmp_path / f"p{suffix}", rows)], taxonomy=taxonomy, now=NOW)
    assert result.reasons() == {"duplicate_posting_id": 1}
    assert result.quarantined["skills"].to_list() == ["RAG;SQL"]
