"""Read postings files and split every row into accepted or quarantined, with a reason.

No row is dropped silently: ``rows == accepted + quarantined`` always holds, and a
quarantined row keeps its original values, its row number and a machine-readable reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from gigcast.countries import to_alpha2
from gigcast.taxonomy import EXPERIENCE_LEVELS, Taxonomy

READERS = {
    ".parquet": pl.scan_parquet,
    ".csv": lambda path: pl.scan_csv(path, infer_schema=False),
    ".ndjson": pl.scan_ndjson,
    ".jsonl": pl.scan_ndjson,
}
REQUIRED = ("posting_id", "posted_at")
ROW_NUMBER = "row_number"


class IngestError(ValueError):
    """The input cannot be read at all: a missing file, an unknown format, missing columns."""


@dataclass(frozen=True)
class Limits:
    min_rate: float = 3.0
    max_rate: float = 1000.0


@dataclass(frozen=True)
class IngestResult:
    """Accepted postings in canonical columns, and the rest with their reasons."""

    accepted: pl.DataFrame
    quarantined: pl.DataFrame

    @property
    def rows(self) -> int:
        return self.accepted.height + self.quarantined.height

    def reasons(self) -> dict[str, int]:
        counts = self.quarantined.group_by("reason").len().sort("reason")
        return dict(counts.iter_rows())


def scan_postings(path: Path) -> pl.LazyFrame:
    """A lazy frame over one postings file, every column as text when the format has no types."""
    if not path.exists():
        raise IngestError(f"no such file: {path}")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise IngestError(f"{path}: unknown format {path.suffix!r}; use one of {', '.join(READERS)}")
    frame: pl.LazyFrame = reader(path)
    return frame


def ingest(
    path: Path,
    *,
    taxonomy: Taxonomy,
    limits: Limits = Limits(),
    now: datetime | None = None,
) -> IngestResult:
    """Validate and normalise the postings of ``path``."""
    raw = scan_postings(path).with_row_index(ROW_NUMBER, offset=1).collect()
    missing = [c for c in REQUIRED if c not in raw.columns]
    if "skills" not in raw.columns and "title" not in raw.columns:
        missing.append("skills or title")
    if missing:
        raise IngestError(f"{path}: missing required columns: {', '.join(missing)}")
    parsed = raw.with_columns(
        _posted_at(raw.schema["posted_at"]).alias("_posted_at"),
        _rate().alias("_rate"),
        _level().alias("_level"),
        _skills(raw, taxonomy).alias("_skills"),
    )
    now = now or datetime.now(UTC)
    reason = (
        pl.when(pl.col("posting_id").is_null() | (pl.col("posting_id").cast(pl.String) == ""))
        .then(pl.lit("missing_posting_id"))
        .when(pl.col("posted_at").is_null())
        .then(pl.lit("missing_posted_at"))
        .when(pl.col("_posted_at").is_null())
        .then(pl.lit("unparseable_posted_at"))
        .when(pl.col("_posted_at") > now)
        .then(pl.lit("posted_at_in_future"))
        .when(pl.col("_rate").is_nan())
        .then(pl.lit("rate_not_a_number"))
        .when(pl.col("_rate").is_not_null() & ~pl.col("_rate").is_between(limits.min_rate, limits.max_rate))
        .then(pl.lit("rate_out_of_range"))
        .when(pl.col("_level") == "unknown")
        .then(pl.lit("unknown_experience_level"))
        .when(pl.col("_skills").list.len() == 0)
        .then(pl.lit("no_skill"))
        .when(pl.col("posting_id").is_first_distinct().not_())
        .then(pl.lit("duplicate_posting_id"))
    )
    checked = parsed.with_columns(reason.alias("reason"))
    accepted = checked.filter(pl.col("reason").is_null()).select(
        pl.col("posting_id").cast(pl.String),
        pl.col("_posted_at").alias("posted_at"),
        pl.col("_skills").alias("skills"),
        pl.col("_rate").alias("hourly_rate"),
        pl.col("_level").alias("experience_level"),
        _country(raw).alias("country"),
    )
    quarantined = checked.filter(pl.col("reason").is_not_null()).select(
        ROW_NUMBER, "reason", *[pl.col(c).cast(pl.String) for c in raw.columns if c != ROW_NUMBER]
    )
    return IngestResult(accepted=accepted, quarantined=quarantined)


#: Timestamp layouts seen in exports; the first that parses a value wins (all read as UTC).
ZONED_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z")
NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")


def _posted_at(dtype: pl.DataType) -> pl.Expr:
    column = pl.col("posted_at")
    if dtype == pl.String:
        text = column.str.strip_chars()
        return pl.coalesce(
            *(
                text.str.to_datetime(f, strict=False, time_unit="us").dt.convert_time_zone("UTC")
                for f in ZONED_FORMATS
            ),
            *(
                text.str.to_datetime(f, strict=False, time_unit="us").dt.replace_time_zone("UTC")
                for f in NAIVE_FORMATS
            ),
            text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        )
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return column.dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        return column.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if dtype == pl.Date:
        return column.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return pl.lit(None, pl.Datetime("us", "UTC"))


def _rate() -> pl.Expr:
    """Hourly rate as a float: NaN when present but not a number, null when absent."""
    text = pl.col("hourly_rate").cast(pl.String).str.strip_chars().str.strip_prefix("$")
    value = text.cast(pl.Float64, strict=False)
    return pl.when(text.is_null() | (text == "")).then(None).otherwise(value.fill_null(float("nan")))


def _level() -> pl.Expr:
    """Entry/intermediate/expert from the common spellings; "unknown" for anything else."""
    text = pl.col("experience_level").cast(pl.String).str.to_lowercase().str.strip_chars()
    first_word = text.str.extract(r"^(\w+)")
    known = first_word.is_in(list(EXPERIENCE_LEVELS))
    return (
        pl.when(text.is_null() | (text == ""))
        .then(None)
        .when(known)
        .then(first_word)
        .otherwise(pl.lit("unknown"))
    )


def _skills(raw: pl.DataFrame, taxonomy: Taxonomy) -> pl.Expr:
    """Canonical skill ids from the ``skills`` column: a list or a ``;``-separated string."""
    if "skills" not in raw.columns:
        return pl.lit([], pl.List(pl.String))
    column = raw.schema["skills"]
    tags = pl.col("skills") if isinstance(column, pl.List) else pl.col("skills").str.split(";")
    unique = raw.select(tags.alias("tag").explode().str.strip_chars().drop_nulls().unique())["tag"]
    mapping = {tag: taxonomy.canonical(tag) for tag in unique if tag}
    return (
        tags.list.eval(pl.element().str.strip_chars().replace_strict(mapping, default=None).drop_nulls())
        .list.unique(maintain_order=True)
        .fill_null([])
    )


def _country(raw: pl.DataFrame) -> pl.Expr:
    """ISO alpha-2 codes; names no library knows stay null rather than guessed."""
    if "country" not in raw.columns:
        return pl.lit(None, pl.String)
    names = raw["country"].cast(pl.String).drop_nulls().unique()
    mapping = {name: to_alpha2(name) for name in names}
    return pl.col("country").cast(pl.String).replace_strict(mapping, default=None, return_dtype=pl.String)
