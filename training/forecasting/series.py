"""A weekly series to forecast, and the scale its models work on: log1p for counts, log for rates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from gigcast.bundle import Target


@dataclass(frozen=True)
class Series:
    """One skill's weekly values of a target, weeks ascending; weeks without a value are absent."""

    skill: str
    target: Target
    weeks: list[date]
    values: list[float]


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
