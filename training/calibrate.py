"""Forecast intervals from backtest residuals (split conformal), pooled over all series.

Each residual is divided by its series' spread unit and by how errors grow with the step ahead
(estimated from the same residuals), so that one pair of quantiles serves every series and
horizon of a target. The coverage reported for a series is cross-fitted: each fold is scored
with quantiles learned from the other folds only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from training import backtest
from training.models import SeriesFit, backward, forward, transform_of

#: Spread unit on the log scale for series too short to have one, when no series has one either.
NO_HISTORY_SCALE = 0.5


@dataclass(frozen=True)
class Calibrated:
    skill: str
    target: str
    model: str
    p10: np.ndarray  # original scale, one value per week ahead
    p50: np.ndarray
    p90: np.ndarray
    coverage: float | None  # share of backtest actuals inside the interval, cross-fitted
    pinball: float | None  # mean pinball loss of p10 and p90 on the backtest


def calibrate(fits: list[SeriesFit], *, horizon: int, level: float = 0.8) -> list[Calibrated]:
    """Intervals for every fit of one target, and how well they covered in the backtest."""
    if not fits:
        return []
    transform = transform_of(fits[0].target)
    growth = backtest.error_growth(_scaled_residuals(fits)) if any(f.backtest for f in fits) else 0.5
    by_fold = _normalised_residuals(fits, growth)
    everything = np.concatenate(list(by_fold.values())) if by_fold else np.empty(0)
    low, high = backtest.conformal_bounds(everything, level)
    if not math.isfinite(low):  # no backtest at all: normal quantiles of the wide fallback spread
        high = NormalDist().inv_cdf(0.5 + level / 2)
        low = -high
    left_out = {
        fold: backtest.conformal_bounds(np.concatenate([r for k, r in by_fold.items() if k != fold]), level)
        for fold in by_fold
        if len(by_fold) > 1
    }
    known = [f.scale for f in fits if f.scale > 0]
    fallback = 2 * float(np.median(known)) if known else NO_HISTORY_SCALE
    results = []
    for fit in fits:
        width = (fit.scale if fit.scale > 0 else fallback) * backtest.spread_steps(horizon, growth)
        coverage, pinball = (
            _scored(fit, left_out, fallback, level, growth) if fit.backtest is not None else (None, None)
        )
        results.append(
            Calibrated(
                skill=fit.skill,
                target=fit.target,
                model=fit.model,
                p10=backward(fit.point + low * width, transform),
                p50=backward(fit.point, transform),
                p90=backward(fit.point + high * width, transform),
                coverage=coverage,
                pinball=pinball,
            )
        )
    return results


def _scaled_residuals(fits: list[SeriesFit]) -> np.ndarray:
    """Every backtest residual in spread units, as (folds of all series, steps)."""
    rows = []
    for fit in fits:
        if fit.backtest is None:
            continue
        test = fit.backtest
        residuals = forward(test.actual, transform_of(fit.target)) - test.predicted
        rows += [
            residuals[row] / test.scales[row] for row in range(residuals.shape[0]) if test.scales[row] > 0
        ]
    return np.array(rows) if rows else np.empty((0, 1))


def _normalised_residuals(fits: list[SeriesFit], growth: float) -> dict[int, np.ndarray]:
    """Residuals per fold, counted from the last fold (-1), in spread units per step spread."""
    parts: dict[int, list[np.ndarray]] = {}
    for fit in fits:
        if fit.backtest is None:
            continue
        test = fit.backtest
        steps = backtest.spread_steps(test.actual.shape[1], growth)
        residuals = forward(test.actual, transform_of(fit.target)) - test.predicted
        folds = residuals.shape[0]
        for row in range(folds):
            if test.scales[row] > 0:
                parts.setdefault(row - folds, []).append(residuals[row] / (test.scales[row] * steps))
    return {fold: np.concatenate(rows) for fold, rows in parts.items()}


def _scored(
    fit: SeriesFit, left_out: dict[int, tuple[float, float]], fallback: float, level: float, growth: float
) -> tuple[float | None, float | None]:
    test = fit.backtest
    assert test is not None
    transform = transform_of(fit.target)
    steps = backtest.spread_steps(test.actual.shape[1], growth)
    tail = (1 - level) / 2
    hits, losses = [], []
    folds = test.actual.shape[0]
    for row in range(folds):
        bounds = left_out.get(row - folds)
        if bounds is None:
            continue
        width = (test.scales[row] if test.scales[row] > 0 else fallback) * steps
        lower = backward(test.predicted[row] + bounds[0] * width, transform)
        upper = backward(test.predicted[row] + bounds[1] * width, transform)
        hits.append(backtest.coverage(test.actual[row], lower, upper))
        losses.append(
            (
                backtest.pinball(test.actual[row], lower, tail)
                + backtest.pinball(test.actual[row], upper, 1 - tail)
            )
            / 2
        )
    if not hits:
        return None, None
    return float(np.mean(hits)), float(np.mean(losses))
