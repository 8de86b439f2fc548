from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from training.calibrate import calibrate
from training.models import Series, choose, fit_series, year_end_weeks

START = date(2024, 1, 1)


def weekly(values: list[float], target: str = "demand", skill: str = "rag") -> Series:
    return Series(skill, target, [START + timedelta(weeks=i) for i in range(len(values))], values)  # type: ignore[arg-type]


def test_prophet_follows_a_trend() -> None:
    rng = np.random.default_rng(0)
    values = [float(v) for v in rng.poisson(np.linspace(20, 60, 60))]
    fit = fit_series(weekly(values), horizon=8, backtest_horizon=4, folds=3)
    assert fit.model == "prophet"
    assert fit.point.shape == (8,)
    assert fit.backtest is not None and fit.backtest.actual.shape == (3, 4)
    assert 45 < np.expm1(fit.point[0]) < 80  # continues the trend instead of the mean (about 40)
    assert set(fit.backtest.scores) == {"prophet", "snaive", "naive", "drift"}


def test_a_level_that_stopped_moving_is_left_to_the_naive_forecast() -> None:
    values = [10.0] * 30 + [100.0] * 30  # a jump, then flat: every fold's naive forecast is exact
    fit = fit_series(weekly(values, "rate"), horizon=4, backtest_horizon=4, folds=3)
    scores = fit.backtest.scores  # type: ignore[union-attr]
    assert scores["naive"]["mase"] == pytest.approx(0.0, abs=1e-9)
    assert scores["prophet"]["mase"] > 0.01
    assert fit.model == "naive"
    assert np.allclose(np.exp(fit.point), 100.0)


def test_choice_keeps_prophet_unless_a_baseline_clearly_wins() -> None:
    base = {"snaive": {"mase": 1.2}, "drift": {"mase": 1.1}}
    assert choose({"prophet": {"mase": 1.0}, "naive": {"mase": 0.95}, **base}) == "prophet"
    assert choose({"prophet": {"mase": 1.0}, "naive": {"mase": 0.85}, **base}) == "naive"
    assert choose({"prophet": {"mase": float("nan")}, "naive": {"mase": 0.85}, **base}) == "naive"


def test_short_series_get_a_flat_forecast_and_wide_calibrated_intervals() -> None:
    rng = np.random.default_rng(1)
    long = fit_series(
        weekly(list(rng.poisson(30, 40).astype(float)), skill="a"), horizon=6, backtest_horizon=4, folds=3
    )
    short = fit_series(weekly([40.0, 42.0], skill="b"), horizon=6, backtest_horizon=4, folds=3)
    assert short.model == "flat" and short.backtest is None
    result = {c.skill: c for c in calibrate([long, short], horizon=6)}
    assert np.all(result["b"].p10 <= result["b"].p50) and np.all(result["b"].p50 <= result["b"].p90)
    width = lambda c: c.p90[0] / max(c.p10[0], 1e-9)  # noqa: E731
    assert width(result["b"]) > width(result["a"])  # less history, wider interval
    assert result["b"].coverage is None and result["a"].coverage is not None


def test_counts_never_go_negative() -> None:
    fit = fit_series(
        weekly([0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]),
        horizon=10,
        backtest_horizon=4,
        folds=1,
    )
    (result,) = calibrate([fit], horizon=10)
    assert np.all(result.p10 >= 0)


def test_year_end_weeks_are_the_mondays_of_christmas_and_new_year() -> None:
    assert year_end_weeks(date(2025, 12, 1), date(2026, 1, 31)) == [date(2025, 12, 22), date(2025, 12, 29)]


def test_a_series_that_stops_early_is_forecast_from_the_data_end() -> None:
    values = list(np.exp(3 + 0.05 * np.arange(40)))  # a clean exponential trend
    series = weekly(values, "rate")
    late = Series(
        series.skill, "rate", series.weeks, series.values, end=series.weeks[-1] + timedelta(weeks=3)
    )
    fit = fit_series(late, horizon=2, backtest_horizon=4, folds=2)
    # the first forecast week is the fourth after the last value, not the first
    assert fit.point[0] == pytest.approx(3 + 0.05 * 43, abs=0.03)
    assert fit.point[1] == pytest.approx(3 + 0.05 * 44, abs=0.03)
