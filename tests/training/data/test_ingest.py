from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from gigcast.taxonomy import SkillInfo, Taxonomy
from training.data import ingest as ingestion
from training.data.ingest import REASONS, IngestError, ingest
from training.data.quarantine import write_quarantine
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


def test_labels_the_data_holds_apart_are_skills_apart(tmp_path: Path, taxonomy: Taxonomy) -> None:
    rows = [
        *({"posting_id": f"m{i}", "skills": "MySQL" if i % 2 else "mysql"} for i in range(5)),
        *({"posting_id": f"p{i}", "skills": "PostgreSQL"} for i in range(2)),
        {"posting_id": "t", "title": "MySQL replication and SQL tuning"},  # no tags: skills from its title
    ]
    path = write(tmp_path / "p.csv", [{"posted_at": "2026-11-02", "title": None, **row} for row in rows])
    result = ingest([path], taxonomy=taxonomy, now=NOW)
    skills = dict(result.accepted.select("posting_id", "skills").iter_rows())
    assert skills == {
        **{f"m{i}": ["mysql"] for i in range(5)},  # one label, however spelt
        **{f"p{i}": ["postgresql"] for i in range(2)},
        "t": ["mysql", "sql"],
    }
    data = taxonomy.get("sql").category
    assert [result.taxonomy.get(skill) for skill in ("mysql", "postgresql")] == [
        SkillInfo("mysql", "mysql", data),  # the most common spelling names it
        SkillInfo("postgresql", "PostgreSQL", data),
    ]
    assert result.summary()["aliases_set_aside"] == [
        {"label": "mysql", "skill": "mysql", "alias_of": "sql", "beside": ["PostgreSQL"]},
        {"label": "PostgreSQL", "skill": "postgresql", "alias_of": "sql", "beside": ["mysql"]},
    ]
    alone = ingest(
        [write(tmp_path / "alone.csv", [{"posted_at": "2026-11-02", **rows[0]}])], taxonomy=taxonomy
    )
    assert alone.accepted["skills"].to_list() == [["sql"]] and alone.summary()["aliases_set_aside"] == []


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


def test_a_file_rewritten_between_its_reads_is_refused(
    tmp_path: Path, taxonomy: Taxonomy, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = "posting_id,posted_at,skills,note\n"
    rows = [f"{n},{'someday' if n in (2, 5) else '2026-11-02'},sql,note {n}\n" for n in range(1, 9)]
    path = tmp_path / "p.csv"
    path.write_text(header + "".join(rows))
    os.utime(path, ns=(1_700_000_000_000_000_000,) * 2)  # an export written a while ago
    second_read = ingestion.originals  # reads the quarantined rows' values back, after the first pass

    def rewritten_first(*args: object, **kwargs: object) -> pl.DataFrame:
        # Another export of the same size and row count takes its place: rows 2 and 3 swap.
        path.write_text(header + "".join([rows[0], rows[2], rows[1], *rows[3:]]))
        return second_read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingestion, "originals", rewritten_first)
    with pytest.raises(IngestError, match=re.escape(f"{path}: changed while it was read; read it again")):
        ingest([path], taxonomy=taxonomy, now=NOW)
    monkeypatch.undo()
    again = ingest([path], taxonomy=taxonomy, now=NOW)  # read again, the file is one version
    assert again.quarantined.select("row_number", "posting_id", "note").rows() == [
        (3, "2", "note 2"),
        (5, "5", "note 5"),
    ]


# Peak RSS of a child, read by its own parent: RUSAGE_CHILDREN of this process would be the largest
# of every child any test started.
PEAK = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(done.stdout.strip() or done.stderr.strip().splitlines()[-1])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""
INGEST = """
import json, sys
from pathlib import Path
from gigcast.taxonomy import load_taxonomy
from training.data.ingest import ingest
result = ingest([Path(sys.argv[1])], taxonomy=load_taxonomy())
print(json.dumps({"rows": result.rows, "reasons": result.reasons(), "width": result.quarantined.width}))
"""


def test_a_sparse_export_is_read_in_bounded_memory(tmp_path: Path) -> None:
    # 40 MB of 500 columns, nearly all empty, and every row quarantined with its values: a
    # quarantine that held 16 bytes for each empty cell would take over 2,000 MB.
    width, height = 500, 80_000
    path = tmp_path / "sparse.csv"
    names = ["posting_id", "posted_at", "skills", *(f"c{i}" for i in range(width - 3))]
    empty = "," * (width - 3)
    path.write_text(",".join(names) + "\n" + "".join(f"{n},someday,sql{empty}\n" for n in range(height)))
    env = {**os.environ, "POLARS_MAX_THREADS": "2"}
    child = [sys.executable, "-c", INGEST, str(path)]
    done = subprocess.run([sys.executable, "-c", PEAK, *child], env=env, capture_output=True, text=True)
    summary, peak_mb = done.stdout.strip().splitlines()
    assert json.loads(summary) == {
        "rows": height,
        "reasons": {"unparseable_posted_at": height},
        "width": width + 3,  # source, row number and reason, then every column of the file
    }
    assert int(peak_mb) < 1000
