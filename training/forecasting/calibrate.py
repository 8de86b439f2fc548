"""Forecast intervals from backtest residuals (split conformal), per horizon bucket and volume.

Each residual is divided by its series' spread unit, so that one pair of quantiles per bucket
serves many series of a target: the weeks 27-52 ahead get the errors seen that far ahead, not
those of next week. Spread units do not make a thin series' misses look like a busy one's (a
count of 8 a week scatters by more than its week-to-week change says), so the quantiles are
learned apart per volume class (Mondrian conformal): series with as many values a week take the
errors of their own kind. A class with too few series takes its nearest neighbour's, the thinner
first. The coverage reported is cross-fitted: each fold is scored with quantiles learned from
the other folds only.
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

#: Values a week (postings, or hourly rates) over the data's last ``VOLUME_WEEKS`` weeks that part
#: series into classes calibrated apart: under 5, 5-20, 20-100 and 100 or more.
VOLUME_EDGES = (5.0, 20.0, 100.0)
VOLUME_WEEKS = 13

#: Fewest series with residuals in a horizon bucket for a volume class to have quantiles of its own.
MIN_CLASS_SERIES = 5

#: The class of a series whose volume is unknown: calibrated with every series.
POOLED = -1

Bounds = tuple[float, float]
Key = tuple[str, int, int]  # horizon bucket name, volume class, fold back


def volume_class(volume: float) -> int:
    """The index of ``volume``'s class among ``VOLUME_EDGES``' intervals; ``POOLED`` when unknown.

    >>> [volume_class(v) for v in (0.5, 5.0, 19.9, 250.0, float("nan"))]
    [0, 1, 1, 3, -1]
    """
    return int(np.searchsorted(VOLUME_EDGES, volume, side="right")) if math.isfinite(volume) else POOLED


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
    residuals, members = _residuals(fits)
    buckets = served_buckets(horizon)
    sources = {
        (bucket.name, klass): _source(members, bucket.name, klass)
        for bucket in buckets
        for klass in {volume_class(f.volume) for f in fits}
    }
    left_out: dict[tuple[str, frozenset[int], int], Bounds] = {}  # bucket name, source, fold back
    for name, source in {(n, src) for (n, _), src in sources.items()}:
        backs = {back for (bucket, k, back) in residuals if bucket == name and k in source}
        for back in backs if len(backs) > 1 else ():
            rest = [
                r for (bucket, k, b), r in residuals.items() if bucket == name and k in source and b != back
            ]
            left_out[(name, source, back)] = backtest.conformal_bounds(np.concatenate(rest), level)
    known = [f.scale for f in fits if f.scale > 0]
    fallback = 2 * float(np.median(known)) if known else NO_HISTORY_SCALE
    bands: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    results = []
    for fit in fits:
        klass = volume_class(fit.volume)
        if klass not in bands:
            bounds = _bounds_by_bucket(residuals, sources, buckets, klass, level)
            steps = [bounds[bucket_of(step).name] for step in range(1, horizon + 1)]
            bands[klass] = (np.array([low for low, _ in steps]), np.array([high for _, high in steps]))
        low, high = bands[klass]
        width = fit.scale if fit.scale > 0 else fallback
        coverage, pinball, by_bucket = _scored(fit, left_out, sources, fallback, level)
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


def _residuals(fits: list[SeriesFit]) -> tuple[dict[Key, np.ndarray], dict[tuple[str, int], set[str]]]:
    """Backtest residuals in spread units by (bucket name, volume class, fold back), and the series
    that gave residuals to each (bucket name, volume class)."""
    parts: dict[Key, list[float]] = {}
    members: dict[tuple[str, int], set[str]] = {}
    for fit in fits:
        if fit.backtest is None:
            continue
        klass = volume_class(fit.volume)
        for fold in fit.backtest.folds:
            if not fold.spread > 0:
                continue
            errors = (forward(fold.actual, fit.target) - fold.predicted) / fold.spread
            for step, error in zip(fold.steps, errors, strict=True):
                if math.isfinite(error):
                    bucket = bucket_of(int(step)).name
                    parts.setdefault((bucket, klass, fold.back), []).append(float(error))
                    members.setdefault((bucket, klass), set()).add(fit.skill)
    return {key: np.array(values) for key, values in parts.items()}, members


def _source(members: dict[tuple[str, int], set[str]], bucket: str, klass: int) -> frozenset[int]:
    """The volume classes whose residuals calibrate ``klass`` in ``bucket``: its own when it has
    ``MIN_CLASS_SERIES`` series there, else the nearest class that has (the thinner first), else all."""
    every = frozenset(k for b, k in members if b == bucket)
    if klass == POOLED:
        return every
    for distance in range(len(VOLUME_EDGES) + 1):
        for near in (klass - distance, klass + distance):
            if len(members.get((bucket, near), ())) >= MIN_CLASS_SERIES:
                return frozenset({near})
    return every


def _bounds_by_bucket(
    residuals: dict[Key, np.ndarray],
    sources: dict[tuple[str, int], frozenset[int]],
    buckets: tuple[Bucket, ...],
    klass: int,
    level: float,
) -> dict[str, Bounds]:
    """A class's quantiles per served bucket; a bucket no fold reached takes the nearest one before it."""
    normal = NormalDist().inv_cdf(0.5 + level / 2)
    bounds: dict[str, Bounds] = {}
    previous: Bounds = (-normal, normal)  # no backtest at all: normal quantiles of the wide fallback
    for bucket in buckets:
        source = sources[(bucket.name, klass)]
        pooled = [r for (name, k, _), r in residuals.items() if name == bucket.name and k in source]
        if pooled:
            previous = backtest.conformal_bounds(np.concatenate(pooled), level)
        bounds[bucket.name] = previous
    return bounds


def _scored(
    fit: SeriesFit,
    left_out: dict[tuple[str, frozenset[int], int], Bounds],
    sources: dict[tuple[str, int], frozenset[int]],
    fallback: float,
    level: float,
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
            source = sources.get((bucket.name, volume_class(fit.volume)))
            bounds = left_out.get((bucket.name, source, fold.back)) if source is not None else None
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
