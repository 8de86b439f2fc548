"""Inputs that cannot be read as they stand: each is read without losing a row, or refused in one line."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from gigcast.taxonomy import Taxonomy
from training.cli import app
from training.data.ingest import IngestError, ingest

NOW = datetime(2026, 11, 25, tzinfo=UTC)
HEADER = "posting_id,posted_at,skills\n"
GOOD = "1,2026-11-02,sql\n"

runner = CliRunner()


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def test_an_empty_file_is_refused_whatever_its_format(tmp_path: Path, taxonomy: Taxonomy) -> None:
    for suffix in (".csv", ".parquet", ".ndjson"):
        path = write(tmp_path / f"empty{suffix}", b"")
        with pytest.raises(IngestError, match=re.escape(f"empty{suffix}: the file is empty")):
            ingest([path], taxonomy=taxonomy, now=NOW)


def test_a_csv_with_only_its_header_reads_as_no_rows(tmp_path: Path, taxonomy: Taxonomy) -> None:
    result = ingest([write(tmp_path / "p.csv", HEADER)], taxonomy=taxonomy, now=NOW)
    assert (result.rows, result.accepted.height) == (0, 0)


def test_bytes_that_are_not_utf8_are_read_and_no_row_is_lost(tmp_path: Path, taxonomy: Taxonomy) -> None:
    text = "posting_id,posted_at,skills,note\n1,2026-11-02,sql,caf\xe9\n2,someday,sql,caf\xe9\n"
    result = ingest([write(tmp_path / "p.csv", text.encode("latin-1"))], taxonomy=taxonomy, now=NOW)
    assert (result.rows, result.accepted.height) == (2, 1)
    assert result.quarantined["note"].to_list() == ["caf\ufffd"]


def test_a_row_with_more_fields_than_the_header_is_refused_with_its_line(
    tmp_path: Path, taxonomy: Taxonomy
) -> None:
    path = write(tmp_path / "p.csv", HEADER + GOOD + "2,2026-11-02,sql,extra\n" + GOOD)
    with pytest.raises(IngestError, match=re.escape("p.csv: line 3 has 4 fields but the header has 3")):
        ingest([path], taxonomy=taxonomy, now=NOW)


def test_a_row_with_fewer_fields_than_the_header_reads_its_missing_cells_as_empty(
    tmp_path: Path, taxonomy: Taxonomy
) -> None:
    path = write(tmp_path / "p.csv", HEADER + GOOD + "2,2026-11-02\n3,2026-11-02,rag\n")
    result = ingest([path], taxonomy=taxonomy, now=NOW)
    assert result.rows == 3
    assert result.quarantined.select("row_number", "reason").rows() == [(2, "no_skill")]


def test_a_quote_that_is_never_closed_is_refused_with_its_line(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = write(tmp_path / "p.csv", HEADER + GOOD + '2,2026-11-02,"sql\n3,2026-11-02,rag\n')
    with pytest.raises(
        IngestError, match=re.escape("p.csv: the quoted field that starts on line 3 is never closed")
    ):
        ingest([path], taxonomy=taxonomy, now=NOW)


def test_a_header_naming_a_posting_column_twice_is_refused(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = write(tmp_path / "p.csv", "posting_id,posted_at,skills,skills\n1,2026-11-02,sql,rag\n")
    with pytest.raises(IngestError, match=re.escape("p.csv: the header names 'skills' more than once")):
        ingest([path], taxonomy=taxonomy, now=NOW)


def test_a_header_naming_another_column_twice_is_read(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = write(tmp_path / "p.csv", "posting_id,posted_at,skills,note,note\n1,someday,sql,a,b\n")
    result = ingest([path], taxonomy=taxonomy, now=NOW)
    assert result.quarantined.select("note", "note_duplicated_0").row(0) == ("a", "b")


def test_a_gzipped_csv_reads_as_what_it_holds(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = write(tmp_path / "p.csv", gzip.compress((HEADER + GOOD + "2,someday,rag\n").encode()))
    result = ingest([path], taxonomy=taxonomy, now=NOW)
    assert (result.rows, result.accepted["posting_id"].to_list()) == (2, ["1"])
    assert result.quarantined["posted_at"].to_list() == ["someday"]


def test_garbage_named_parquet_is_refused(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = write(tmp_path / "p.parquet", os.urandom(1000))
    with pytest.raises(IngestError, match=r"p.parquet: not readable as Parquet \(.*PAR1"):
        ingest([path], taxonomy=taxonomy, now=NOW)


def test_a_line_that_is_not_json_is_refused_with_its_line(tmp_path: Path, taxonomy: Taxonomy) -> None:
    good = json.dumps({"posting_id": "1", "posted_at": "2026-11-02", "skills": ["SQL"]})
    path = write(tmp_path / "p.ndjson", f"{good}\nnot json\n")
    with pytest.raises(IngestError, match=r"p.ndjson: line 2 is not JSON \(Expecting value\)"):
        ingest([path], taxonomy=taxonomy, now=NOW)
    write(path, f"{good}\n[1, 2]\n")
    with pytest.raises(IngestError, match=re.escape("p.ndjson: line 2 is not a JSON object")):
        ingest([path], taxonomy=taxonomy, now=NOW)


def test_a_struct_column_is_kept_aside_unless_a_posting_column_is_read_from_it(
    tmp_path: Path, taxonomy: Taxonomy
) -> None:
    rows = {"posting_id": ["1", "2"], "posted_at": ["2026-11-02", "someday"], "skills": ["sql", "rag"]}
    meta = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    pl.DataFrame({**rows, "meta": meta, "deep": [meta, []]}).write_parquet(tmp_path / "p.parquet")
    result = ingest([tmp_path / "p.parquet"], taxonomy=taxonomy, now=NOW)
    assert result.rows == 2
    assert result.quarantined.select("meta", "deep").row(0) == ('{"a":2,"b":"y"}', "[]")
    pl.DataFrame({**rows, "skills": meta}).write_parquet(tmp_path / "p.parquet")
    with pytest.raises(IngestError, match=re.escape("p.parquet: column 'skills' holds Struct")):
        ingest([tmp_path / "p.parquet"], taxonomy=taxonomy, now=NOW)


def test_a_symlink_loop_in_a_directory_is_refused_by_name(tmp_path: Path, taxonomy: Taxonomy) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write(folder / "good.csv", HEADER + GOOD)
    os.symlink(folder / "b.csv", folder / "a.csv")
    os.symlink(folder / "a.csv", folder / "b.csv")
    with pytest.raises(IngestError, match=r"exports/a.csv: cannot open it: \w+"):
        ingest([folder], taxonomy=taxonomy, now=NOW)


def test_a_cell_of_a_megabyte_reads_and_is_quarantined_cut(tmp_path: Path, taxonomy: Taxonomy) -> None:
    big = "x" * 1_000_000
    rows = [f"1,someday,sql,{big}", f"2,2026-11-02,{big},", f"3,2026-11-02,sql,{big}"]
    text = "posting_id,posted_at,skills,note\n" + "\n".join(rows) + "\n"
    result = ingest([write(tmp_path / "p.csv", text)], taxonomy=taxonomy, now=NOW)
    assert result.accepted["posting_id"].to_list() == ["3"]  # its long cell is in a column not read
    assert result.quarantined.select("row_number", "reason").rows() == [
        (1, "unparseable_posted_at"),
        (2, "value_too_long"),
    ]
    cut = f"{'x' * 100_000}…[cut from 1000000 characters]"
    assert result.quarantined["note"].to_list() == [cut, None]
    assert result.quarantined["skills"].to_list() == ["sql", cut]


def test_a_file_of_more_than_10000_columns_is_refused_in_one_line(tmp_path: Path) -> None:
    names = ["posting_id", "posted_at", "skills", *(f"c{i}" for i in range(9_998))]
    wide = write(tmp_path / "wide.csv", ",".join(names) + "\n1,2026-11-02,sql" + "," * 9_998 + "\n")
    pl.DataFrame({name: ["1"] for name in names}).write_parquet(tmp_path / "wide.parquet")
    for path, problem in (
        (wide, "the header has more than the 10,000 columns a file may have"),
        (tmp_path / "wide.parquet", "10,001 columns, more than the 10,000 a file may have"),
    ):
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == f"error: {path}: {problem}"
    fits = write(tmp_path / "fits.csv", ",".join(names[:-1]) + "\n1,2026-11-02,sql" + "," * 9_997 + "\n")
    assert runner.invoke(app, ["validate", str(fits), "--json"]).exit_code == 0


def test_a_header_of_more_than_a_million_characters_is_refused(tmp_path: Path, taxonomy: Taxonomy) -> None:
    names = ["posting_id", "posted_at", "skills", *(f"{i:0>200}" for i in range(5_000))]
    path = write(tmp_path / "p.csv", ",".join(names) + "\n1,2026-11-02,sql" + "," * 5_000 + "\n")
    with pytest.raises(IngestError, match=re.escape("p.csv: the header is longer than 1,000,000 characters")):
        ingest([path], taxonomy=taxonomy, now=NOW)


def test_the_file_that_breaks_among_several_is_named(tmp_path: Path, taxonomy: Taxonomy) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write(folder / "a.csv", HEADER + GOOD)
    rows = "".join(f"{n},2026-11-02,sql\n" for n in range(2, 6002))  # past the rows sampled first
    write(folder / "b.csv", HEADER + rows + "6002,2026-11-02,sql,extra\n")
    write(folder / "c.csv", HEADER + GOOD)
    with pytest.raises(
        IngestError, match=re.escape("exports/b.csv: line 6002 has 4 fields but the header has 3")
    ):
        ingest([folder], taxonomy=taxonomy, now=NOW)


# Any file at all: read with every row accounted for, or refused with an IngestError.

REQUIRED = ("posting_id", "posted_at", "skills")
OPTIONAL = ("title", "hourly_rate", "country", "note")
COLUMNS = REQUIRED + OPTIONAL
CELLS = st.text(alphabet=st.sampled_from('ab,;"\n\r 1-:T\xe9\x00[]{}'), max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**13), 10**13) | st.floats(allow_nan=False) | CELLS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("ab"), inner, max_size=2),
    max_leaves=4,
)
COLUMN_NAMES = st.builds(
    lambda required, optional: list(dict.fromkeys([*required, *optional])),
    st.sampled_from([REQUIRED, REQUIRED, ("posting_id", "posted_at", "title"), ("posting_id",)]),
    st.lists(st.sampled_from(OPTIONAL), max_size=3, unique=True),
).flatmap(st.permutations)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, bytes, int | None]:
    """A CSV written by the csv module (its rows known), or rows joined by hand (unknown)."""
    names = draw(COLUMN_NAMES)
    rows = draw(st.lists(st.lists(CELLS, min_size=len(names), max_size=len(names)), max_size=5))
    if draw(st.booleans()):
        text = io.StringIO()
        csv.writer(text).writerows([names, *rows])
        return ".csv", text.getvalue().encode(), len(rows)
    lines = [",".join(names), *(",".join(draw(st.lists(CELLS, max_size=5))) for _ in rows)]
    return ".csv", "\n".join(lines).encode(draw(st.sampled_from(["utf-8", "latin-1"]))), None


@st.composite
def ndjson_files(draw: st.DrawFn) -> tuple[str, bytes, int | None]:
    names = draw(COLUMN_NAMES)
    value = st.one_of(CELLS, CELLS, JSON_VALUES)
    rows = draw(st.lists(st.fixed_dictionaries({}, optional=dict.fromkeys(names, value)), max_size=5))
    lines = [json.dumps(row) for row in rows]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(CELLS).replace("\n", " "))
        return ".ndjson", "\n".join(lines).encode(), None
    return ".ndjson", "\n".join(lines).encode(), len(rows)


@st.composite
def parquet_files(draw: st.DrawFn) -> tuple[str, bytes, int | None]:
    height = draw(st.integers(0, 4))
    values = {
        "text": st.none() | CELLS,
        "number": st.none() | st.integers(-(10**13), 10**13),
        "texts": st.none() | st.lists(st.none() | CELLS, max_size=3),
        "struct": st.fixed_dictionaries({"a": st.none() | st.integers(0, 9), "b": CELLS}),
        "date": st.none() | st.datetimes(),
    }
    kinds = {name: draw(st.sampled_from(["text", "text", *values])) for name in draw(COLUMN_NAMES)}
    columns = {
        name: draw(st.lists(values[kind], min_size=height, max_size=height)) for name, kind in kinds.items()
    }
    buffer = io.BytesIO()
    pl.DataFrame(columns, strict=False).write_parquet(buffer)
    return ".parquet", buffer.getvalue(), height


random_files = st.tuples(
    st.sampled_from([".csv", ".parquet", ".ndjson"]),
    st.binary(max_size=64).map(lambda tail: HEADER.encode() + tail) | st.binary(max_size=64),
    st.none(),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(random_files, csv_files(), ndjson_files(), parquet_files()))
def test_any_file_is_read_with_every_row_accounted_or_refused(
    taxonomy: Taxonomy, file: tuple[str, bytes, int | None]
) -> None:
    suffix, content, rows = file
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / f"postings{suffix}", content)
        try:
            result = ingest([path], taxonomy=taxonomy, now=NOW)
        except IngestError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            return
    assert result.rows == result.accepted.height + result.quarantined.height
    if rows is not None:
        assert result.rows == rows


# The command line: one line on stderr, exit 2.


def cases(tmp_path: Path) -> dict[str, Path]:
    loop = tmp_path / "loop"
    loop.mkdir()
    os.symlink(loop / "b.csv", loop / "a.csv")
    os.symlink(loop / "a.csv", loop / "b.csv")
    return {
        "empty": write(tmp_path / "empty.csv", b""),
        "ragged": write(tmp_path / "ragged.csv", HEADER + GOOD + "2,2026-11-02,sql,extra\n"),
        "quote": write(tmp_path / "quote.csv", HEADER + '1,2026-11-02,"sql\n'),
        "garbage": write(tmp_path / "garbage.parquet", os.urandom(1000)),
        "ndjson": write(tmp_path / "bad.ndjson", "not json\n"),
        "loop": loop,
    }


@pytest.mark.parametrize("case", ["empty", "ragged", "quote", "garbage", "ndjson", "loop"])
def test_validate_says_what_is_wrong_in_one_line_and_exits_2(tmp_path: Path, case: str) -> None:
    path = cases(tmp_path)[case]
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}")


@pytest.mark.parametrize("case", ["ragged", "garbage"])
def test_run_says_what_is_wrong_in_one_line_and_exits_2(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    path = cases(tmp_path)[case]
    result = runner.invoke(app, ["run", "--data", str(path), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stderr.count("error:") == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {path}: ")


def test_run_on_a_header_only_csv_says_no_posting_was_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    result = runner.invoke(app, ["run", "--data", str(write(tmp_path / "p.csv", HEADER)), "--quiet"])
    assert result.exit_code == 1
    assert "no posting was accepted" in result.output and "Traceback" not in result.output


def test_an_error_naming_brackets_is_printed_as_it_is(tmp_path: Path) -> None:
    path = write(tmp_path / "[bold]export.csv", b"")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {path}: the file is empty"
