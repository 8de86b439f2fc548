"""Postings in a platform's PostgreSQL: a table or a query, copied in batches to a Parquet file.

Ingestion then reads the copy as it reads any file, so a database's rows are accounted, mapped
and quarantined exactly as an export's. The copy is written one Arrow batch at a time (ADBC's
PostgreSQL driver streams the result with COPY), so memory holds one batch, never the table:
``python bench/ingest.py`` measures it beside ConnectorX, which reads the whole result at once.

A password may be in the URI, in ``PGPASSWORD`` or in ``~/.pgpass`` (libpq reads both); it is
never shown: every label and error names the database by its URI with the password masked.

Every transaction of a connection is read-only, so a query cannot write. A table's name is read
as PostgreSQL reads one (``DatabaseSource.relation``), and a column of a type the Parquet copy
cannot carry is cast in SQL first (``CARRIED``, ``CAST``, else text).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from gigcast.uris import masked, scrubbed

if TYPE_CHECKING:
    import pyarrow as pa
    from adbc_driver_manager.dbapi import Connection, Cursor

#: How a ``--data`` value names a database rather than a file.
SCHEMES = ("postgresql", "postgres")
#: PostgreSQL types (by their ``pg_type`` names) the copy carries as they are.
CARRIED = frozenset(
    {"bool", "int2", "int4", "int8", "float4", "float8", "text", "varchar", "name"}
    | {"date", "timestamp", "timestamptz", "_text", "_varchar"}
)
#: Types cast to one the copy carries: money and numeric (the usual money types) as floats. Any
#: other type is read as text, as PostgreSQL writes it: json and jsonb, interval, uuid, bytea,
#: enums, arrays but of text, geometric, network, range types, ...
CAST = {"numeric": "double precision", "money": "numeric::double precision"}
#: Statements that make every transaction of a connection read-only, the one open included.
READ_ONLY = ("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "SET TRANSACTION READ ONLY")
#: A query's pieces, enough to tell its comments and semicolons from the rest: strings (escape,
#: plain, dollar-quoted), quoted names, comments, and anything else a piece at a time.
_SQL_PIECES = re.compile(
    r"""[Ee]'(?:[^'\\]|\\.|'')*' | '(?:[^']|'')*' | "(?:[^"]|"")*" | (\$(?:[A-Za-z_]\w*)?\$)[\s\S]*?\1
    | --[^\n]* | /\*[\s\S]*?\*/ | \w+ | [\s\S]""",
    re.VERBOSE,
)
#: A table's name as PostgreSQL reads one: up to three names (schema.table, or database.schema.table)
#: separated by dots, each "quoted" or not.
_PART = r'\s*(?:"((?:[^"]|"")+)"|([^\s."]+))\s*'
_RELATION = re.compile(rf"{_PART}(?:\.{_PART}){{0,2}}")


class DatabaseError(ValueError):
    """A database that cannot be reached or read, or a table or query that fails, in one line."""


def is_database(text: str) -> bool:
    return text.partition(":")[0].lower() in SCHEMES


class TimeKind(StrEnum):
    """The PostgreSQL types a store reads rows by, each read as a time in UTC."""

    TIMESTAMPTZ = "timestamptz"
    TIMESTAMP = "timestamp"  # without a time zone: UTC, as ingestion reads it
    DATE = "date"

    def monday(self, column: str) -> str:
        """SQL for the Monday (a date) of each value's week, in UTC."""
        if self is TimeKind.TIMESTAMPTZ:
            column = f"{column} AT TIME ZONE 'UTC'"
        elif self is TimeKind.DATE:
            column = f"{column}::timestamp"
        return f"date_trunc('week', {column})::date"

    def literal(self, day: date) -> str:
        """SQL for the start of ``day`` in UTC, as a value of this type: compared as the column is."""
        text = f"{day.isoformat()} 00:00:00+00" if self is TimeKind.TIMESTAMPTZ else day.isoformat()
        return f"'{text}'::{self}"


@dataclass(frozen=True)
class Window:
    """The weeks a read covers whole: every week from ``since`` on, and ``weeks`` before it.

    ``since`` None covers every week: a full read.
    """

    since: date | None = None
    weeks: frozenset[date] = frozenset()

    def covers(self, week: date) -> bool:
        return self.since is None or week >= self.since or week in self.weeks


@dataclass(frozen=True)
class Weeks:
    """The rows whose ``column`` (of type ``kind``) falls in a week ``window`` covers."""

    column: str
    kind: TimeKind
    window: Window

    def sql(self) -> str:
        column = _identifier(self.column)
        since = "TRUE" if self.window.since is None else f"{column} >= {self.kind.literal(self.window.since)}"
        if not self.window.weeks:
            return since
        weeks = ",".join(week.isoformat() for week in sorted(self.window.weeks))
        return f"({since} OR {self.kind.monday(column)} = ANY('{{{weeks}}}'::date[]))"


@dataclass(frozen=True, kw_only=True)
class DatabaseSource:
    """Rows of a table, or of a query, in the PostgreSQL database at ``uri``."""

    uri: str = field(repr=False)  # it may hold a password: ``label`` names the source
    table: str | None = None
    query: str | None = None
    #: Only rows in some weeks of a time column: what a run through a store reads.
    within: Weeks | None = None

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

    def relation(self) -> str:
        """The table as PostgreSQL reads its name, quoted: ``Jobs`` is ``"jobs"``, ``"Jobs"`` keeps
        its case, ``a.b`` is table ``b`` of schema ``a`` and ``"a.b"`` a table of that name."""
        if not _RELATION.fullmatch(table := str(self.table)):
            raise DatabaseError(
                f"{self.label}: {table!r} is not a table's name: [schema.]table, each part in double "
                "quotes where it holds upper case, dots or spaces"
            )
        names = re.findall(_PART, table)
        return ".".join(_identifier(quoted.replace('""', '"') or _folded(plain)) for quoted, plain in names)

    def sql(self) -> str:
        rows = f"SELECT * FROM {self.relation()}" if self.table else _statement(str(self.query))
        if self.within is None:
            return rows
        return f"SELECT * FROM ({rows}) AS postings WHERE {self.within.sql()}"


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


def week_counts(source: DatabaseSource, column: str) -> tuple[TimeKind, dict[date, int]]:
    """How ``column`` holds times, and the source's rows per week of it (Mondays, UTC).

    One query that sends back a number per week, however many rows the weeks hold. A column
    that is not a timestamp or a date is a DatabaseError: rows are chosen by it in SQL.
    """
    rows = f"({source.sql()}) AS postings"
    with _connected(source) as connection, connection.cursor() as cursor:
        found = cursor.adbc_execute_schema(f"SELECT * FROM {rows}")
        if column not in found.names:
            raise DatabaseError(f"{source.label}: no column {column!r} to read rows by")
        typed = _type_of(found.field(column))
        if typed not in set(TimeKind):
            raise DatabaseError(
                f"{source.label}: posted_at ({column}) is {typed or 'not a time'}; a store chooses rows "
                f"by it in SQL, so make it a timestamp, or cast it in --query ({column}::timestamptz)"
            )
        kind, name = TimeKind(typed), _identifier(column)
        weekly = f"SELECT {kind.monday(name)}, count(*) FROM {rows} WHERE {name} IS NOT NULL GROUP BY 1"
        cursor.execute(weekly)
        return kind, dict(cursor.fetchall())


def copy_to_parquet(source: DatabaseSource, path: Path) -> int:
    """Write every row of ``source`` to the Parquet file ``path``, a batch at a time; the row count.

    The batches are the driver's: about 16 MB of rows each (``adbc.postgresql.batch_size_hint_bytes``).
    """
    import pyarrow.parquet as pq

    rows = 0
    with _connected(source) as connection:
        with connection.cursor() as cursor:
            readable = _readable(cursor, source.sql())
        batches = pl.read_database(readable, connection, iter_batches=True)
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
    """A name, a column's as the driver gives it, quoted for SQL as it is: case, dots and all."""
    return '"' + name.replace('"', '""') + '"'


def _folded(name: str) -> str:
    """An unquoted name as PostgreSQL reads it: ASCII letters in lower case, other characters kept."""
    return re.sub("[A-Z]+", lambda upper: upper[0].lower(), name)


def _statement(query: str) -> str:
    """``query`` without the semicolons, spaces and comments after its last clause, so that it
    reads the same inside parentheses: ``SELECT 1; -- the lot`` is ``SELECT 1``."""
    end = 0
    for piece in _SQL_PIECES.finditer(query):
        if not (piece[0].isspace() or piece[0] == ";" or piece[0].startswith(("--", "/*"))):
            end = piece.end()
    return query[:end]


def _readable(cursor: Cursor, rows: str) -> str:
    """``rows`` with each column of a type the copy cannot carry (``CARRIED``) cast to one it can:
    ``CAST``, or text. The types are asked of PostgreSQL without running the query."""
    schema = cursor.adbc_execute_schema(f"SELECT * FROM ({rows}) AS postings")
    types = [_type_of(field) for field in schema]
    if all(kind in CARRIED for kind in types):
        return rows
    columns = ", ".join(
        f"p.c{n}{'' if kind in CARRIED else '::' + CAST.get(kind, 'text')} AS {_identifier(field.name)}"
        for n, (field, kind) in enumerate(zip(schema, types, strict=True))
    )
    positions = ", ".join(f"c{n}" for n in range(len(types)))  # the driver's names may repeat
    return f"SELECT {columns} FROM ({rows}) AS p ({positions})"


def _type_of(field: pa.Field) -> str:
    """A column's PostgreSQL type, by its ``pg_type`` name, as the driver describes it."""
    name: bytes = (field.metadata or {}).get(b"POSTGRESQL:type", b"")
    return name.decode()


def _check_table(cursor: Cursor, source: DatabaseSource) -> None:
    """A DatabaseError naming the tables with close names when ``source``'s table does not exist."""
    relation = source.relation()
    cursor.execute("SELECT to_regclass($1) IS NOT NULL", parameters=(relation,))
    if cursor.fetchone() == (True,):
        return
    cursor.execute(
        "SELECT c.oid::regclass::text FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname NOT LIKE 'pg\\_%' "
        "AND n.nspname <> 'information_schema'"
    )
    tables = {name.replace('"', "").lower(): name for (name,) in cursor.fetchall()}
    close = [tables[key] for key in difflib.get_close_matches(relation.replace('"', "").lower(), tables)]
    why = f"table {relation} does not exist (a name keeps upper case, dots or spaces only in double quotes)"
    raise DatabaseError(f"{source.label}: {why}" + (f"; did you mean {', '.join(close)}?" if close else ""))


@contextlib.contextmanager
def _connected(source: DatabaseSource) -> Iterator[Connection]:
    """An ADBC connection; any failure to connect or read is a DatabaseError naming the source."""
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi
    import pyarrow as pa

    try:
        with adbc_driver_postgresql.dbapi.connect(source.uri) as connection:
            with connection.cursor() as cursor:
                for statement in READ_ONLY:  # a query may not write, nor call nextval()
                    cursor.execute(statement)
                if source.table:
                    _check_table(cursor, source)
            yield connection
    # OSError: a connection lost while rows stream in; ArrowException: a query failing mid-stream
    except (adbc_driver_manager.Error, pl.exceptions.PolarsError, OSError, pa.ArrowException) as exc:
        raise DatabaseError(f"{source.label}: {_first_line(exc, source.uri)}") from None


def _first_line(error: Exception, uri: str) -> str:
    """The driver's message, first line only, with the password masked in every spelling."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return scrubbed(text, uri)
