from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from statistics import median

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from training.data.panels import collection_gaps, complete_window, demand_panel, rate_observations, rate_panel


def postings(rows: list[tuple[datetime, list[str], float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "posted_at": [r[0] for r in rows],
            "skills": [r[1] for r in rows],
            "hourly_rate": [r[2] for r in rows],
            "experience_level": ["expert"] * len(rows),
            "country": ["US"] * len(rows),
        },
        schema={
            "posted_at": pl.Datetime("us", "UTC"),
            "skills": pl.List(pl.String),
            "hourly_rate": pl.Float64,
            "experience_level": pl.String,
            "country": pl.String,
        },
    )


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_weeks_start_monday_and_sunday_night_stays_in_its_week() -> None:
    frame = postings(
        [
            (at(date(2026, 11, 22), 23), ["rag"], None),  # Sunday 23:00 UTC
            (at(date(2026, 11, 23), 0), ["rag"], None),  # Monday 00:00 UTC
        ]
    )
    panel = demand_panel(frame)
    assert panel["week_start"].to_list() == [date(2026, 11, 16), date(2026, 11, 23)]
    assert panel["postings"].to_list() == [1, 1]


def test_quiet_weeks_are_zeros_until_the_end_of_the_data() -> None:
    frame = postings(
        [
            (at(date(2026, 1, 5)), ["rag", "sql"], None),
            (at(date(2026, 1, 26)), ["sql"], None),
        ]
    )
    panel = demand_panel(frame)
    rag = panel.filter(pl.col("skill") == "rag")
    assert rag["postings"].to_list() == [1, 0, 0, 0]
    assert rag["week_start"].to_list()[-1] == date(2026, 1, 26)


def test_rate_panel_is_the_weekly_median_of_rated_postings() -> None:
    monday = date(2026, 3, 2)
    frame = postings(
        [
            (at(monday), ["rag"], 10.0),
            (at(monday + timedelta(days=1)), ["rag"], 30.0),
            (at(monday + timedelta(days=2)), ["rag"], 100.0),
            (at(monday + timedelta(days=3)), ["rag"], None),
        ]
    )
    panel = rate_panel(rate_observations(frame))
    assert panel.select("rate", "observations").row(0) == (30.0, 3)


rows = st.lists(
    st.tuples(
        st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2025, 6, 30)).map(
            lambda d: d.replace(tzinfo=UTC)
        ),
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=2, unique=True),
        st.one_of(st.none(), st.floats(min_value=3, max_value=500)),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(rows)
def test_panels_match_a_plain_python_reference(data: list[tuple[datetime, list[str], float | None]]) -> None:
    def monday(d: datetime) -> date:
        return d.date() - timedelta(days=d.weekday())

    end = max(monday(d) for d, _, _ in data)
    counts = Counter((skill, monday(d)) for d, skills, _ in data for skill in skills)
    expected = {}
    for skill in {s for _, skills, _ in data for s in skills}:
        week = min(w for (s, w) in counts if s == skill)
        while week <= end:
            expected[(skill, week)] = counts.get((skill, week), 0)
            week += timedelta(weeks=1)
    panel = demand_panel(postings(data))
    assert {(s, w): n for s, w, n in panel.iter_rows()} == expected

    rates: dict[tuple[str, date], list[float]] = {}
    for d, skills, rate in data:
        for skill in skills:
            if rate is not None:
                rates.setdefault((skill, monday(d)), []).append(rate)
    got = {(s, w): r for s, w, r, _ in rate_panel(rate_observations(postings(data))).iter_rows()}
    assert got.keys() == rates.keys()
    for key, values in rates.items():
        assert abs(got[key] - median(values)) < 1e-9


def test_partial_boundary_weeks_are_left_out() -> None:
    wednesday = date(2026, 1, 7)
    frame = postings(
        [(at(wednesday + timedelta(days=d)), ["rag"], None) for d in range(0, 53, 2)]
    )  # to a Saturday
    first, last = complete_window(frame)
    assert first == date(2026, 1, 12)  # the data begins on a Wednesday: its first week is partial
    assert last == date(2026, 2, 16)  # and ends on a Saturday: so is its last
    whole = postings([(at(date(2026, 1, 5) + timedelta(days=d)), ["rag"], None) for d in range(21)])
    assert complete_window(whole) == (date(2026, 1, 5), date(2026, 1, 19))


def test_a_silent_market_week_is_a_gap_not_a_collapse() -> None:
    weeks = [date(2026, 1, 5) + timedelta(weeks=w) for w in range(6)]
    rows = [
        (at(week + timedelta(days=d % 7)), ["rag"], None)
        for week in weeks
        if week != weeks[3]
        for d in range(20)
    ]
    rows.append((at(weeks[3]), ["sql"], None))  # collection all but failed that week
    frame = postings(rows)
    gaps = collection_gaps(frame, start=weeks[0], end=weeks[-1])
    assert gaps == [weeks[3]]
    rag = demand_panel(frame, gaps=gaps).filter(pl.col("skill") == "rag")
    assert weeks[3] not in rag["week_start"].to_list()
    assert rag["postings"].to_list() == [20, 20, 20, 20, 20]


def busy_market(
    weeks: list[date], *, per_day: dict[int, int], skip: frozenset[date] = frozenset()
) -> pl.DataFrame:
    """``per_day[weekday]`` postings on each day of ``weeks``, none on the days in ``skip``."""
    days = [week + timedelta(days=d) for week in weeks for d in range(7)]
    return postings(
        [(at(day), ["rag"], None) for day in days if day not in skip for _ in range(per_day[day.weekday()])]
    )


def test_a_week_with_days_not_collected_is_a_gap_though_its_volume_is_not_tiny() -> None:
    weeks = [date(2026, 1, 5) + timedelta(weeks=w) for w in range(8)]
    missing = frozenset(weeks[5] + timedelta(days=d) for d in (2, 3, 4))  # Wednesday to Friday
    frame = busy_market(weeks, per_day={d: 30 for d in range(7)}, skip=missing)
    gaps = collection_gaps(frame, start=weeks[0], end=weeks[-1])
    assert gaps == [weeks[5]]
    assert frame.filter(pl.col("posted_at").dt.truncate("1w").dt.date() == weeks[5]).height == 4 * 30


def test_quiet_weekends_and_thin_markets_are_not_gaps() -> None:
    weeks = [date(2026, 1, 5) + timedelta(weeks=w) for w in range(8)]
    weekdays_only = busy_market(weeks, per_day={d: 40 if d < 5 else 0 for d in range(7)})
    assert collection_gaps(weekdays_only, start=weeks[0], end=weeks[-1]) == []
    thin = busy_market(
        weeks, per_day=dict.fromkeys(range(7), 2), skip=frozenset({weeks[4] + timedelta(days=1)})
    )
    assert collection_gaps(thin, start=weeks[0], end=weeks[-1]) == []  # a silent day happens by chance
