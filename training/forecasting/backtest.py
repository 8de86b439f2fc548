"""Rolling-origin backtests: where folds cut, which horizon buckets they reach, and the scores.

Folds are cut at fixed distances before the data's last week (``BACKS``), so that every series
of a market is cut on the same dates and one call fits a fold for all of them. A fold cut
``back`` weeks before the end scores ``min(back, horizon)`` weeks ahead: recent folds test the
near weeks, older ones reach the far weeks the service also answers. MASE is scaled by the
in-sample error of the seasonal naive forecast, or of the naive one where the history is
shorter than a season (as in M4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

SEASON = 52  # weeks
#: Weeks before the data's end at which folds cut; each fold scores up to that many weeks ahead.
BACKS = (4, 8, 13, 26, 39, 52)
#: Fewest weeks a fold trains on; a series shorter than this before a cut has no fold there.
MIN_TRAIN = 8
#: Folds every candidate races on before the costly ones that rank low stop (``screening``).
SCREENING_FOLDS = 2


@dataclass(frozen=True)
class Bucket:
    """Weeks ``first`` to ``last`` ahead (1-based, inclusive): one range the service answers."""

    first: int
    last: int

    @property
    def name(self) -> str:
        return f"{self.first}_{self.last}"

    def steps(self, horizon: int) -> slice:
        """The bucket's positions in a forecast of ``horizon`` weeks (empty when it starts beyond)."""
        return slice(self.first - 1, min(self.last, horizon))


BUCKETS = (Bucket(1, 4), Bucket(5, 13), Bucket(14, 26), Bucket(27, 52))


def served_buckets(horizon: int) -> tuple[Bucket, ...]:
    """The buckets a forecast of ``horizon`` weeks reaches into.

    >>> [b.name for b in served_buckets(13)]
    ['1_4', '5_13']
    """
    return tuple(b for b in BUCKETS if b.first <= horizon)


def bucket_of(step: int) -> Bucket:
    """The bucket holding week ``step`` ahead (1-based)."""
    return next(b for b in BUCKETS if b.first <= step <= b.last)


@dataclass(frozen=True)
class Fold:
    """A cut ``back`` weeks before the data's end: train on the weeks before ``cut``, score ``steps``."""

    back: int
    cut: date  # the first week scored
    steps: int


def folds(weeks: list[date], *, end: date, horizon: int) -> list[Fold]:
    """The folds a series observed in ``weeks`` can have, oldest first.

    A fold needs ``MIN_TRAIN`` weeks before its cut and at least one observed week to score.

    >>> start = date(2026, 1, 5)
    >>> weeks = [start + timedelta(weeks=w) for w in range(20)]
    >>> [(f.back, f.steps) for f in folds(weeks, end=weeks[-1], horizon=52)]
    [(8, 8), (4, 4)]
    """
    found = []
    for back in sorted(BACKS, reverse=True):
        cut = end - timedelta(weeks=back - 1)
        steps = min(back, horizon)
        before = sum(week < cut for week in weeks)
        scored = sum(cut <= week < cut + timedelta(weeks=steps) for week in weeks)
        if before >= MIN_TRAIN and scored:
            found.append(Fold(back, cut, steps))
    return found


def screening(tested: list[Fold]) -> list[Fold]:
    """The folds a first pass races every candidate on: the one reaching furthest and the latest.

    Together they score every bucket the series reaches, at the oldest origin and the newest.

    >>> start = date(2026, 1, 5)
    >>> weeks = [start + timedelta(weeks=w) for w in range(80)]
    >>> [f.back for f in screening(folds(weeks, end=weeks[-1], horizon=52))]
    [52, 4]
    """
    return tested if len(tested) <= SCREENING_FOLDS else [tested[0], tested[-1]]


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


def conformal_bounds(normalised_residuals: np.ndarray, coverage_level: float) -> tuple[float, float]:
    """Quantiles of residuals (already divided by their scale) for a central interval."""
    tail = (1 - coverage_level) / 2
    if normalised_residuals.size == 0:
        return -math.inf, math.inf
    # order statistics outward, not interpolated: few residuals must still cover what they claim
    low = np.quantile(normalised_residuals, tail, method="lower")
    high = np.quantile(normalised_residuals, 1 - tail, method="higher")
    return float(low), float(high)
