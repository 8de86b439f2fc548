"""Per-series forecasts: Prophet on a transformed weekly series, scored on a holdout.

Pure functions of arrays: no files, no MLflow, so that any executor can run them. Prophet and
pandas are imported inside the functions that use them and nowhere else.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np

Transform = Literal["log", "log1p"]
COVERAGE = 0.8
Z80 = 1.2816  # standard normal quantile of 0.9


@dataclass(frozen=True)
class Series:
    """One weekly series to forecast: demand (counts, log1p) or rate (USD/h, log)."""

    skill: str
    target: Literal["demand", "rate"]
    weeks: list[date]
    values: list[float]

    @property
    def transform(self) -> Transform:
        return "log1p" if self.target == "demand" else "log"


@dataclass(frozen=True)
class Forecast:
    """Quantiles for the weeks after the data, on the original scale."""

    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    model: str


@dataclass(frozen=True)
class Score:
    """How a forecast fitted on all but the last weeks did on those weeks."""

    mase: float
    coverage: float


@dataclass(frozen=True)
class SeriesResult:
    skill: str
    target: str
    forecast: Forecast
    score: Score | None


def forward(values: np.ndarray, transform: Transform) -> np.ndarray:
    return np.log1p(values) if transform == "log1p" else np.log(values)


def backward(values: np.ndarray, transform: Transform) -> np.ndarray:
    return np.maximum(np.expm1(values), 0.0) if transform == "log1p" else np.exp(values)


def fit_prophet(weeks: list[date], y: np.ndarray, horizon: int) -> tuple[np.ndarray, ...]:
    """Prophet on a weekly series already on the model scale: (p10, p50, p90) for ``horizon``."""
    # Prophet logs at import that plotly is missing (plots here are matplotlib's): say so first.
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import pandas as pd
    from prophet import Prophet

    model = Prophet(
        interval_width=COVERAGE,
        yearly_seasonality=len(weeks) >= 104,
        weekly_seasonality=False,
        daily_seasonality=False,
        uncertainty_samples=300,
    )
    model.fit(pd.DataFrame({"ds": pd.to_datetime(weeks), "y": y}))
    future = pd.DataFrame(
        {"ds": pd.date_range(weeks[-1] + timedelta(weeks=1), periods=horizon, freq="W-MON")}
    )
    predicted = model.predict(future)
    return (
        predicted["yhat_lower"].to_numpy(),
        predicted["yhat"].to_numpy(),
        predicted["yhat_upper"].to_numpy(),
    )


def fit_flat(y: np.ndarray, horizon: int) -> tuple[np.ndarray, ...]:
    """The mean, with an interval from the series' own spread (wide when it has none)."""
    centre = float(np.mean(y))
    spread = float(np.std(y, ddof=1)) if y.size > 2 else 0.5
    half = Z80 * spread * math.sqrt(1 + 1 / y.size)
    flat = np.full(horizon, centre)
    return flat - half, flat, flat + half


def forecast(series: Series, horizon: int, *, min_weeks: int = 12) -> Forecast:
    """Prophet when the series has ``min_weeks`` weeks, else a flat forecast."""
    y = forward(np.asarray(series.values, dtype=float), series.transform)
    if len(series.values) >= min_weeks:
        low, mid, high = fit_prophet(series.weeks, y, horizon)
        model = "prophet"
    else:
        low, mid, high = fit_flat(y, horizon)
        model = "flat"
    p10, p50, p90 = (backward(v, series.transform) for v in (low, mid, high))
    return Forecast(np.minimum(p10, p50), p50, np.maximum(p90, p50), model)


def score(actual: np.ndarray, predicted: Forecast, history: np.ndarray) -> Score:
    """MASE against the in-sample naive forecast, and the share of actuals in the interval."""
    scale = float(np.mean(np.abs(np.diff(history)))) if history.size > 1 else 0.0
    error = float(np.mean(np.abs(actual - predicted.p50)))
    inside = (actual >= predicted.p10) & (actual <= predicted.p90)
    return Score(mase=error / scale if scale > 0 else math.nan, coverage=float(np.mean(inside)))


def fit_series(series: Series, *, horizon: int, holdout: int, min_weeks: int = 12) -> SeriesResult:
    """Forecast ``horizon`` weeks ahead; score the same method on the last ``holdout`` weeks."""
    result_score = None
    if len(series.values) >= 2 * holdout + 12:
        past = Series(series.skill, series.target, series.weeks[:-holdout], series.values[:-holdout])
        actual = np.asarray(series.values[-holdout:], dtype=float)
        predicted = forecast(past, holdout, min_weeks=min_weeks)
        result_score = score(actual, predicted, np.asarray(past.values, dtype=float))
    return SeriesResult(
        series.skill, series.target, forecast(series, horizon, min_weeks=min_weeks), result_score
    )


def fit_chunk(chunk: list[Series], horizon: int, holdout: int, min_weeks: int) -> list[SeriesResult]:
    """Fit a chunk of series in one worker process."""
    return [fit_series(s, horizon=horizon, holdout=holdout, min_weeks=min_weeks) for s in chunk]
