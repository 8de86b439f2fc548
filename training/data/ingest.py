"""Read postings and split every row into accepted or quarantined, with a reason.

No row is dropped silently: ``rows == accepted + quarantined`` always holds. A quarantined row
keeps its file, its row number (1 = the first data row) and its original values as text, plus a
machine-readable ``reason``. Files are streamed: the first pass reads only the mapped columns,
and original values are read back only for the rows that were quarantined (``quarantine``). A
file that changes between the first read and the last is refused rather than read as a mix.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from gigcast.countries import to_alpha2
from gigcast.taxonomy import Taxonomy
from training.data import normalise
from training.data.columns import KEPT, ColumnError, Separator, resolve
from training.data.database import DatabaseError, DatabaseSource, copy_to_parquet
from training.data.limits import Limits
from training.data.quarantine import FILE, ROW, originals
from training.data.sources import (
    READ_ERRORS,
    SourceError,
    check_unchanged,
    find_files,
    first_line,
    head,
    reading,
    scan,
    schema_of,
    unreadable,
    version_of,
)

#: Rows of each file read to judge how its skills column separates skills, and of those, how many
#: to judge its timestamps' layout.
SEPARATOR_SAMPLE, LAYOUT_SAMPLE = 5000, 500
#: True where a cell of the row is longer than ``Limits.max_chars``.
TOO_LONG = "_too_long"
#: Columns with few distinct values, normalised once per value.
DISTINCT = ("is_hourly", "experience_level", "country", "category")
REASONS = (
    "value_too_long",
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
class IngestResult:
    """Accepted postings in canonical columns, and the rest with their reasons."""

    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> canonical -> source
    #: The taxonomy read with, and the skills of the data's own labels (those it lacked, and the
    #: aliases set aside), under the data's names.
    taxonomy: Taxonomy = field(default_factory=lambda: Taxonomy(()))
    separators: dict[str, str] = field(default_factory=dict)  # file -> how its skills column was split
    #: Labels kept as skills of their own rather than merged by the taxonomy's aliases.
    set_aside: tuple[normalise.SetAside, ...] = ()

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
            "skill_separators": self.separators,
            "aliases_set_aside": [
                {"label": s.label, "skill": s.skill, "alias_of": s.alias_of, "beside": list(s.beside)}
                for s in self.set_aside
            ],
        }


def ingest(
    sources: Sequence[Path | DatabaseSource],
    *,
    taxonomy: Taxonomy,
    columns: dict[str, str] | None = None,
    limits: Limits = Limits(),
    separator: Separator = Separator.AUTO,
    now: datetime | None = None,
) -> IngestResult:
    """Validate and normalise the postings of ``sources``: files, directories, database tables or queries.

    A database source is copied to a Parquet file first and read as one, under its own label.
    ``separator`` says how a text skills column lists skills; by default it is judged per file.
    Raises IngestError, naming the file or database, for any input that cannot be read.
    """
    labels: dict[str, str] = {}  # each database copy's path -> its source's label
    try:
        with tempfile.TemporaryDirectory(prefix="gigcast-rows-") as scratch:
            paths = _staged(sources, Path(scratch), labels)
            result = _ingest(paths, taxonomy, columns or {}, limits, separator, now or datetime.now(UTC))
    except (SourceError, ColumnError, DatabaseError, IngestError) as exc:
        message = str(exc)
        for path, label in labels.items():
            message = message.replace(path, label)
        raise IngestError(message) from None
    return _relabelled(result, labels) if labels else result


def _staged(sources: Sequence[Path | DatabaseSource], scratch: Path, labels: dict[str, str]) -> list[Path]:
    """Paths to read for ``sources``, each database's rows copied into ``scratch`` under its label."""
    paths: list[Path] = []
    for index, source in enumerate(sources):
        if isinstance(source, DatabaseSource):
            copy = scratch / f"{index}.parquet"
            labels[str(copy)] = source.label
            copy_to_parquet(source, copy)
            source = copy
        paths.append(source)
    return paths


def _relabelled(result: IngestResult, labels: dict[str, str]) -> IngestResult:
    """``result`` with each database copy named by its source's label."""
    return replace(
        result,
        quarantined=result.quarantined.with_columns(pl.col("source").replace(labels)),
        columns={labels.get(path, path): found for path, found in result.columns.items()},
        separators={labels.get(path, path): how for path, how in result.separators.items()},
    )


def _ingest(
    paths: Sequence[Path],
    taxonomy: Taxonomy,
    columns: dict[str, str],
    limits: Limits,
    separator: Separator,
    now: datetime,
) -> IngestResult:
    files = find_files(paths)
    versions = [version_of(path) for path in files]  # before the first read of each
    scans = [_scan(index, path, columns, taxonomy, separator, limits) for index, path in enumerate(files)]
    raw = _collected(files, [scanned.frame for scanned in scans])
    labels = normalise.resolve_tags(_by_count(raw["_tags"]), taxonomy)
    verdicts = _normalised(raw, labels, taxonomy)
    del raw
    verdicts = verdicts.with_columns(reason=_first_broken_rule(limits, now))
    valid = pl.col("reason").is_null()
    duplicate = valid & ~pl.when(valid).then(pl.col("posting_id")).is_first_distinct()
    verdicts = verdicts.with_columns(
        reason=pl.when(duplicate).then(pl.lit("duplicate_posting_id")).otherwise("reason")
    )
    rejected = verdicts.filter(pl.col("reason").is_not_null()).select(FILE, ROW, "reason")
    accepted = verdicts.select(*KEPT, "reason").filter(pl.col("reason").is_null()).drop("reason")
    del verdicts
    quarantined = originals(files, rejected, max_chars=limits.max_chars)
    for path, version in zip(files, versions, strict=True):  # after the last read of each
        check_unchanged(path, version)
    return IngestResult(
        accepted=accepted,
        quarantined=quarantined,
        columns={str(path): scanned.found for path, scanned in zip(files, scans, strict=True)},
        taxonomy=taxonomy.with_labels(labels.names),
        set_aside=labels.set_aside,
        separators={
            str(path): str(scanned.separator)
            for path, scanned in zip(files, scans, strict=True)
            if scanned.separator
        },
    )


@dataclass(frozen=True)
class _Scanned:
    frame: pl.LazyFrame
    found: dict[str, str]  # canonical -> source column
    separator: Separator | None  # how the skills column was split; None without a text one


def _scan(
    index: int, path: Path, mapping: dict[str, str], taxonomy: Taxonomy, separator: Separator, limits: Limits
) -> _Scanned:
    """One file's rows, parsed where each row has its own value and raw where values repeat.

    This is the main pass over the file, and it streams. Columns with few distinct values stay
    raw here and are normalised once per value by ``_normalised``. A row with a cell longer than
    ``limits.max_chars`` reads as empty and is quarantined for it, so no cell costs more than that.
    """
    frame = scan(path)
    schema = schema_of(path)
    found = resolve(schema.names(), mapping, where=str(path))
    _check_sources(path, found, schema)
    missing = [c for c in ("posting_id", "posted_at") if c not in found]
    if not {"skills", "title"} & found.keys():
        missing.append("skills or title")
    if missing:
        raise IngestError(
            f"{path}: missing required columns: {', '.join(missing)} "
            f"(map an export's own names with --column CANONICAL=SOURCE)"
        )

    def raw(name: str) -> pl.Expr:
        if name not in found:
            return pl.lit(None, pl.String)
        return pl.when(~pl.col(TOO_LONG)).then(pl.col(found[name]))

    def dtype(name: str) -> pl.DataType:
        return schema[found[name]] if name in found else pl.String()

    lengths = {
        source: length for source in found.values() if (length := _length(source, schema[source])) is not None
    }
    too_long = pl.any_horizontal(False, *(length > limits.max_chars for length in lengths.values()))
    # the file's first rows, read once: how its skills are separated and its timestamps written
    sampled = [found[name] for name in ("skills", "posted_at") if name in found]
    sample = head(path, SEPARATOR_SAMPLE, sampled).filter(
        pl.all_horizontal(True, *(lengths[name] <= limits.max_chars for name in sampled if name in lengths))
    )
    split: Separator | None = None
    if "skills" in found:
        listed = isinstance(dtype("skills"), pl.List)
        if not listed:
            split = separator
            if split == Separator.AUTO:
                split = normalise.separator_of(sample[found["skills"]], taxonomy)
        tags = normalise.skill_tags(raw("skills"), dtype("skills"), split or Separator.NONE, taxonomy)
        untagged = tags.list.len() == 0 if listed else _blank(raw("skills"))
    else:
        tags, untagged = pl.lit([], pl.List(pl.String)), pl.lit(True)
    layouts: tuple[str, ...] = normalise.LAYOUTS
    if dtype("posted_at") == pl.String:
        layouts = normalise.layouts_by_fit(sample[found["posted_at"]].head(LAYOUT_SAMPLE))
    rate = normalise.numbers(raw("hourly_rate"), dtype("hourly_rate"))
    low = normalise.numbers(raw("hourly_rate_min"), dtype("hourly_rate_min"))
    high = normalise.numbers(raw("hourly_rate_max"), dtype("hourly_rate_max"))
    budget = normalise.numbers(raw("budget_usd"), dtype("budget_usd"))
    posted_text = raw("posted_at").cast(pl.String).str.strip_chars()
    posted_at = normalise.timestamps(raw("posted_at"), dtype("posted_at"), layouts=layouts[:1])
    text = pl.concat_str(
        [raw("title").cast(pl.String), raw("description").cast(pl.String)], separator=" ", ignore_nulls=True
    )
    scanned = (
        frame.with_row_index(ROW, offset=1)
        .with_columns(too_long.fill_null(False).alias(TOO_LONG))
        .select(
            pl.lit(index, pl.UInt16).alias(FILE),
            pl.col(ROW),
            pl.col(TOO_LONG),
            raw("posting_id").cast(pl.String).str.strip_chars().alias("posting_id"),
            posted_at.alias("posted_at"),
            (posted_text.is_null() | (posted_text == "")).alias("_posted_missing"),
            pl.when(posted_at.is_null()).then(posted_text).alias("_posted_text"),  # for the other layouts
            tags.alias("_tags"),
            # Only where no skill is listed; found as the rows stream by, so no text is kept.
            normalise.named_in(pl.when(untagged).then(_without_tags(text)), taxonomy).alias("_named"),
            pl.coalesce(rate, (low + high) / 2, low, high).alias("hourly_rate"),
            pl.any_horizontal(rate.is_nan(), low.is_nan(), high.is_nan()).alias("_rate_nan"),
            (low > high).fill_null(False).alias("_rate_inverted"),
            budget.alias("budget_usd"),
            *(raw(name).cast(pl.String).alias(name) for name in DISTINCT),
        )
    )
    return _Scanned(scanned, found, split)


def _length(name: str, dtype: pl.DataType) -> pl.Expr | None:
    """Characters in a cell of a text column, or in all the items of a list of text; None for others."""
    if dtype == pl.String:
        return pl.col(name).str.len_chars()
    if isinstance(dtype, pl.List) and dtype.inner == pl.String:
        return pl.col(name).list.eval(pl.element().str.len_chars()).list.sum()
    return None


def _without_tags(text: pl.Expr) -> pl.Expr:
    """Text without its HTML tags, which can spell skills that the posting does not ask for."""
    return text.str.replace_all(r"<[^>]*>", " ")


def _check_sources(path: Path, found: dict[str, str], schema: pl.Schema) -> None:
    """Refuses a file whose canonical columns are ambiguous or hold values that are not plain."""
    for canonical, source in found.items():
        if f"{source}_duplicated_0" in schema:
            raise IngestError(f"{path}: the header names {source!r} more than once; rename the others")
        dtype = schema[source]
        plain = dtype.inner if canonical == "skills" and isinstance(dtype, pl.List) else dtype
        if plain.is_nested() or plain == pl.Binary:
            expected = "text or a list of text" if canonical == "skills" else "text, a number or a date"
            raise IngestError(
                f"{path}: column {source!r} holds {dtype} values; {canonical} must be {expected}"
            )


def _collected(files: list[Path], frames: list[pl.LazyFrame]) -> pl.DataFrame:
    """The first pass over every file, read together; a file that cannot be read is named."""
    try:
        return pl.concat(frames).collect(engine="streaming")
    except READ_ERRORS as exc:
        if len(files) == 1:
            raise unreadable(files[0], exc) from None
        for path, frame in zip(files, frames, strict=True):
            with reading(path):
                frame.collect(engine="streaming")
        raise SourceError(f"{', '.join(map(str, files))}: {first_line(exc)}") from None


def _blank(text: pl.Expr) -> pl.Expr:
    """True where a skills cell lists nothing: empty, or only separators and quotes."""
    return text.cast(pl.String).str.replace_all(r"[\s;,\[\]'\"]", "").fill_null("") == ""


def _by_count(tags: pl.Series) -> list[str]:
    """The distinct tags, most common first (ties in order of their text, so that runs agree)."""
    counts = tags.explode().drop_nulls().value_counts(name="count")
    return counts.sort(["count", tags.name], descending=[True, False])[tags.name].to_list()


def _normalised(raw: pl.DataFrame, labels: normalise.Labels, taxonomy: Taxonomy) -> pl.DataFrame:
    """Few-valued columns mapped once per distinct value; skills from tags, else those found in text."""
    lookups = {
        name: normalise.mapped(
            pl.col(name), {v: to_canonical(v) for v in raw[name].drop_nulls().unique()}, result
        )
        for name, to_canonical, result in (
            ("is_hourly", normalise.hourly_of, pl.Boolean()),
            ("experience_level", normalise.level_of, pl.String()),
            ("country", to_alpha2, pl.String()),
            ("category", normalise.plain_text, pl.String()),
        )
    }
    listed = normalise.canonical_skills(pl.col("_tags"), labels.ids)
    found = labels.found(raw["_named"].explode().drop_nulls().unique().to_list(), taxonomy)
    return raw.with_columns(
        posted_at=pl.coalesce("posted_at", normalise.timestamps(pl.col("_posted_text"), pl.String())),
        # A row with tags has nothing found in its text and one without has no tags: one side is
        # always empty.
        skills=listed.list.concat(normalise.canonical_skills(pl.col("_named"), found)),
        **lookups,
    ).drop("_tags", "_named", "_posted_text")


def _first_broken_rule(limits: Limits, now: datetime) -> pl.Expr:
    """The reason of the first rule a parsed row breaks, in the order of REASONS; null if none."""
    posting_id, posted_at, hourly = pl.col("posting_id"), pl.col("posted_at"), pl.col("hourly_rate")
    budget = pl.col("budget_usd")
    return (
        pl.when(pl.col(TOO_LONG))
        .then(pl.lit("value_too_long"))
        .when(posting_id.is_null() | (posting_id == ""))
        .then(pl.lit("missing_posting_id"))
        .when(pl.col("_posted_missing"))
        .then(pl.lit("missing_posted_at"))
        .when(posted_at.is_null())
        .then(pl.lit("unparseable_posted_at"))
        .when(posted_at > now)
        .then(pl.lit("posted_at_in_future"))
        .when(pl.col("_rate_nan"))
        .then(pl.lit("rate_not_a_number"))
        .when(budget.is_nan())
        .then(pl.lit("budget_not_a_number"))
        .when(pl.col("_rate_inverted"))
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
