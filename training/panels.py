"""Weekly panels from accepted postings: the series every model is fitted on.

Weeks start on Monday. A skill's demand series runs from its first posting's week to the
last week of the data, with zeros for weeks without postings: a quiet week is a zero, not a gap.
"""

from __future__ import annotations

from datetime import date

import polars as pl

WEEK = "week_start"


def week_of(column: str = "posted_at") -> pl.Expr:
    """The Monday of each timestamp's week, as a date."""
    return pl.col(column).dt.truncate("1w").dt.date().alias(WEEK)


def exploded(postings: pl.DataFrame) -> pl.DataFrame:
    """One row per posting and skill, with its week."""
    return postings.with_columns(week_of()).explode("skills").rename({"skills": "skill"})


def data_window(postings: pl.DataFrame) -> tuple[date, date]:
    """First and last week (Mondays) holding postings."""
    weeks = postings.select(week_of())[WEEK]
    first, last = weeks.min(), weeks.max()
    if not isinstance(first, date) or not isinstance(last, date):
        raise ValueError("no postings to build panels from")
    return first, last


def demand_panel(postings: pl.DataFrame, *, end: date | None = None) -> pl.DataFrame:
    """Postings per skill and week, zeros filled from each skill's first week to ``end``.

    >>> from datetime import datetime, timezone
    >>> p = pl.DataFrame({"posted_at": [datetime(2026, 1, 6, tzinfo=timezone.utc)],
    ...                   "skills": [["rag"]]})
    >>> demand_panel(p, end=date(2026, 1, 19))["postings"].to_list()
    [1, 0, 0]
    """
    rows = exploded(postings)
    end = end or data_window(postings)[1]
    counts = rows.group_by("skill", WEEK).agg(postings=pl.len().cast(pl.Int64))
    spans = counts.group_by("skill").agg(
        pl.date_ranges(pl.col(WEEK).min(), pl.lit(end), "1w").first().alias(WEEK)
    )
    return (
        spans.explode(WEEK)
        .join(counts, on=["skill", WEEK], how="left")
        .with_columns(pl.col("postings").fill_null(0))
        .sort("skill", WEEK)
    )


def rate_observations(postings: pl.DataFrame) -> pl.DataFrame:
    """Every hourly rate seen, per skill: (skill, week, level, country, rate)."""
    return (
        exploded(postings)
        .filter(pl.col("hourly_rate").is_not_null())
        .select("skill", WEEK, "experience_level", "country", pl.col("hourly_rate").alias("rate"))
    )


def rate_panel(observations: pl.DataFrame) -> pl.DataFrame:
    """Median hourly rate per skill and week, only weeks that have rates."""
    return (
        observations.group_by("skill", WEEK)
        .agg(rate=pl.col("rate").median(), observations=pl.len().cast(pl.Int64))
        .sort("skill", WEEK)
    )
