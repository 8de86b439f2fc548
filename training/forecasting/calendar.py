"""The market's calendar: how the time of year moves postings, learned from the whole market.

One skill's weekly postings are too noisy to learn a yearly season from (three years give three
noisy values per week of the year), but every skill of a market shares its holidays and its
busy months. The calendar is estimated once from the market's total postings, on the log scale:

- year-end weeks (the weeks holding Christmas and New Year's Day): each occurrence against the
  ordinary weeks around it, so that a single year end in a short history is already known;
- with two years or more, the rest of the year by ISO week: the total's distance from its
  centred yearly moving average, the median over years, smoothed over neighbouring weeks.

Demand candidates that do not model a season themselves forecast the series with the calendar
taken out and get it back on the weeks they forecast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

import numpy as np

from training.forecasting.backtest import SEASON

NEIGHBOURS = 4  # ordinary weeks either side that a year-end week is measured against


class Holiday(StrEnum):
    CHRISTMAS = "christmas"
    NEW_YEAR = "new_year"


def holiday_of(week: date) -> Holiday | None:
    """The year-end holiday that falls in the week starting on Monday ``week``, if any."""
    for day in range(7):
        moment = week + timedelta(days=day)
        if (moment.month, moment.day) == (12, 25):
            return Holiday.CHRISTMAS
        if (moment.month, moment.day) == (1, 1):
            return Holiday.NEW_YEAR
    return None


@dataclass(frozen=True)
class Calendar:
    """Log-scale effects of the time of year on the market's postings; none when nothing is known."""

    holidays: dict[Holiday, float] = field(default_factory=dict)
    season: dict[int, float] = field(default_factory=dict)  # ISO week -> effect

    def effect(self, week: date) -> float:
        holiday = holiday_of(week)
        if holiday is not None and holiday in self.holidays:
            return self.holidays[holiday]
        return self.season.get(week.isocalendar().week, 0.0)

    def knows(self, week: date) -> bool:
        """Whether the effect of ``week`` is measured: an ordinary week, or a holiday seen before."""
        holiday = holiday_of(week)
        return holiday is None or holiday in self.holidays

    def effects(self, weeks: list[date]) -> np.ndarray:
        return np.array([self.effect(week) for week in weeks], dtype=float)


def market_calendar(weeks: list[date], totals: np.ndarray) -> Calendar:
    """The calendar of a market from its total postings per week (weeks ascending, gaps allowed).

    >>> start = date(2025, 11, 3)
    >>> weeks = [start + timedelta(weeks=w) for w in range(14)]
    >>> totals = np.array([100.0] * 14)
    >>> totals[7] = 50.0  # the week of 2025-12-22 holds Christmas
    >>> round(market_calendar(weeks, totals).holidays[Holiday.CHRISTMAS], 3)
    -0.683
    """
    if len(weeks) < 3:
        return Calendar()
    grid, level = _weekly_grid(weeks, np.log1p(np.asarray(totals, dtype=float)))
    kinds = [holiday_of(week) for week in grid]
    holidays = _holiday_effects(level, kinds)
    ordinary = level - np.array([holidays.get(kind, 0.0) if kind else 0.0 for kind in kinds])
    season = _season(grid, ordinary, kinds) if len(grid) >= 2 * SEASON else {}
    return Calendar(holidays=holidays, season=season)


def _weekly_grid(weeks: list[date], values: np.ndarray) -> tuple[list[date], np.ndarray]:
    """Every week from the first to the last, weeks without a value filled in a straight line."""
    count = (weeks[-1] - weeks[0]).days // 7 + 1
    grid = [weeks[0] + timedelta(weeks=w) for w in range(count)]
    positions = np.array([(week - weeks[0]).days // 7 for week in weeks])
    return grid, np.interp(np.arange(count), positions, values)


def _holiday_effects(level: np.ndarray, kinds: list[Holiday | None]) -> dict[Holiday, float]:
    """Each holiday's median distance, over its occurrences, from the ordinary weeks around it."""
    found: dict[Holiday, list[float]] = {}
    for index, kind in enumerate(kinds):
        if kind is None:
            continue
        window = range(max(0, index - NEIGHBOURS - 1), min(len(level), index + NEIGHBOURS + 2))
        around = [level[i] for i in window if kinds[i] is None]
        if len(around) >= 2:
            found.setdefault(kind, []).append(float(level[index] - np.median(around)))
    return {kind: float(np.median(values)) for kind, values in found.items()}


def _season(grid: list[date], level: np.ndarray, kinds: list[Holiday | None]) -> dict[int, float]:
    """Median distance from the centred 2x52 moving average by ISO week, smoothed and centred."""
    weights = np.r_[0.5, np.ones(SEASON - 1), 0.5] / SEASON
    trend = np.full(level.size, np.nan)
    smooth = np.convolve(level, weights, mode="valid")
    trend[SEASON // 2 : SEASON // 2 + smooth.size] = smooth
    distance = level - trend
    by_week: dict[int, list[float]] = {}
    for week, value, kind in zip(grid, distance, kinds, strict=True):
        if kind is None and not np.isnan(value):
            by_week.setdefault(week.isocalendar().week, []).append(float(value))
    raw = np.array([np.median(by_week.get(w, [np.nan])) for w in range(1, SEASON + 1)])
    raw = np.where(np.isnan(raw), np.nanmean(raw), raw)
    smoothed = (np.roll(raw, 1) + raw + np.roll(raw, -1)) / 3  # the year wraps around
    smoothed -= smoothed.mean()
    season = {w + 1: float(v) for w, v in enumerate(smoothed)}
    season[53] = season[SEASON]  # the 53rd ISO week of long years behaves as the 52nd
    return season
