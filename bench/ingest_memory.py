"""Peak memory of `gigcast-train validate` on awkward CSVs, each beside a plain export of its size.

The awkward files, written here:

- sparse: 200 columns, nearly all empty, and one row in ten quarantined (an unparseable date),
  `--mb` large;
- wide: a header of 1,000,000 columns (about 10 MB) and three rows; refused in one line;
- long cells: plain postings with two 35 MB titles among them, `--mb` large.

Each one's baseline is a plain export of the same size (the synthetic market's CSV, repeated under
new posting ids), validated the same way. `gigcast-train validate` of a one-row file is the
command's own floor: Python, polars, and what it imports to report errors. Every figure is the
peak RSS of a fresh process (ru_maxrss, read by a parent that started nothing else).

Usage: python bench/ingest_memory.py [--mb 200] [--case sparse|wide|long cells ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from summary import record

if TYPE_CHECKING:
    import polars as pl

# The validate command in a child of a child: RUSAGE_CHILDREN of this script would be the largest
# peak of every command measured so far.
PEAK = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({
    "code": done.returncode,
    "said": (done.stderr.strip().splitlines() or [""])[-1][:200],
    "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
}))
"""
SPARSE_COLUMNS = 200
WIDE_COLUMNS = 1_000_000
TITLE_MB = 35
CASES = ("sparse", "wide", "long cells")


def validate(path: Path) -> dict[str, float | int | str]:
    """Peak RSS and exit code of ``gigcast-train validate PATH --json`` in a fresh process."""
    command = [str(Path(sys.executable).with_name("gigcast-train")), "validate", str(path), "--json"]
    out = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True, text=True, check=True)
    figures: dict[str, float | int | str] = json.loads(out.stdout)
    return figures


@cache
def market() -> pl.DataFrame:
    """About 30 MB of the synthetic market's postings as CSV, 1% of them broken as exports are."""
    from training.data.synth import synthesize

    return synthesize(skills=50, weeks=156, seed=1, messy=0.01).postings


def plain(path: Path, size: int) -> None:
    """The synthetic market's postings, repeated under new ids until ``size`` bytes."""
    import polars as pl

    with path.open("wb") as file:
        copy = 0
        while file.tell() < size:
            again = market().with_columns(pl.col("posting_id") + f"-{copy}")
            again.write_csv(file, include_header=copy == 0)
            copy += 1
    with path.open("r+b") as file:  # cut at the first line end past ``size``
        file.seek(size)
        file.readline()
        file.truncate()


def sparse(path: Path, size: int) -> None:
    header = ["posting_id", "posted_at", "skills", "title", *(f"c{i}" for i in range(SPARSE_COLUMNS - 4))]
    empty = "," * (SPARSE_COLUMNS - 4)
    with path.open("w") as file:
        file.write(",".join(header) + "\n")
        first = 1
        while file.tell() < size:
            rows = range(first, first + 10_000)
            file.write(
                "".join(
                    f"{n},{'someday' if n % 10 == 0 else '2026-11-02'},sql;rag,Need an SQL developer{empty}\n"
                    for n in rows
                )
            )
            first = rows.stop


def wide(path: Path) -> None:
    names = ["posting_id", "posted_at", "skills", *(f"c{i}" for i in range(WIDE_COLUMNS - 3))]
    with path.open("w") as file:
        file.write(",".join(names) + "\n")
        for row in range(3):
            file.write(f"{row},2026-11-02,sql" + "," * (WIDE_COLUMNS - 3) + "\n")


def long_cells(path: Path, size: int) -> None:
    """A plain export of ``size`` with two rows of a 35 MB title in its middle."""
    plain(path, size - 2 * TITLE_MB * 2**20)
    lines = path.read_text().splitlines(keepends=True)
    title = "python developer " * (TITLE_MB * 2**20 // 17)
    width = lines[0].count(",")
    huge = [f"huge-{n},2026-11-02,{title}" + "," * (width - 2) + "\n" for n in range(2)]
    middle = len(lines) // 2
    path.write_text("".join([*lines[:middle], *huge, *lines[middle:]]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=200, help="size of the sparse and long-cell files")
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    parser.add_argument("--case", choices=CASES, action="append", help="only these files; repeatable")
    options = parser.parse_args()

    folder = options.keep or Path(tempfile.mkdtemp(prefix="gigcast-awkward-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        floor = folder / "one-row.csv"
        floor.write_text("posting_id,posted_at,skills\n1,2026-11-02,sql\n")
        cases = {case: folder / f"{case.replace(' ', '-')}.csv" for case in options.case or CASES}
        for case, path in cases.items():
            if case == "sparse":
                sparse(path, options.mb * 2**20)
            elif case == "wide":
                wide(path)
            else:
                long_cells(path, max(options.mb, 3 * TITLE_MB) * 2**20)
        one_row = validate(floor)
        print(f"gigcast-train validate of a one-row file: {one_row['peak_mb']:,.0f} MB")
        print(f"{'file':<11} {'size':>7} | {'peak':>8} {'exit':>4} | {'plain, same size':>16} | {'ratio':>6}")
        for case, path in cases.items():
            size = path.stat().st_size
            baseline = folder / f"plain-{case.replace(' ', '-')}.csv"
            plain(baseline, size)
            ours, theirs = validate(path), validate(baseline)
            baseline.unlink()
            ratio = float(ours["peak_mb"]) / float(theirs["peak_mb"])
            said = " | " + str(ours["said"]).replace(f"{folder}/", "") if ours["code"] else ""
            print(
                f"{case:<11} {size / 2**20:6.0f}M | {ours['peak_mb']:7,.0f}M {ours['code']:>4} | "
                f"{theirs['peak_mb']:15,.0f}M | {ratio:5.2f}x{said}"
            )
            what = f"validate, {case} CSV of {size / 2**20:.0f} MB: peak RSS"
            record(
                "ingest",
                what,
                float(ours["peak_mb"]),
                "MB",
                "plain CSV of that size",
                float(theirs["peak_mb"]),
            )
    finally:
        if options.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
