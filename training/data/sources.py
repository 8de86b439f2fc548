"""Postings files: which ones a path names, a lazy scan of each, and why one cannot be read."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import polars as pl

from training.data.limits import MAX_COLUMNS

SCANNERS: dict[str, Callable[[Path], pl.LazyFrame]] = {
    ".parquet": pl.scan_parquet,
    # Every cell as text, parsed later; bytes that are not UTF-8 read as U+FFFD, so no row is lost.
    ".csv": lambda path: pl.scan_csv(path, infer_schema=False, encoding="utf8-lossy"),
    ".ndjson": pl.scan_ndjson,
    ".jsonl": pl.scan_ndjson,
}
FORMATS = {".parquet": "Parquet", ".csv": "CSV", ".ndjson": "NDJSON", ".jsonl": "NDJSON"}
#: What reading a file that does not hold what its name says raises, from polars or the system.
READ_ERRORS = (
    pl.exceptions.ComputeError,
    pl.exceptions.NoDataError,
    pl.exceptions.ShapeError,
    pl.exceptions.DuplicateError,
    pl.exceptions.SchemaError,
    OSError,
    UnicodeDecodeError,
)
#: Longest polars message quoted back, in characters; it can hold a whole broken row.
QUOTED = 200
#: Most characters a CSV header may take: MAX_COLUMNS names of 100 characters.
HEADER_CHARS = MAX_COLUMNS * 100


class SourceError(ValueError):
    """A path that names no readable postings file."""


def find_files(paths: Sequence[Path]) -> list[Path]:
    """Files named by ``paths``; a directory stands for its postings files, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(_postings_in(path))
        elif path.is_file():
            if path.suffix.lower() not in SCANNERS:
                raise SourceError(f"{path}: unknown format {path.suffix!r}; use one of {', '.join(SCANNERS)}")
            files.append(path)
        else:
            raise SourceError(_unreachable(path))
    if not files:
        raise SourceError("no postings files given")
    return files


def scan(path: Path) -> pl.LazyFrame:
    """A lazy frame over one file; nothing is read until it is collected."""
    return SCANNERS[path.suffix.lower()](path)


def schema_of(path: Path) -> pl.Schema:
    """The file's column names and types, read from its start; a file of too many columns is refused."""
    with reading(path):
        if path.stat().st_size == 0:
            raise SourceError(f"{path}: the file is empty")
        if path.suffix.lower() == ".csv":
            _check_header(path)  # before polars reads it: a schema of a million columns costs gigabytes
        schema = scan(path).collect_schema()
    if len(schema) > MAX_COLUMNS:
        raise SourceError(f"{path}: {len(schema):,} columns, more than the {MAX_COLUMNS:,} a file may have")
    return schema


def head(path: Path, rows: int, columns: Sequence[str]) -> pl.DataFrame:
    """The first ``rows`` rows of ``columns``, read without reading the rest of the file."""
    with reading(path):
        return scan(path).select(columns).head(rows).collect()


@dataclass(frozen=True)
class Version:
    """What tells one version of a file from the next: a rewrite changes its size, its times or its inode."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int  # changes on every write, even one that sets the modification time back


def version_of(path: Path) -> Version:
    """The version of ``path`` that is there now."""
    with reading(path):
        found = os.stat(path)
    return Version(found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def check_unchanged(path: Path, version: Version) -> None:
    """Refuses ``path`` when it is no longer ``version``: what was read of it may mix two versions."""
    if version_of(path) != version:
        raise SourceError(f"{path}: changed while it was read; read it again")


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turns a failure to read ``path`` into a SourceError that says what is wrong with it."""
    try:
        yield
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from None


def unreadable(path: Path, error: Exception) -> SourceError:
    """The error to show for a file that could not be read: the file, and what is wrong with it."""
    return SourceError(f"{path}: {_problem(path, error)}")


def _problem(path: Path, error: Exception) -> str:
    """What is wrong with a file that could not be read, for whoever exported it."""
    if isinstance(error, OSError):
        return f"cannot read it: {error.strerror or first_line(error)}"
    suffix = path.suffix.lower()
    diagnose = DIAGNOSES.get(suffix)
    found = diagnose(path) if diagnose else None
    return found or f"not readable as {FORMATS[suffix]} ({first_line(error)})"


def first_line(error: Exception) -> str:
    """The first line of an error's message, cut to a readable length."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    line = lines[0].strip()
    return line if len(line) <= QUOTED else f"{line[:QUOTED]}…"


def _postings_in(folder: Path) -> list[Path]:
    """The postings files of a directory, sorted; an entry that cannot be opened is an error."""
    try:
        named = sorted(
            p for p in folder.iterdir() if p.suffix.lower() in SCANNERS and ".truth." not in p.name
        )
    except OSError as exc:
        raise SourceError(f"{folder}: cannot list it: {exc.strerror or exc}") from None
    for path in named:
        if not path.is_file() and not path.is_dir():
            raise SourceError(_unreachable(path))
    found = [path for path in named if path.is_file()]
    if not found:
        raise SourceError(f"{folder}: no {', '.join(SCANNERS)} files in this directory")
    return found


def _unreachable(path: Path) -> str:
    """Why a path is neither a file nor a directory: missing, a broken link, a link loop."""
    try:
        path.stat()
    except FileNotFoundError:
        return f"no such file or directory: {path}"
    except OSError as exc:
        return f"{path}: cannot open it: {exc.strerror or exc}"
    return f"{path}: not a regular file or directory"


def _check_header(path: Path) -> None:
    """Refuses a CSV whose header has more than MAX_COLUMNS names or runs past HEADER_CHARS."""
    csv.field_size_limit(1 << 30)  # real exports hold cells far past the default 128 KiB
    try:
        with _text(path) as file:
            start = file.read(HEADER_CHARS + 1)
    except (OSError, EOFError):  # polars reads it next, and says what is wrong
        return
    lines = io.StringIO(start)
    try:
        width = len(next(csv.reader(lines), []))
    except csv.Error:  # a quote left open in the header: polars says what is wrong
        return
    if width > MAX_COLUMNS:
        raise SourceError(f"{path}: the header has more than the {MAX_COLUMNS:,} columns a file may have")
    if len(start) > HEADER_CHARS and lines.tell() == len(start) and not start.endswith("\n"):
        raise SourceError(f"{path}: the header is longer than {HEADER_CHARS:,} characters")


def _csv_problem(path: Path) -> str | None:
    """The first row that breaks the CSV layout; None when the csv module finds none."""
    csv.field_size_limit(1 << 30)  # real exports hold cells far past the default 128 KiB
    start = 1
    try:
        with _text(path) as file:
            reader = csv.reader(file, strict=True)
            width = len(next(reader, []))
            start = reader.line_num + 1
            for record in reader:
                if len(record) > width:
                    return f"line {start} has {len(record)} fields but the header has {width}"
                start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            return f"the quoted field that starts on line {start} is never closed"
        return f"line {start} is not valid CSV ({exc})"
    except (OSError, EOFError):
        return None
    return None


def _ndjson_problem(path: Path) -> str | None:
    """The first line that is not a JSON object; None when every line is one."""
    objects = 0
    try:
        with _text(path) as file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    return f"line {number} is not JSON ({exc.msg})"
                if not isinstance(value, dict):
                    return f"line {number} is not a JSON object"
                objects += 1
    except (OSError, EOFError):
        return None
    return None if objects else "no line holds a JSON object"


DIAGNOSES: dict[str, Callable[[Path], str | None]] = {
    ".csv": _csv_problem,
    ".ndjson": _ndjson_problem,
    ".jsonl": _ndjson_problem,
}


def _text(path: Path) -> TextIO:
    """The file as text, gunzipped when it is gzip whatever its name, odd bytes as U+FFFD."""
    with path.open("rb") as file:
        packed = file.read(2) == b"\x1f\x8b"
    if packed:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return path.open(encoding="utf-8", errors="replace", newline="")
