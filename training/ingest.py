"""Read postings and split every row into accepted or quarantined, with a reason.

No row is dropped silently: ``rows == accepted + quarantined`` always holds. A quarantined row
keeps its file, its row number (1 = the first data row) and its original values as text, plus a
machine-readable ``reason``. Files are scanned lazily: the first pass reads only the mapped
columns, and original values are read back only for the rows that were quarantined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from gigcast.countries import to_alpha2
from gigcast.taxonomy import Taxonomy
from training import normalise
from training.columns import ColumnError, resolve
from training.sources import SourceError, find_files, scan

ROW = "row_number"
ACCEPTED_COLUMNS = (
    "posting_id",
    "posted_at",
    "skills",
    "hourly_rate",
    "is_hourly",
    "budget_usd",
    "experience_level",
    "country",
    "category",
)
REASONS = (
    "missing_posting_id",
    "missing_posted_at",
    "unparseable_posted_at",
    "posted_at_in_future",
    "rate_not_a_number",
    "budget_not_a_number",
    "rate_range_inverted",
    "rate_out_of_range",
    "budget_out_of_range",
    "unknown_experience_level",
    "no_skill",
    "duplicate_posting_id",
)


class IngestError(ValueError):
    """The input cannot be read at all: a missing file, an unknown format, missing columns."""


@dataclass(frozen=True)
class Limits:
    """Hourly rates outside [min_rate, max_rate] USD/h are quarantined."""

    min_rate: float = 3.0
    max_rate: float = 1000.0


@dataclass(frozen=True)
class IngestResult:
    """Accepted postings in canonical columns, and the rest with their reasons."""

    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> canonical -> source

    @property
    def rows(self) -> int:
        return self.accepted.height + self.quarantined.height

    @property
    def rejected_share(self) -> float:
        return self.quarantined.height / self.rows if self.rows else 0.0

    def reasons(self) -> dict[str, int]:
        counts = self.quarantined.group_by("reason").len().sort("len", "reason", descending=[True, False])
        return dict(counts.iter_rows())

    def skills(self) -> int:
        return self.accepted["skills"].explode().n_unique() if self.accepted.height else 0

    def summary(self) -> dict[str, object]:
        """What ``validate --json`` prints: counts that reconcile, reasons, and what was read."""
        posted = self.accepted["posted_at"]
        first, last = posted.min(), posted.max()
        return {
            "rows": self.rows,
            "accepted": self.accepted.height,
            "quarantined": self.quarantined.height,
            "rejected_share": round(self.rejected_share, 6),
            "reasons": self.reasons(),
            "skills": self.skills(),
            "countries": self.accepted["country"].drop_nulls().n_unique(),
            "with_hourly_rate": self.accepted["hourly_rate"].is_not_null().sum(),
            "first_posted_at": first.isoformat() if isinstance(first, datetime) else None,
            "last_posted_at": last.isoformat() if isinstance(last, datetime) else None,
            "columns": self.columns,
        }


def ingest(
    paths: Sequence[Path],
    *,
    taxonomy: Taxonomy,
    columns: dict[str, str] | None = None,
    limits: Limits = Limits(),
    now: datetime | None = None,
) -> IngestResult:
    """Validate and normalise the postings of ``paths`` (files or directories)."""
    try:
        files = find_files(paths)
        planned = [_plan(path, taxonomy, columns or {}, limits, now or datetime.now(UTC)) for path in files]
    except (SourceError, ColumnError) as exc:
        raise IngestError(str(exc)) from None
    verdicts = pl.concat([frame for frame, _ in planned]).collect(engine="streaming")
    valid = pl.col("reason").is_null()
    duplicate = valid & ~pl.col("posting_id").is_first_distinct().over(valid)
    verdicts = verdicts.with_columns(
        reason=pl.when(duplicate).then(pl.lit("duplicate_posting_id")).otherwise(pl.col("reason"))
    )
    accepted = verdicts.filter(pl.col("reason").is_null()).select(ACCEPTED_COLUMNS)
    rejected = verdicts.filter(pl.col("reason").is_not_null()).select("source", ROW, "reason")
    return IngestResult(
        accepted=accepted,
        quarantined=_originals(files, rejected),
        columns={str(path): found for path, (_, found) in zip(files, planned, strict=True)},
    )


def write_quarantine(quarantined: pl.DataFrame, path: Path) -> None:
    """Quarantined rows to ``.parquet``, else CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        quarantined.write_parquet(path)
    else:
        quarantined.write_csv(path)


def _plan(
    path: Path, taxonomy: Taxonomy, mapping: dict[str, str], limits: Limits, now: datetime
) -> tuple[pl.LazyFrame, dict[str, str]]:
    """One file's rows as canonical values with the first rule each breaks (lazy)."""
    frame = scan(path)
    schema = frame.collect_schema()
    found = resolve(schema.names(), mapping, where=str(path))
    missing = [c for c in ("posting_id", "posted_at") if c not in found]
    if not {"skills", "title"} & found.keys():
        missing.append("skills or title")
    if missing:
        raise IngestError(
            f"{path}: missing required columns: {', '.join(missing)} "
            f"(map an export's own names with --column CANONICAL=SOURCE)"
        )

    def raw(name: str) -> pl.Expr:
        return pl.col(found[name]) if name in found else pl.lit(None, pl.String)

    def dtype(name: str) -> pl.DataType:
        return schema[found[name]] if name in found else pl.String()

    tags = (
        normalise.skill_tags(raw("skills"), dtype("skills"))
        if "skills" in found
        else pl.lit([], pl.List(pl.String))
    )
    text = pl.concat_str(
        [normalise.plain_text(raw("title")), normalise.plain_text(raw("description"))],
        separator=" ",
        ignore_nulls=True,
    )
    parsed = frame.with_row_index(ROW, offset=1).select(
        pl.lit(str(path)).alias("source"),
        pl.col(ROW),
        raw("posting_id").cast(pl.String).str.strip_chars().alias("posting_id"),
        raw("posted_at").cast(pl.String).str.strip_chars().alias("_posted_text"),
        normalise.timestamps(raw("posted_at"), dtype("posted_at")).alias("posted_at"),
        normalise.canonical_skills(tags, taxonomy).alias("_listed"),
        text.alias("_text"),
        *(
            normalise.numbers(raw(c), dtype(c)).alias(c)
            for c in ("hourly_rate", "hourly_rate_min", "hourly_rate_max")
        ),
        normalise.numbers(raw("budget_usd"), dtype("budget_usd")).alias("budget_usd"),
        normalise.hourly_flags(raw("is_hourly"), dtype("is_hourly")).alias("is_hourly"),
        normalise.levels(raw("experience_level")).alias("experience_level"),
        normalise.countries(raw("country"), _country_codes(frame, found)).alias("country"),
        normalise.plain_text(raw("category")).alias("category"),
    )
    listed = pl.col("_listed")
    unlisted_text = pl.when(listed.list.len() == 0).then(
        pl.col("_text")
    )  # null, so free, where tags answered
    combined = parsed.with_columns(
        skills=pl.when(listed.list.len() > 0)
        .then(listed)
        .otherwise(normalise.extracted_skills(unlisted_text, taxonomy)),
        _hourly=pl.coalesce(
            "hourly_rate",
            (pl.col("hourly_rate_min") + pl.col("hourly_rate_max")) / 2,
            "hourly_rate_min",
            "hourly_rate_max",
        ),
    )
    planned = combined.with_columns(reason=_first_broken_rule(limits, now)).select(
        "source",
        ROW,
        "reason",
        *ACCEPTED_COLUMNS[:3],
        pl.col("_hourly").alias("hourly_rate"),
        *ACCEPTED_COLUMNS[4:],
    )
    return planned, found


def _first_broken_rule(limits: Limits, now: datetime) -> pl.Expr:
    """The reason of the first rule a parsed row breaks, in the order of REASONS; null if none."""
    posting_id, posted_text, posted_at = pl.col("posting_id"), pl.col("_posted_text"), pl.col("posted_at")
    rate, low, high, hourly = (
        pl.col("hourly_rate"),
        pl.col("hourly_rate_min"),
        pl.col("hourly_rate_max"),
        pl.col("_hourly"),
    )
    budget = pl.col("budget_usd")
    return (
        pl.when(posting_id.is_null() | (posting_id == ""))
        .then(pl.lit("missing_posting_id"))
        .when(posted_text.is_null() | (posted_text == ""))
        .then(pl.lit("missing_posted_at"))
        .when(posted_at.is_null())
        .then(pl.lit("unparseable_posted_at"))
        .when(posted_at > now)
        .then(pl.lit("posted_at_in_future"))
        .when(pl.any_horizontal(rate.is_nan(), low.is_nan(), high.is_nan()))
        .then(pl.lit("rate_not_a_number"))
        .when(budget.is_nan())
        .then(pl.lit("budget_not_a_number"))
        .when(low > high)
        .then(pl.lit("rate_range_inverted"))
        .when(hourly.is_not_null() & ~hourly.is_between(limits.min_rate, limits.max_rate))
        .then(pl.lit("rate_out_of_range"))
        .when(budget < 0)
        .then(pl.lit("budget_out_of_range"))
        .when(pl.col("experience_level") == "unknown")
        .then(pl.lit("unknown_experience_level"))
        .when(pl.col("skills").list.len() == 0)
        .then(pl.lit("no_skill"))
    )


def _country_codes(frame: pl.LazyFrame, found: dict[str, str]) -> dict[str, str | None]:
    """ISO codes for each distinct spelling in the file: one small pass over one column."""
    if "country" not in found:
        return {}
    spellings = frame.select(pl.col(found["country"]).cast(pl.String).str.strip_chars().unique()).collect()
    return {name: to_alpha2(name) for name in spellings.to_series() if name}


def _originals(files: list[Path], rejected: pl.DataFrame) -> pl.DataFrame:
    """The quarantined rows as they stand in their files, every value as text."""
    parts = [pl.DataFrame(schema={"source": pl.String, ROW: pl.UInt32, "reason": pl.String})]
    for path in files:
        wanted = rejected.filter(pl.col("source") == str(path)).select(ROW, "reason")
        if wanted.is_empty():
            continue
        frame = scan(path).with_row_index(ROW, offset=1)
        originals = frame.join(wanted.lazy(), on=ROW, how="inner").select(
            pl.lit(str(path)).alias("source"),
            ROW,
            "reason",
            pl.all().exclude(ROW, "reason").cast(pl.String),
        )
        parts.append(originals.collect())
    return pl.concat(parts, how="diagonal_relaxed").sort("source", ROW)
