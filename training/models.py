"""Per-series forecasts: Prophet or a baseline, chosen by a rolling-origin backtest.

Pure functions of arrays: no files, no MLflow, so that any executor can run them. Prophet and
pandas are imported inside the function that uses them and nowhere else. Everything is fitted
on the model scale (log1p for counts, log for rates); intervals are added afterwards by
``training.calibrate`` from the backtest residuals of all series.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np

from training import backtest

Transform = Literal["log", "log1p"]
Target = Literal["demand", "rate"]
CLEAR_WIN = 0.9  # a baseline replaces Prophet only with a MASE below 0.9 x Prophet's


@dataclass(frozen=True)
class Series:
    """One weekly series to forecast: demand (counts, log1p) or rate (USD/h, log)."""

    skill: str
    target: Target
    weeks: list[date]
    values: list[float]
    end: date | None = None  # the data's last week; a series that stops earlier is forecast past the gap

    @property
    def transform(self) -> Transform:
        return transform_of(self.target)

    @property
    def lead(self) -> int:
        """Weeks between the series' last value and the data's last week."""
        return (self.end - self.weeks[-1]).days // 7 if self.end else 0


@dataclass(frozen=True)
class Backtest:
    """How the chosen model did at each fold (rows, oldest first) for each step ahead (columns)."""

    actual: np.ndarray  # original scale
    predicted: np.ndarray  # model scale
    scales: np.ndarray  # one per fold: the spread unit of the fold's training weeks, model scale
    mase_scales: np.ndarray  # one per fold: what MASE divides by, original scale
    last_weeks: list[date]  # the weeks the last fold scored: the run's holdout
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> mase, smape


@dataclass(frozen=True)
class SeriesFit:
    skill: str
    target: Target
    model: str  # prophet, snaive, naive, drift, or flat when the history is too short to test
    point: np.ndarray  # the forecast on the model scale, one value per week ahead
    scale: float  # spread unit of the whole history on the model scale; nan when unknown
    backtest: Backtest | None


def transform_of(target: Target | str) -> Transform:
    """Counts are modelled as log1p (zeros happen), rates as log."""
    return "log1p" if target == "demand" else "log"


def forward(values: np.ndarray, transform: Transform) -> np.ndarray:
    return np.log1p(values) if transform == "log1p" else np.log(values)


def backward(values: np.ndarray, transform: Transform) -> np.ndarray:
    return np.maximum(np.expm1(values), 0.0) if transform == "log1p" else np.exp(values)


def spread_unit(y: np.ndarray) -> float:
    """Typical week-to-week change on the model scale: what interval widths are measured in."""
    return float(np.mean(np.abs(np.diff(y)))) if y.size > 2 else math.nan


def year_end_weeks(first: date, last: date) -> list[date]:
    """Mondays of the weeks holding Christmas and New Year's Day, when postings dip."""
    mondays = []
    for year in range(first.year - 1, last.year + 2):
        for day in (date(year, 12, 25), date(year, 1, 1)):
            monday = day - timedelta(days=day.weekday())
            if first <= monday <= last:
                mondays.append(monday)
    return sorted(set(mondays))


def fit_prophet(weeks: list[date], y: np.ndarray, horizon: int) -> np.ndarray:
    """Prophet's median forecast on the model scale for the ``horizon`` weeks after ``weeks``."""
    # Prophet logs at import that plotly is missing (plots here are matplotlib's): say so first.
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    logging.getLogger("prophet").setLevel(logging.ERROR)
    import cmdstanpy
    import pandas as pd
    from prophet import Prophet

    cmdstanpy.disable_logging()  # it resets its own level on first use; failures still raise

    end = weeks[-1] + timedelta(weeks=horizon)
    holidays = None
    if len(weeks) >= backtest.SEASON:
        year_end = year_end_weeks(weeks[0], end)
        holidays = pd.DataFrame({"holiday": "year_end", "ds": pd.to_datetime(year_end)}) if year_end else None
    model = Prophet(
        yearly_seasonality=len(weeks) >= 2 * backtest.SEASON,
        weekly_seasonality=False,
        daily_seasonality=False,
        holidays=holidays,
        uncertainty_samples=0,  # intervals come from the backtest residuals instead
    )
    future = pd.DataFrame(
        {"ds": pd.date_range(weeks[-1] + timedelta(weeks=1), periods=horizon, freq="W-MON")}
    )
    try:
        model.fit(pd.DataFrame({"ds": pd.to_datetime(weeks), "y": y}))
        return np.asarray(model.predict(future)["yhat"].to_numpy(), dtype=float)
    finally:
        model.stan_backend.cleanup()  # CmdStan's files would otherwise stay until the worker exits


def predict(model: str, weeks: list[date], y: np.ndarray, horizon: int) -> np.ndarray:
    """The point forecast of ``model`` on the model scale."""
    if model == "prophet":
        return fit_prophet(weeks, y, horizon)
    if model == "flat":
        return np.full(horizon, float(np.mean(y)))
    return backtest.BASELINES[model](y, horizon)


def fit_series(
    series: Series, *, horizon: int, backtest_horizon: int, folds: int, min_weeks: int = 12
) -> SeriesFit:
    """Backtest Prophet and the baselines, keep the best by the rule, forecast ``horizon`` weeks."""
    values = np.asarray(series.values, dtype=float)
    y = forward(values, series.transform)
    cuts = backtest.origins(y.size, horizon=backtest_horizon, folds=folds, min_train=min_weeks)
    if not cuts:
        model = "prophet" if y.size >= min_weeks else "flat"
        point = predict(model, series.weeks, y, horizon + series.lead)[series.lead :]
        return SeriesFit(series.skill, series.target, model, point, spread_unit(y), None)

    candidates = ["prophet", *backtest.BASELINES]
    predicted = {m: np.empty((len(cuts), backtest_horizon)) for m in candidates}
    actual = np.empty((len(cuts), backtest_horizon))
    mase_scales = np.empty(len(cuts))
    for row, cut in enumerate(cuts):
        actual[row] = values[cut : cut + backtest_horizon]
        mase_scales[row] = backtest.mase_scale(values[:cut])
        for m in candidates:
            predicted[m][row] = predict(m, series.weeks[:cut], y[:cut], backtest_horizon)
    scores = {
        m: {
            "mase": _mean(
                backtest.mase(actual[r], backward(predicted[m][r], series.transform), mase_scales[r])
                for r in range(len(cuts))
            ),
            "smape": _mean(
                backtest.smape(actual[r], backward(predicted[m][r], series.transform))
                for r in range(len(cuts))
            ),
        }
        for m in candidates
    }
    model = choose(scores)
    fit_backtest = Backtest(
        actual=actual,
        predicted=predicted[model],
        scales=np.array([spread_unit(y[:cut]) for cut in cuts]),
        mase_scales=mase_scales,
        last_weeks=series.weeks[cuts[-1] : cuts[-1] + backtest_horizon],
        scores=scores,
    )
    point = predict(model, series.weeks, y, horizon + series.lead)[series.lead :]
    return SeriesFit(series.skill, series.target, model, point, spread_unit(y), fit_backtest)


def choose(scores: dict[str, dict[str, float]]) -> str:
    """Prophet, unless a baseline's backtest MASE is clearly lower."""
    prophet = scores["prophet"]["mase"]
    best = min(backtest.BASELINES, key=lambda m: _ordered(scores[m]["mase"]))
    if math.isnan(prophet) or scores[best]["mase"] < CLEAR_WIN * prophet:
        return best if not math.isnan(scores[best]["mase"]) else "prophet"
    return "prophet"


def fit_chunk(
    chunk: list[Series], horizon: int, backtest_horizon: int, folds: int, min_weeks: int
) -> list[SeriesFit]:
    """Fit a chunk of series in one worker process."""
    return [
        fit_series(s, horizon=horizon, backtest_horizon=backtest_horizon, folds=folds, min_weeks=min_weeks)
        for s in chunk
    ]


def _mean(values: object) -> float:
    finite = [v for v in values if not math.isnan(v)]  # type: ignore[attr-defined]
    return float(np.mean(finite)) if finite else math.nan


def _ordered(value: float) -> float:
    return math.inf if math.isnan(value) else value
