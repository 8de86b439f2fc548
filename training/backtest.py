"""Rolling-origin backtests: how each model would have done, against simple baselines.

A series is cut at several origins; at each, a model is fitted on the weeks before and scored
on the ``horizon`` weeks after. MASE is scaled by the in-sample error of the seasonal naive
forecast, or of the naive one where the history is shorter than a season (as in M4). Baselines
work on the model scale (log or log1p), like the models they are compared with.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

SEASON = 52  # weeks


def naive(y: np.ndarray, horizon: int) -> np.ndarray:
    """The last value, repeated."""
    return np.full(horizon, y[-1], dtype=float)


def seasonal_naive(y: np.ndarray, horizon: int) -> np.ndarray:
    """The value of the same week a season earlier; naive when the history is shorter."""
    if y.size < SEASON:
        return naive(y, horizon)
    return y[y.size - SEASON + np.arange(horizon) % SEASON].astype(float)


def drift(y: np.ndarray, horizon: int) -> np.ndarray:
    """The line through the first and last values, extended."""
    slope = (y[-1] - y[0]) / (y.size - 1) if y.size > 1 else 0.0
    return y[-1] + slope * np.arange(1, horizon + 1)


#: Naive first: below a season seasonal naive is naive, and a tie should say so.
BASELINES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "naive": naive,
    "snaive": seasonal_naive,
    "drift": drift,
}


def origins(length: int, *, horizon: int, folds: int, min_train: int) -> list[int]:
    """Where the folds cut the series, oldest first; folds without ``min_train`` weeks are left out.

    >>> origins(30, horizon=4, folds=3, min_train=12)
    [18, 22, 26]
    >>> origins(14, horizon=4, folds=3, min_train=12)
    []
    """
    cuts = [length - horizon * k for k in range(folds, 0, -1)]
    return [cut for cut in cuts if cut >= min_train]


def mase_scale(history: np.ndarray) -> float:
    """Mean absolute error of the in-sample seasonal naive (naive below a season) forecast."""
    lag = SEASON if history.size > SEASON else 1
    if history.size <= lag:
        return math.nan
    return float(np.mean(np.abs(history[lag:] - history[:-lag])))


def mase(actual: np.ndarray, predicted: np.ndarray, scale: float) -> float:
    if not scale > 0:
        return math.nan
    return float(np.mean(np.abs(actual - predicted)) / scale)


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE in [0, 2]; a week where both are zero counts as no error."""
    total = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(
        2 * np.abs(actual - predicted), total, out=np.zeros_like(total, dtype=float), where=total > 0
    )
    return float(np.mean(ratio))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean((actual >= lower) & (actual <= upper)))


def pinball(actual: np.ndarray, predicted: np.ndarray, quantile: float) -> float:
    """Quantile loss of ``predicted`` as the ``quantile`` of ``actual``."""
    gap = actual - predicted
    return float(np.mean(np.maximum(quantile * gap, (quantile - 1) * gap)))


def spread_steps(horizon: int, growth: float) -> np.ndarray:
    """How forecast errors widen with the step ahead: ``step ** growth`` (0.5 for a random walk)."""
    return np.arange(1, horizon + 1, dtype=float) ** growth


def error_growth(residuals: np.ndarray) -> float:
    """The exponent by which the typical error grows with the step, from (folds, steps) residuals.

    A least-squares slope of log median absolute error on log step, kept within [0, 1]: flat for
    noise around a level, about 0.5 for a random walk.

    >>> round(error_growth(np.array([[1.0, 1.41, 1.73, 2.0], [-1.0, -1.41, -1.73, -2.0]])), 2)
    0.5
    """
    if residuals.size == 0:
        return 0.5
    typical = np.median(np.abs(residuals), axis=0)
    steps = np.arange(1, typical.size + 1)
    usable = typical > 0
    if usable.sum() < 2:
        return 0.5
    slope = np.polyfit(np.log(steps[usable]), np.log(typical[usable]), 1)[0]
    return float(np.clip(slope, 0.0, 1.0))


def conformal_bounds(normalised_residuals: np.ndarray, coverage_level: float) -> tuple[float, float]:
    """Quantiles of residuals (already divided by scale and step spread) for a central interval."""
    tail = (1 - coverage_level) / 2
    if normalised_residuals.size == 0:
        return -math.inf, math.inf
    # order statistics outward, not interpolated: few residuals must still cover what they claim
    low = np.quantile(normalised_residuals, tail, method="lower")
    high = np.quantile(normalised_residuals, 1 - tail, method="higher")
    return float(low), float(high)
