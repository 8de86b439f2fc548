"""Postings files: which ones a path names, and a lazy scan of each."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from itertools import islice
from pathlib import Path

import polars as pl

SCANNERS: dict[str, Callable[[Path], pl.LazyFrame]] = {
    ".parquet": pl.scan_parquet,
    ".csv": lambda path: pl.scan_csv(path, infer_schema=False),  # every cell as text, parsed later
    ".ndjson": pl.scan_ndjson,
    ".jsonl": pl.scan_ndjson,
}


class SourceError(ValueError):
    """A path that names no readable postings file."""


def find_files(paths: Sequence[Path]) -> list[Path]:
    """Files named by ``paths``; a directory stands for its postings files, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.suffix.lower() in SCANNERS and ".truth." not in p.name
            )
            if not found:
                raise SourceError(f"{path}: no {', '.join(SCANNERS)} files in this directory")
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in SCANNERS:
                raise SourceError(f"{path}: unknown format {path.suffix!r}; use one of {', '.join(SCANNERS)}")
            files.append(path)
        else:
            raise SourceError(f"no such file or directory: {path}")
    if not files:
        raise SourceError("no postings files given")
    return files


def scan(path: Path) -> pl.LazyFrame:
    """A lazy frame over one file; nothing is read until it is collected."""
    return SCANNERS[path.suffix.lower()](path)


def head(path: Path, rows: int) -> pl.DataFrame:
    """The first ``rows`` rows, read without loading the file (polars reads a CSV whole)."""
    if path.suffix.lower() != ".csv":
        return scan(path).head(rows).collect()
    with path.open(newline="", encoding="utf-8", errors="replace") as file:
        reader = csv.reader(file)
        header = next(reader, [])
        records = [(record + [""] * len(header))[: len(header)] for record in islice(reader, rows)]
    return pl.DataFrame(records, schema=dict.fromkeys(header, pl.String), orient="row")
