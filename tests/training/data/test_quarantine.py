"""The quarantine file: never written over an input, never left half written, no cell copied whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from gigcast.taxonomy import Taxonomy
from training.cli import app
from training.data.ingest import ingest
from training.data.limits import Limits
from training.data.quarantine import QuarantineError, check_target, write_quarantine

NOW = datetime(2026, 11, 25, tzinfo=UTC)
# Every row quarantined (an unparseable date): the quarantine would hold something to write.
POSTINGS = "posting_id,posted_at,skills\n" + "".join(f"{n},someday,sql\n" for n in range(1, 500))

runner = CliRunner()


def _same_path(folder: Path, posting: Path) -> Path:
    return posting


def _dotted(folder: Path, posting: Path) -> Path:
    return folder / "." / ".." / folder.name / posting.name


def _symlink(folder: Path, posting: Path) -> Path:
    link = folder.parent / "link.csv"
    link.symlink_to(posting)
    return link


def _hard_link(folder: Path, posting: Path) -> Path:
    link = folder.parent / "hard.csv"
    os.link(posting, link)
    return link


SPELLINGS: dict[str, Callable[[Path, Path], Path]] = {
    "same path": _same_path,
    "dotted path": _dotted,
    "symlink": _symlink,
    "hard link": _hard_link,
}


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("given", ["file", "directory"])
def test_validate_refuses_a_quarantine_that_is_an_input_and_leaves_it_whole(
    tmp_path: Path, spelling: str, given: str
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    posting = folder / "postings.csv"
    posting.write_text(POSTINGS)
    quarantine = SPELLINGS[spelling](folder, posting)
    source = posting if given == "file" else folder
    result = runner.invoke(app, ["validate", str(source), "--quarantine", str(quarantine)])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: --quarantine {quarantine}: ")
    assert posting.read_text() == POSTINGS


def test_validate_refuses_a_quarantine_among_an_input_directorys_files(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "postings.csv").write_text(POSTINGS)
    quarantine = folder / "quarantine.csv"
    result = runner.invoke(app, ["validate", str(folder), "--quarantine", str(quarantine)])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: --quarantine {quarantine}: inside the input directory {folder}; write it elsewhere"
    )
    assert not quarantine.exists()
    assert sorted(os.listdir(folder)) == ["postings.csv"]


def test_run_refuses_a_quarantine_that_is_an_input_before_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    Path("postings.csv").write_text(POSTINGS)
    result = runner.invoke(
        app, ["run", "--data", "postings.csv", "--quarantine", "./postings.csv", "--quiet"]
    )
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line == "error: --quarantine postings.csv: the same file as the input postings.csv"
    assert Path("postings.csv").read_text() == POSTINGS


def test_a_quarantine_beside_the_inputs_is_written(tmp_path: Path) -> None:
    posting = tmp_path / "postings.csv"
    posting.write_text(POSTINGS)
    quarantine = tmp_path / "quarantine.csv"
    result = runner.invoke(app, ["validate", str(posting), "--quarantine", str(quarantine)])
    assert result.exit_code == 0, result.output
    assert pl.read_csv(quarantine).height == POSTINGS.count("\n") - 1
    assert posting.read_text() == POSTINGS


def test_check_target_sees_through_names_and_passes_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    posting = folder / "postings.csv"
    posting.write_text(POSTINGS)
    check_target(tmp_path / "quarantine.csv", [posting, folder])  # beside them: fine
    check_target(folder / "sub" / "quarantine.csv", [posting])  # the folder is not an input here
    os.link(posting, tmp_path / "hard.csv")
    with pytest.raises(QuarantineError, match=r"the same file as the input .*postings\.csv"):
        check_target(tmp_path / "hard.csv", [folder])  # a hard link to a file the directory holds
    with pytest.raises(QuarantineError, match=r"a directory; name a \.csv or \.parquet file"):
        check_target(folder, [posting])


# A quarantine of about 70 MB: its write takes long enough (over 0.1 s) to be caught in the middle.
WRITER = """
import sys
from pathlib import Path
import polars as pl
from training.data.quarantine import write_quarantine
rows = pl.int_range(0, 1_500_000, eager=True).cast(pl.String)
frame = pl.DataFrame({"source": "a/b/c.csv", "row_number": rows, "note": rows.str.pad_start(30, "x")})
write_quarantine(frame, Path(sys.argv[1]))
"""


def killed_while_writing(target: Path, old: str) -> bool:
    """Starts a write of a quarantine over ``target`` and kills it once the write has begun."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=Path(__file__).parents[3])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if len(os.listdir(target.parent)) > 1 or target.stat().st_size != len(old):
                break  # the write has begun, beside the target or on it
            time.sleep(0.0005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    return child.returncode == -signal.SIGKILL


def test_a_killed_write_leaves_the_old_quarantine_whole(tmp_path: Path) -> None:
    target = tmp_path / "quarantine.csv"
    old = "source,row_number,reason\nold.csv,1,no_skill\n"
    for _ in range(5):  # a write that ends before the kill lands (a busy machine) is tried again
        target.write_text(old)
        if killed_while_writing(target, old):
            assert target.read_text() == old
            return
        assert pl.read_csv(target).height == 1_500_000  # ended: whole, never half
    pytest.fail("no write was caught in the middle in 5 tries")


def test_a_write_that_fails_leaves_nothing_beside_the_target(tmp_path: Path) -> None:
    frame = pl.DataFrame({"source": ["a.csv"], "row_number": [1]})
    taken = tmp_path / "taken.parquet"
    (taken / "inside").mkdir(parents=True)  # written beside it, then cannot be moved onto it
    with pytest.raises(IsADirectoryError):
        write_quarantine(frame, taken)
    assert os.listdir(tmp_path) == ["taken.parquet"] and os.listdir(taken) == ["inside"]
    write_quarantine(frame, tmp_path / "q.parquet")
    assert pl.read_parquet(tmp_path / "q.parquet").rows() == [("a.csv", 1)]
    assert sorted(os.listdir(tmp_path)) == ["q.parquet", "taken.parquet"]


def test_a_gigantic_cell_is_quarantined_with_its_reason_and_cut(tmp_path: Path, taxonomy: Taxonomy) -> None:
    limits = Limits(max_chars=1000)
    title = "python developer " * 100  # 1,700 characters
    note = "n" * 5000  # a column ingestion does not read: copied cut, whatever the row's reason
    rows = [
        ("1", "2026-11-02", "Need a python developer", ""),
        ("2", "2026-11-02", title, ""),
        ("3", "someday", "Need a python developer", note),
        ("4", "2026-11-02", "Need a python developer", ""),
    ]
    path = tmp_path / "p.csv"
    pl.DataFrame(rows, schema=["posting_id", "posted_at", "title", "note"], orient="row").write_csv(path)
    result = ingest([path], taxonomy=taxonomy, now=NOW, limits=limits)
    assert result.rows == 4 == result.accepted.height + result.quarantined.height
    assert result.accepted["posting_id"].to_list() == ["1", "4"]
    assert result.reasons() == {"unparseable_posted_at": 1, "value_too_long": 1}
    cut = dict(zip(result.quarantined["row_number"], result.quarantined["title"], strict=True))
    assert cut[2] == f"{title[:1000]}…[cut from 1700 characters]"
    assert result.quarantined.filter(pl.col("row_number") == 3)["note"].item() == (
        f"{note[:1000]}…[cut from 5000 characters]"
    )
    out = tmp_path / "q.csv"
    write_quarantine(result.quarantined, out)
    assert max(len(line) for line in out.read_text().splitlines()) < 1200


def test_a_column_empty_in_every_quarantined_row_costs_nothing(tmp_path: Path, taxonomy: Taxonomy) -> None:
    header = ["posting_id", "posted_at", "skills", *(f"c{i}" for i in range(50))]
    lines = [",".join(header)]
    lines += [f"{n},{'someday' if n % 2 else '2026-11-02'},sql" + "," * 50 for n in range(1, 101)]
    lines[5] += "kept"  # row 5, quarantined, fills the last column
    path = tmp_path / "sparse.csv"
    path.write_text("\n".join(lines) + "\n")
    result = ingest([path], taxonomy=taxonomy, now=NOW)
    assert (result.accepted.height, result.quarantined.height) == (50, 50)
    quarantined = result.quarantined
    assert quarantined.columns == ["source", "row_number", "reason", *header]
    assert quarantined.schema["c0"] == pl.Null and quarantined.schema["c49"] == pl.String
    assert quarantined.filter(pl.col("c49").is_not_null())[["row_number", "c49"]].rows() == [(5, "kept")]
    out = tmp_path / "q.csv"
    write_quarantine(quarantined, out)
    assert pl.read_csv(out, infer_schema=False).columns == quarantined.columns
