from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from training.forecasting.calendar import Calendar, Holiday, holiday_of, market_calendar

START = date(2023, 1, 2)  # a Monday


def test_year_end_weeks_are_the_weeks_of_christmas_and_new_year() -> None:
    assert holiday_of(date(2025, 12, 22)) is Holiday.CHRISTMAS
    assert holiday_of(date(2025, 12, 29)) is Holiday.NEW_YEAR
    assert holiday_of(date(2026, 1, 5)) is None


def test_one_year_end_in_a_short_history_is_already_known() -> None:
    weeks = [date(2025, 11, 3) + timedelta(weeks=w) for w in range(13)]
    totals = np.array([200.0 * 1.01**w for w in range(13)])
    dips = {date(2025, 12, 22): 0.6, date(2025, 12, 29): 0.8}
    totals = np.array([t * dips.get(week, 1.0) for t, week in zip(totals, weeks, strict=True)])
    calendar = market_calendar(weeks, totals)
    assert calendar.holidays[Holiday.CHRISTMAS] == pytest.approx(np.log(0.6), abs=0.03)
    assert calendar.holidays[Holiday.NEW_YEAR] == pytest.approx(np.log(0.8), abs=0.03)
    assert calendar.season == {}  # a season needs two years
    assert calendar.effect(date(2026, 12, 21)) == calendar.holidays[Holiday.CHRISTMAS]  # next year's too
    assert calendar.effect(date(2026, 3, 2)) == 0.0


def test_two_years_and_more_learn_the_season_by_week_of_the_year() -> None:
    rng = np.random.default_rng(3)
    weeks = [START + timedelta(weeks=w) for w in range(156)]
    season = 0.1 * np.sin(2 * np.pi * np.array([w.isocalendar().week for w in weeks]) / 52)
    totals = np.exp(7 + 0.004 * np.arange(156) + season + rng.normal(0, 0.01, 156))
    calendar = market_calendar(weeks, totals)
    learned = np.array([calendar.season[w.isocalendar().week] for w in weeks[:52]])
    assert np.corrcoef(learned, season[:52])[0, 1] > 0.95
    assert np.mean(np.abs(learned - season[:52])) < 0.02
    assert abs(np.mean(list(calendar.season.values())[:52])) < 1e-9  # it moves weeks, not the level


def test_a_history_without_a_year_end_knows_no_holiday() -> None:
    weeks = [START + timedelta(weeks=w) for w in range(20) if w != 9]  # a week missing in the middle
    calendar = market_calendar(weeks, np.full(19, 300.0))
    assert calendar == Calendar()
    assert calendar.effect(date(2023, 12, 25)) == 0.0
