"""Polars expressions that turn an export's raw cells into canonical values.

Each takes the raw column expression and its dtype, and returns an expression: no Python runs
per row, so the same code streams over files larger than memory. Unparseable numbers become
NaN (present but wrong) rather than null (absent), so that the rules can tell them apart.
"""

from __future__ import annotations

import re

import polars as pl

from gigcast.taxonomy import Taxonomy

#: Timestamp layouts seen in exports; the first that parses a value wins.
ZONED_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z")
NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")
UTC = pl.Datetime("us", "UTC")
LEVEL_WORDS = {
    "entry": "entry",
    "beginner": "entry",
    "junior": "entry",
    "intermediate": "intermediate",
    "mid": "intermediate",
    "medium": "intermediate",
    "expert": "expert",
    "senior": "expert",
    "advanced": "expert",
}
HOURLY_WORDS = {"true": True, "1": True, "yes": True, "hourly": True}
HOURLY_WORDS |= {
    w: False for w in ("false", "0", "no", "fixed", "fixed_budget", "fixed-price", "fixed price", "no_budget")
}
QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""


def timestamps(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """UTC timestamps from text in common layouts, dates, datetimes or epoch seconds/millis."""
    if isinstance(dtype, pl.Datetime):
        zoned = raw.dt.convert_time_zone("UTC") if dtype.time_zone else raw.dt.replace_time_zone("UTC")
        return zoned.dt.cast_time_unit("us")
    if dtype == pl.Date:
        return raw.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_integer():
        unit = pl.when(raw.abs() > 100_000_000_000).then(raw * 1000).otherwise(raw * 1_000_000)
        return unit.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    text = raw.cast(pl.String).str.strip_chars()
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


def numbers(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Floats from numbers or text like ``"$1,200.50"``: null when empty, NaN when not a number."""
    if dtype.is_numeric():
        return raw.cast(pl.Float64)
    text = raw.cast(pl.String).str.replace_all(r"[\s$,]", "")
    value = text.cast(pl.Float64, strict=False)
    return pl.when(text.is_null() | (text == "")).then(None).otherwise(value.fill_null(float("nan")))


def levels(raw: pl.Expr) -> pl.Expr:
    """entry | intermediate | expert from "Entry level", "EXPERT", "senior", ...; "unknown" else."""
    text = raw.cast(pl.String).str.strip_chars().str.to_lowercase()
    word = text.str.extract(r"^([a-z]+)").replace_strict(LEVEL_WORDS, default="unknown")
    return pl.when(text.is_null() | (text == "")).then(None).otherwise(word)


def hourly_flags(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """True for hourly postings, False for fixed-price ones, null when the export does not say."""
    if dtype == pl.Boolean:
        return raw
    text = raw.cast(pl.String).str.strip_chars().str.to_lowercase()
    return text.replace_strict(HOURLY_WORDS, default=None, return_dtype=pl.Boolean)


def skill_tags(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Raw tags from a list, a list literal in text, or a ``;``- or ``,``-separated string."""
    if isinstance(dtype, pl.List):
        return raw.cast(pl.List(pl.String))
    text = raw.cast(pl.String).str.strip_chars()
    literal = text.str.extract_all(QUOTED).list.eval(
        pl.element().str.slice(1, pl.element().str.len_chars() - 2)
    )
    return (
        pl.when(text.str.starts_with("["))
        .then(literal)
        .when(text.str.contains(";", literal=True))
        .then(text.str.split(";"))
        .otherwise(text.str.split(","))
    )


def slugs(text: pl.Expr) -> pl.Expr:
    """The same ids as ``gigcast.taxonomy.slugify``, computed by polars."""
    return (
        text.str.strip_chars().str.to_lowercase().str.replace_all(r"[^a-z0-9+#]+", "-").str.strip_chars("-")
    )


def canonical_skills(tags: pl.Expr, taxonomy: Taxonomy) -> pl.Expr:
    """Taxonomy ids for raw tags; a tag the taxonomy lacks becomes a skill under its own slug."""
    names = taxonomy.names
    tag = pl.element().str.strip_chars().str.to_lowercase()
    slug = slugs(tag)
    known = tag.replace_strict(names, default=None, return_dtype=pl.String)
    skill = known.fill_null(slug.replace_strict(names, default=None, return_dtype=pl.String)).fill_null(slug)
    return tags.list.eval(skill.filter(skill != "")).list.unique(maintain_order=True).fill_null([])


def extracted_skills(text: pl.Expr, taxonomy: Taxonomy) -> pl.Expr:
    """Taxonomy skills named in free text (title, description), matched on word boundaries."""
    spellings = sorted(
        {name for name in taxonomy.names if len(name) >= 3 and not name.isdigit()}, key=len, reverse=True
    )
    pattern = r"(?i)\b(?:" + "|".join(re.escape(s) for s in spellings) + r")\b"
    found = text.str.extract_all(pattern).list.eval(
        pl.element().str.to_lowercase().replace_strict(taxonomy.names, default=None, return_dtype=pl.String)
    )
    return found.list.drop_nulls().list.unique(maintain_order=True).fill_null([])


def countries(raw: pl.Expr, codes: dict[str, str | None]) -> pl.Expr:
    """ISO alpha-2 codes through a lookup made once per distinct spelling; unknown stays null."""
    return raw.cast(pl.String).str.strip_chars().replace_strict(codes, default=None, return_dtype=pl.String)


def plain_text(raw: pl.Expr) -> pl.Expr:
    """Text with HTML tags and the common entities of scraped exports removed."""
    return (
        raw.cast(pl.String)
        .str.replace_all(r"<[^>]*>", " ")
        .str.replace_all("&amp;", "&", literal=True)
        .str.replace_all("&nbsp;", " ", literal=True)
        .str.strip_chars()
    )
