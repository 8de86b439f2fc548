from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from training.models import Series, fit_series, forecast, score

START = date(2024, 1, 1)


def weekly(values: list[float], target: str = "demand") -> Series:
    return Series("rag", target, [START + timedelta(weeks=i) for i in range(len(values))], values)  # type: ignore[arg-type]


def test_prophet_follows_a_trend_with_ordered_quantiles() -> None:
    rng = np.random.default_rng(0)
    values = [float(v) for v in rng.poisson(np.linspace(20, 60, 60))]
    made = forecast(weekly(values), 8)
    assert made.model == "prophet"
    assert made.p50.shape == (8,)
    assert np.all(made.p10 <= made.p50) and np.all(made.p50 <= made.p90)
    assert 45 < made.p50[0] < 80  # continues the trend instead of the mean (about 40)


def test_short_series_get_a_flat_forecast_with_a_wide_interval() -> None:
    made = forecast(weekly([40.0, 42.0], "rate"), 4)
    assert made.model == "flat"
    assert np.allclose(made.p50, made.p50[0])
    assert made.p10[0] < 40 < 42 < made.p90[0]


def test_rates_stay_positive_and_counts_never_negative() -> None:
    made = forecast(weekly([0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]), 10)
    assert np.all(made.p10 >= 0)


def test_score_is_scaled_by_the_naive_error() -> None:
    history = np.array([10.0, 12.0, 10.0, 12.0])  # naive error 2
    made = forecast(weekly([10.0, 12.0, 10.0, 12.0]), 2)
    result = score(np.array([11.0, 11.0]), made, history)
    assert np.isclose(result.mase, np.mean(np.abs(11.0 - made.p50)) / 2.0)
    assert 0.0 <= result.coverage <= 1.0


def test_holdout_score_only_when_history_allows() -> None:
    assert fit_series(weekly([5.0] * 10), horizon=4, holdout=4).score is None
    rng = np.random.default_rng(1)
    scored = fit_series(weekly([float(v) for v in rng.poisson(30, 40)]), horizon=4, holdout=4)
    assert scored.score is not None and scored.score.mase > 0
