"""A weekly series to forecast, and the scale its models work on: log1p for counts, log for rates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from gigcast.bundle import Target


@dataclass(frozen=True)
class Series:
    """One skill's weekly values of a target, weeks ascending; weeks without a value are absent."""

    skill: str
    target: Target
    weeks: list[date]
    values: list[float]
    volume: float = math.nan  # values a week over the data's last weeks: postings, or hourly rates


def forward(values: np.ndarray, target: Target) -> np.ndarray:
    """Counts to log1p (zeros happen), rates to log."""
    model_scale: np.ndarray = np.log1p(values) if target == Target.DEMAND else np.log(values)
    return model_scale


def backward(values: np.ndarray, target: Target) -> np.ndarray:
    data_scale: np.ndarray = np.maximum(np.expm1(values), 0.0) if target == Target.DEMAND else np.exp(values)
    return data_scale


def spread_unit(y: np.ndarray) -> float:
    """Typical week-to-week change on the model scale: what interval widths are measured in."""
    return float(np.mean(np.abs(np.diff(y)))) if y.size > 2 else math.nan


def level_of_counts(model_scale: npt.ArrayLike) -> np.ndarray:
    """A forecast of log1p counts moved up to where the mean of those counts lies.

    Weekly counts scatter at least as a Poisson count does around their mean ``m``, and the mean
    of their log1p sits ``m / (2 (1 + m)^2)`` below log1p(``m``) (the delta method): a level
    fitted on the log1p scale and turned back reads a thin series low (5% at 10 postings a week,
    1% at 50) unless it is moved back up.

    >>> [round(float(np.expm1(level_of_counts(np.log1p(m)))), 2) for m in (0.0, 10.0, 50.0)]
    [0.0, 10.46, 50.49]
    """
    forecast = np.asarray(model_scale, dtype=float)
    mean = np.maximum(np.expm1(forecast), 0.0)
    moved: np.ndarray = forecast + mean / (2 * (1 + mean) ** 2)
    return moved
