from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from gigcast.bundle import Target
from training.forecasting.lag import MIN_SERIES, market_lag, moved
from training.forecasting.race import Backtest, FoldResult, SeriesFit

CUT = date(2026, 3, 2)


def fitted(skill: str, target: Target, *, told: float, came: list[float], ordinary: bool = True) -> SeriesFit:
    """A fit whose one fold forecast ``told`` a week for the weeks that saw ``came``."""
    steps = np.arange(1, len(came) + 1)
    fold = FoldResult(
        back=len(came),
        weeks=[CUT + timedelta(weeks=k) for k in range(len(came))],
        steps=steps,
        actual=np.array(came),
        predicted=np.log1p(np.full(len(came), told)),
        spread=0.1,
        mase_scale=5.0,
        ordinary=ordinary,
    )
    point = np.log1p(np.full(8, told))
    return SeriesFit(skill, target, "Naive", point, 0.1, Backtest("Naive", [fold], {}, 1, frozenset()))


def test_the_lag_is_the_median_series_ratio_per_bucket_and_moves_every_demand_forecast() -> None:
    # weeks 1-4 came 10% above the forecast, weeks 5-6 20% above, for most series; one came far below
    fits = [
        fitted(f"s{n}", Target.DEMAND, told=100.0, came=[110.0] * 4 + [120.0] * 2) for n in range(MIN_SERIES)
    ]
    fits.append(fitted("odd", Target.DEMAND, told=100.0, came=[10.0] * 6))
    fits.append(fitted("rate", Target.RATE, told=100.0, came=[200.0] * 6))
    lag = market_lag(fits)
    assert lag == pytest.approx({"1_4": np.log(1.1), "5_13": np.log(1.2)})
    after = moved(fits, lag)
    first = after[0]
    assert np.expm1(first.point[:4]) == pytest.approx(np.full(4, 110.0), rel=0.001)
    assert np.expm1(first.point[4:]) == pytest.approx(np.full(4, 120.0), rel=0.002)
    assert first.backtest is not None  # the backtest moves with it, so the intervals centre on it
    assert np.expm1(first.backtest.folds[0].predicted) == pytest.approx([110.0] * 4 + [120.0] * 2, rel=0.002)
    assert after[-1] is fits[-1]  # a rate's forecast is its own


def test_no_lag_from_folds_cut_after_a_holiday_or_a_gap_or_from_few_series() -> None:
    cut_after_holiday = [
        fitted(f"s{n}", Target.DEMAND, told=50.0, came=[80.0] * 4, ordinary=False)
        for n in range(2 * MIN_SERIES)
    ]
    assert (
        market_lag(cut_after_holiday) == {}
    )  # the level coming back, which the served forecast does not meet
    few = [fitted(f"s{n}", Target.DEMAND, told=50.0, came=[80.0] * 4) for n in range(MIN_SERIES - 1)]
    assert market_lag(few) == {}
    assert moved(few, {}) == few
