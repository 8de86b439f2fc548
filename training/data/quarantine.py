"""Quarantined rows: their original values read back from their files, and the file they go to.

A quarantined row keeps its file, its row number (1 = the first data row), its reason and every
value of its row as text, each cut to ``Limits.max_chars`` characters so that a gigantic cell is
not copied whole. A column empty in every quarantined row is kept as a column of nulls, which
costs no memory: a sparse export's quarantine costs what its values hold, not its width.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from training.data.sources import SourceError, find_files, reading, scan

SOURCE, ROW, REASON = "source", "row_number", "reason"
FILE = "file"  # index into the files read; the path is written back only for quarantined rows
#: Quarantined cells (rows × columns) of one file read back in one pass. More are read in two:
#: the first finds the columns they fill, so that a sparse export's empty ones are never held.
ONE_PASS_CELLS = 4_000_000


class QuarantineError(ValueError):
    """A quarantine file that would overwrite the postings it is written from, or land among them."""


def originals(files: Sequence[Path], rejected: pl.DataFrame, *, max_chars: int) -> pl.DataFrame:
    """The rows of ``rejected`` (FILE, ROW, REASON) as they stand in their files, every value as text."""
    parts = [pl.DataFrame(schema={SOURCE: pl.String, ROW: pl.UInt32, REASON: pl.String})]
    for index, path in enumerate(files):
        wanted = rejected.filter(pl.col(FILE) == index).select(ROW, REASON)
        if wanted.is_empty():
            continue
        with reading(path):
            parts.append(_originals_of(path, wanted, max_chars))
    return pl.concat(parts, how="diagonal_relaxed").sort(SOURCE, ROW)


def _originals_of(path: Path, wanted: pl.DataFrame, max_chars: int) -> pl.DataFrame:
    """One file's rows of ``wanted``, streamed: only those rows are kept, and only columns they fill."""
    frame = scan(path).with_row_index(ROW, offset=1)
    schema = frame.collect_schema()
    names = [name for name in schema.names() if name != ROW]
    rows = frame.filter(pl.col(ROW).is_in(wanted[ROW].implode()))
    if wanted.height * len(names) > ONE_PASS_CELLS:
        filled = rows.select(pl.col(names).is_not_null().any()).collect(engine="streaming").row(0, named=True)
        names = [name for name in names if filled[name]]
    read = rows.select(ROW, *(_as_text(name, schema[name], max_chars) for name in names))
    found = read.collect(engine="streaming")
    empty = {name for name in names if found[name].null_count() == found.height}
    return found.join(wanted, on=ROW, how="left").select(
        pl.lit(str(path)).alias(SOURCE),
        ROW,
        REASON,
        *(
            pl.lit(None).alias(name) if name not in names or name in empty else pl.col(name)
            for name in schema.names()
            if name != ROW
        ),
    )


def _as_text(name: str, dtype: pl.DataType, max_chars: int) -> pl.Expr:
    """A value as text, cut to ``max_chars``; a list as its items joined by ``;``, as ingestion reads it.

    Other nested values are written as JSON.
    """
    column = pl.col(name)
    if isinstance(dtype, pl.List | pl.Array) and not dtype.inner.is_nested():
        text = column.cast(pl.List(pl.String)).list.join(";")
    elif isinstance(dtype, pl.Struct):
        text = column.struct.json_encode()
    elif dtype.is_nested():
        wrapped = pl.struct(column.alias("v")).struct.json_encode()
        text = wrapped.str.strip_prefix('{"v":').str.strip_suffix("}")
    elif dtype == pl.Binary:
        text = column.bin.encode("hex")
    else:
        text = column.cast(pl.String)
    length = text.str.len_chars()
    cut = pl.format("{}…[cut from {} characters]", text.str.head(max_chars), length)
    return pl.when(length > max_chars).then(cut).otherwise(text).alias(name)


def write_quarantine(quarantined: pl.DataFrame, path: Path) -> None:
    """Quarantined rows to ``.parquet``, else CSV: written beside ``path``, then moved onto it.

    A write that is killed leaves ``path`` as it was, never half a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        if path.suffix.lower() == ".parquet":
            quarantined.write_parquet(partial)
        else:
            quarantined.write_csv(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def check_target(path: Path, inputs: Sequence[Path]) -> None:
    """Refuses a quarantine ``path`` that is one of ``inputs`` by any name, or among a directory's files.

    Symbolic and hard links, and other spellings of a path, are seen through. Called before
    anything is read, so that a refused run costs nothing.
    """
    if path.is_dir():
        raise QuarantineError(f"--quarantine {path}: a directory; name a .csv or .parquet file")
    written = _identity(path)
    for source in inputs:
        if source.is_dir() and _identity(path.parent) == _identity(source):
            raise QuarantineError(
                f"--quarantine {path}: inside the input directory {source}; write it elsewhere"
            )
        for member in _read_from(source):
            if written is not None and _identity(member) == written:
                raise QuarantineError(f"--quarantine {path}: the same file as the input {member}")


def _identity(path: Path) -> tuple[int, int] | None:
    """The device and inode ``path`` names, through links; None when there is nothing there."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _read_from(source: Path) -> list[Path]:
    """The files an input is read from; none when it cannot be read (the read says why)."""
    try:
        return find_files([source])
    except SourceError:
        return []
