"""Postings in a platform's PostgreSQL: a table or a query, copied in batches to a Parquet file.

Ingestion then reads the copy as it reads any file, so a database's rows are accounted, mapped
and quarantined exactly as an export's. The copy is written one Arrow batch at a time (ADBC's
PostgreSQL driver streams the result with COPY), so memory holds one batch, never the table:
``python bench/ingest.py`` measures it beside ConnectorX, which reads the whole result at once.

A password may be in the URI, in ``PGPASSWORD`` or in ``~/.pgpass`` (libpq reads both); it is
never shown: every label and error names the database by its URI with the password masked.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import polars as pl

from gigcast.uris import masked

if TYPE_CHECKING:
    from adbc_driver_manager.dbapi import Connection

#: How a ``--data`` value names a database rather than a file.
SCHEMES = ("postgresql", "postgres")


class DatabaseError(ValueError):
    """A database that cannot be reached or read, or a table or query that fails, in one line."""


def is_database(text: str) -> bool:
    return urlsplit(text).scheme in SCHEMES


@dataclass(frozen=True, kw_only=True)
class DatabaseSource:
    """Rows of a table, or of a query, in the PostgreSQL database at ``uri``."""

    uri: str
    table: str | None = None
    query: str | None = None
    #: Only rows whose ``since[0]`` column is at or after ``since[1]``: what an incremental run reads.
    since: tuple[str, datetime] | None = None

    def __post_init__(self) -> None:
        if not is_database(self.uri):
            raise ValueError(f"{masked(self.uri)} is not a postgresql:// URI")
        if (self.table is None) == (self.query is None):
            raise ValueError(f"{masked(self.uri)}: name a table or a query (one of them)")

    @property
    def label(self) -> str:
        """How the source is named in summaries, quarantine and MLflow: no password."""
        if self.table:
            return f"{masked(self.uri)} table {self.table}"
        digest = hashlib.blake2b(str(self.query).encode(), digest_size=4).hexdigest()
        return f"{masked(self.uri)} query {digest}"  # another query is another source

    def sql(self) -> str:
        rows = f"SELECT * FROM {_identifier(self.table)}" if self.table else str(self.query).rstrip("; \n")
        if self.since is None:
            return rows
        column, moment = self.since
        since = f"'{moment.isoformat()}'::timestamptz"  # a column that holds no times fails, never misreads
        return f"SELECT * FROM ({rows}) AS postings WHERE {_identifier(column)} >= {since}"


#: Where postings are read from: a file or directory, or a database's table or query.
Source = Path | DatabaseSource


def named(source: Source) -> str:
    """How a source is named to people: its path, or its label."""
    return source.label if isinstance(source, DatabaseSource) else str(source)


def column_names(source: DatabaseSource) -> list[str]:
    """The columns the source's rows have, asked without reading a row."""
    with _connected(source) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({source.sql()}) AS postings LIMIT 0")
        return [column[0] for column in cursor.description or []]


def copy_to_parquet(source: DatabaseSource, path: Path) -> int:
    """Write every row of ``source`` to the Parquet file ``path``, a batch at a time; the row count.

    The batches are the driver's: about 16 MB of rows each (``adbc.postgresql.batch_size_hint_bytes``).
    """
    import pyarrow.parquet as pq

    rows = 0
    with _connected(source) as connection:
        batches = pl.read_database(source.sql(), connection, iter_batches=True)
        writer: pq.ParquetWriter | None = None
        try:
            for batch in batches:
                table = batch.to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
                rows += batch.height
        finally:
            if writer is not None:
                writer.close()
    if writer is None:  # no rows: the file still says which columns there are
        pl.DataFrame(schema={name: pl.String for name in column_names(source)}).write_parquet(path)
    return rows


def _identifier(name: str) -> str:
    """A table or column name quoted for SQL; ``schema.table`` stays two names."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


@contextlib.contextmanager
def _connected(source: DatabaseSource) -> Iterator[Connection]:
    """An ADBC connection; any failure to connect or read is a DatabaseError naming the source."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi

    try:
        with adbc_driver_postgresql.dbapi.connect(source.uri) as connection:
            yield connection
    # OSError: a connection lost while rows stream in
    except (adbc_driver_manager.Error, pl.exceptions.PolarsError, OSError) as exc:
        raise DatabaseError(f"{source.label}: {_first_line(exc, source.uri)}") from None


def _first_line(error: Exception, uri: str) -> str:
    """The driver's message, first line only, with the password masked wherever it appears."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    parts = urlsplit(uri)
    for password in [parts.password, *parse_qs(parts.query).get("password", [])]:
        if password:
            text = text.replace(password, "***")
    return text
