"""Weekly panels from accepted postings: the series every model is fitted on.

Weeks start on Monday. A skill's demand series runs from its first posting's week to the
last week of the data, with zeros for weeks without postings: a quiet week is a zero. Two kinds
of week are not zeros but unknowns, and are left out of demand: a first or last week the data
covers only in part, and a week in which collection failed on some of its days (the whole market
all but silent on a day when it usually is not).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from gigcast.weeks import monday_of

WEEK = "week_start"
GAP_SHARE = 0.1  # a day with less than a tenth of its weekday's usual market volume was not collected
#: Days are judged only where the market usually has this many postings on that weekday: in a
#: thinner market a silent day happens by chance, and only a near-empty week is a gap.
MIN_DAILY = 10


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


def complete_window(postings: pl.DataFrame) -> tuple[date, date]:
    """First and last weeks the data covers whole: it starts on a Monday and ends on a Sunday.

    With fewer than three weeks there is nothing to spare, and the window stays as it is.
    """
    first_at, last_at = postings["posted_at"].min(), postings["posted_at"].max()
    if not isinstance(first_at, datetime) or not isinstance(last_at, datetime):
        raise ValueError("no postings to build panels from")
    first, last = monday_of(first_at.date()), monday_of(last_at.date())
    if last - first < timedelta(weeks=2):
        return first, last
    if first_at.weekday() > 0:
        first += timedelta(weeks=1)
    if last_at.weekday() < 6:
        last -= timedelta(weeks=1)
    return first, last


def collection_gaps(postings: pl.DataFrame, *, start: date, end: date) -> list[date]:
    """Weeks in which collection failed, from the whole market's postings per day.

    A day was not collected when the market has under ``GAP_SHARE`` of its usual postings on that
    weekday, judged where that usual is at least ``MIN_DAILY``. A week is a gap when it has a
    day not collected, or under ``GAP_SHARE`` of the usual week's postings in all. Usual is
    where the typical posting was collected (a median weighted by postings): in a snapshot of
    open listings, the few older ones still open are stragglers of weeks never collected, even
    when such weeks outnumber the one that was.

    >>> from datetime import datetime, timedelta, timezone
    >>> first = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)  # a Monday
    >>> days = [first + timedelta(days=d) for d in range(28) if not 16 <= d <= 18]
    >>> p = pl.DataFrame({"posted_at": [d for d in days for _ in range(20)]})
    >>> collection_gaps(p, start=date(2026, 1, 5), end=date(2026, 1, 26))
    [datetime.date(2026, 1, 19)]
    """
    last = end + timedelta(days=6)
    days = pl.DataFrame({"day": pl.date_range(start, last, "1d", eager=True)})
    daily = (
        days.join(
            postings.group_by(day=pl.col("posted_at").dt.date()).agg(postings=pl.len()), on="day", how="left"
        )
        .with_columns(pl.col("postings").fill_null(0), week_of("day"))
        .with_columns(usual=_typical(pl.col("postings")).over(pl.col("day").dt.weekday()))
    )
    weekly = daily.group_by(WEEK).agg(
        pl.col("postings").sum(),
        missed=((pl.col("usual") >= MIN_DAILY) & (pl.col("postings") < GAP_SHARE * pl.col("usual"))).any(),
    )
    usual_week = weekly.select(_typical(pl.col("postings"))).item()
    if not usual_week:
        return []
    quiet = pl.col("postings") < GAP_SHARE * usual_week
    return weekly.filter(pl.col("missed") | quiet).sort(WEEK)[WEEK].to_list()


def _typical(counts: pl.Expr) -> pl.Expr:
    """The count of the group the typical item is in: the median of counts weighted by themselves."""
    ordered = counts.sort()
    return ordered.filter(ordered.cum_sum() >= ordered.sum() / 2).first()


def within(postings: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """The postings of the weeks from ``start`` to ``end``."""
    return postings.filter(week_of().is_between(start, end))


def demand_panel(
    postings: pl.DataFrame, *, end: date | None = None, gaps: list[date] | None = None
) -> pl.DataFrame:
    """Postings per skill and week, zeros filled from each skill's first week to ``end``.

    Weeks in ``gaps`` are left out: no postings there means no collection, not no demand.

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
        .filter(~pl.col(WEEK).is_in(gaps or []))
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
