"""The market's lag: how far the chosen demand forecasts sat from the weeks that came.

One thin series cannot tell a level model's lag behind its own growth from counting noise; the
whole market can. Per horizon bucket, each demand series' backtest (its chosen model's folds
cut after an ordinary week, as the served forecast is) gives the log ratio of the postings that
came to those forecast; the median over series is the market's lag there, and every demand
forecast, with its backtest, is moved by it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from gigcast.bundle import Target
from training.forecasting.backtest import bucket_of
from training.forecasting.race import SeriesFit
from training.forecasting.series import backward

#: Fewest series whose median can say where a market's forecasts sit; with fewer, no lag.
MIN_SERIES = 10


def market_lag(fits: list[SeriesFit]) -> dict[str, float]:
    """Per bucket name: the median over demand series of log(postings that came / forecast).

    >>> from datetime import date
    >>> from training.forecasting.race import Backtest, FoldResult
    >>> def fit(n: int) -> SeriesFit:  # forecast 100 a week; 110 came
    ...     fold = FoldResult(4, [date(2026, 3, 2)], np.array([1]), np.array([110.0]),
    ...                       np.log1p(np.array([100.0])), 0.1, 5.0, True)
    ...     return SeriesFit(f"s{n}", Target.DEMAND, "Naive", np.zeros(4), 0.1,
    ...                      Backtest("Naive", [fold], {}, 1, frozenset()))
    >>> {b: round(v, 3) for b, v in market_lag([fit(n) for n in range(MIN_SERIES)]).items()}
    {'1_4': 0.095}
    >>> market_lag([fit(n) for n in range(MIN_SERIES - 1)])
    {}
    """
    ratios: dict[str, list[float]] = {}
    for fit in fits:
        if fit.target != Target.DEMAND or fit.backtest is None:
            continue
        came: dict[str, float] = {}
        forecast: dict[str, float] = {}
        for fold in (f for f in fit.backtest.folds if f.ordinary):
            predicted = backward(fold.predicted, Target.DEMAND)
            for step, actual, told in zip(fold.steps, fold.actual, predicted, strict=True):
                bucket = bucket_of(int(step)).name
                came[bucket] = came.get(bucket, 0.0) + float(actual)
                forecast[bucket] = forecast.get(bucket, 0.0) + float(told)
        for bucket, total in came.items():
            if total > 0 and forecast[bucket] > 0:
                ratios.setdefault(bucket, []).append(math.log(total / forecast[bucket]))
    return {bucket: float(np.median(found)) for bucket, found in ratios.items() if len(found) >= MIN_SERIES}


def moved(fits: list[SeriesFit], lag: dict[str, float]) -> list[SeriesFit]:
    """The demand fits, their forecasts and backtests moved by ``lag`` (the log1p scale moves as the
    log does at the counts that matter); other fits as they are."""
    return [_moved(fit, lag) if fit.target == Target.DEMAND and lag else fit for fit in fits]


def _moved(fit: SeriesFit, lag: dict[str, float]) -> SeriesFit:
    def shift(steps: np.ndarray) -> np.ndarray:
        return np.array([lag.get(bucket_of(int(step)).name, 0.0) for step in steps])

    backtest = fit.backtest
    if backtest is not None:
        folds = [replace(fold, predicted=fold.predicted + shift(fold.steps)) for fold in backtest.folds]
        backtest = replace(backtest, folds=folds)
    return replace(fit, point=fit.point + shift(np.arange(1, fit.point.size + 1)), backtest=backtest)
