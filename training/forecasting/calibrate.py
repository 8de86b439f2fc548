"""Forecast intervals from backtest residuals (split conformal), per horizon bucket.

Each residual is divided by its series' spread unit, so that one pair of quantiles per bucket
serves every series of a target: the weeks 27-52 ahead get the errors seen that far ahead, not
those of next week. The coverage reported is cross-fitted: each fold is scored with quantiles
learned from the other folds only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from gigcast.bundle import INTERVAL_COVERAGE, Target
from training.forecasting import backtest
from training.forecasting.backtest import Bucket, bucket_of, served_buckets
from training.forecasting.race import SeriesFit
from training.forecasting.series import backward, forward

#: Spread unit on the log scale for series too short to have one, when no series has one either.
NO_HISTORY_SCALE = 0.5

Bounds = tuple[float, float]


@dataclass(frozen=True)
class Calibrated:
    skill: str
    target: Target
    model: str
    p10: np.ndarray  # original scale, one value per week ahead
    p50: np.ndarray
    p90: np.ndarray
    coverage: float | None  # share of backtest actuals inside the interval, cross-fitted
    pinball: float | None  # mean pinball loss of p10 and p90 on the backtest
    coverage_by_bucket: dict[str, float] = field(default_factory=dict)


def calibrate(fits: list[SeriesFit], *, horizon: int, level: float = INTERVAL_COVERAGE) -> list[Calibrated]:
    """Intervals for every fit of one target, and how well they covered in the backtest."""
    if not fits:
        return []
    residuals = _residuals(fits)
    buckets = served_buckets(horizon)
    bounds = _bounds_by_bucket(residuals, buckets, level)
    left_out: dict[tuple[Bucket, int], Bounds] = {}
    for bucket in buckets:
        backs = {back for name, back in residuals if name == bucket.name}
        for back in backs if len(backs) > 1 else ():
            rest = [r for (name, k), r in residuals.items() if name == bucket.name and k != back]
            left_out[(bucket, back)] = backtest.conformal_bounds(np.concatenate(rest), level)
    known = [f.scale for f in fits if f.scale > 0]
    fallback = 2 * float(np.median(known)) if known else NO_HISTORY_SCALE
    low = np.array([bounds[bucket_of(step).name][0] for step in range(1, horizon + 1)])
    high = np.array([bounds[bucket_of(step).name][1] for step in range(1, horizon + 1)])
    results = []
    for fit in fits:
        width = fit.scale if fit.scale > 0 else fallback
        coverage, pinball, by_bucket = _scored(fit, left_out, fallback, level)
        results.append(
            Calibrated(
                skill=fit.skill,
                target=fit.target,
                model=fit.model,
                p10=backward(fit.point[:horizon] + low * width, fit.target),
                p50=backward(fit.point[:horizon], fit.target),
                p90=backward(fit.point[:horizon] + high * width, fit.target),
                coverage=coverage,
                pinball=pinball,
                coverage_by_bucket=by_bucket,
            )
        )
    return results


def _residuals(fits: list[SeriesFit]) -> dict[tuple[str, int], np.ndarray]:
    """Backtest residuals in spread units, by (bucket name, fold back)."""
    parts: dict[tuple[str, int], list[float]] = {}
    for fit in fits:
        if fit.backtest is None:
            continue
        for fold in fit.backtest.folds:
            if not fold.spread > 0:
                continue
            errors = (forward(fold.actual, fit.target) - fold.predicted) / fold.spread
            for step, error in zip(fold.steps, errors, strict=True):
                if math.isfinite(error):
                    parts.setdefault((bucket_of(int(step)).name, fold.back), []).append(float(error))
    return {key: np.array(values) for key, values in parts.items()}


def _bounds_by_bucket(
    residuals: dict[tuple[str, int], np.ndarray], buckets: tuple[Bucket, ...], level: float
) -> dict[str, Bounds]:
    """Each served bucket's quantiles; a bucket no fold reached takes the nearest one before it."""
    normal = NormalDist().inv_cdf(0.5 + level / 2)
    bounds: dict[str, Bounds] = {}
    previous: Bounds = (-normal, normal)  # no backtest at all: normal quantiles of the wide fallback
    for bucket in buckets:
        pooled = [r for (name, _), r in residuals.items() if name == bucket.name]
        if pooled:
            previous = backtest.conformal_bounds(np.concatenate(pooled), level)
        bounds[bucket.name] = previous
    return bounds


def _scored(
    fit: SeriesFit, left_out: dict[tuple[Bucket, int], Bounds], fallback: float, level: float
) -> tuple[float | None, float | None, dict[str, float]]:
    """Cross-fitted coverage (overall and per bucket) and pinball loss of a fit's backtest."""
    if fit.backtest is None:
        return None, None, {}
    tail = (1 - level) / 2
    hits: dict[str, list[bool]] = {}
    losses = []
    for fold in fit.backtest.folds:
        width = fold.spread if fold.spread > 0 else fallback
        for step, actual, predicted in zip(fold.steps, fold.actual, fold.predicted, strict=True):
            bucket = bucket_of(int(step))
            bounds = left_out.get((bucket, fold.back))
            if bounds is None or not math.isfinite(predicted):
                continue
            lower, upper = backward(np.array([predicted + b * width for b in bounds]), fit.target)
            hits.setdefault(bucket.name, []).append(bool(lower <= actual <= upper))
            losses.append(
                (
                    backtest.pinball(np.array([actual]), np.array([lower]), tail)
                    + backtest.pinball(np.array([actual]), np.array([upper]), 1 - tail)
                )
                / 2
            )
    if not losses:
        return None, None, {}
    every = [hit for bucket in hits.values() for hit in bucket]
    by_bucket = {name: float(np.mean(values)) for name, values in hits.items()}
    return float(np.mean(every)), float(np.mean(losses)), by_bucket
