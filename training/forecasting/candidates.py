"""The models that race for each series, all in statsforecast's shape.

Every candidate is an object with ``forecast(y, h)`` returning ``{"mean": array}`` on the model
scale (log1p for counts, log for rates), so that one ``StatsForecast`` call fits a fold of many
series at once. Prophet is wrapped to the same shape. A candidate that fails on a series (too
short, no convergence) forecasts NaN there through ``Failed`` and cannot win that series.
"""

from __future__ import annotations

import logging
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
from statsforecast.models import (
    AutoETS,
    AutoTheta,
    CrostonOptimized,
    DynamicOptimizedTheta,
    HistoricAverage,
    Naive,
    SeasonalNaive,
    WindowAverage,
)

from gigcast.bundle import Target
from training.forecasting.backtest import SEASON


class Model(StrEnum):
    """The name of every model that can answer for a series, as the scores and metrics show it."""

    AUTO_ETS = "AutoETS"
    AUTO_THETA = "AutoTheta"
    DYNAMIC_THETA = "DynamicOptimizedTheta"
    PROPHET = "Prophet"
    SEASONAL_NAIVE = "SeasonalNaive"
    NAIVE = "Naive"
    WINDOW_AVERAGE = "WindowAverage"
    HISTORIC_AVERAGE = "HistoricAverage"
    CROSTON = "CrostonOptimized"
    ENSEMBLE = "Median"  # the median of a series' best candidates
    UNTESTED = "untested"  # the robust default of a series too short for any backtest
    ON_MARKET = "OnMarket"  # near weeks no fold judges: the choice moved to the market's level


#: Weeks the robust default averages, for a series too short for any backtest.
DEFAULT_WINDOW = 4
#: How far a model with no backtest at all answers, from the robust default.
UNTESTED_HORIZON = 4
#: The median of a series' ``ENSEMBLE_SIZE`` best candidates races as ``Model.ENSEMBLE``; a single
#: candidate replaces it only with a backtest MASE below ``CLEAR_WIN`` times the ensemble's.
ENSEMBLE_SIZE = 3
CLEAR_WIN = 0.9
#: Candidates that cost a real fit (Prophet about 45 ms, the Thetas and ETS 4-11 ms; the rest well
#: under 1 ms). Raced first on a series' screening folds, one goes on to its other folds only when it
#: may still reach the ensemble there: a MASE within ``SCREEN_MARGIN`` times that of the ensemble's
#: last member, or for Prophet, which costs twice the others together, a place within
#: ``PROPHET_PLACE``. A model that cannot reach the ensemble is not fitted again.
COSTLY = frozenset({Model.PROPHET, Model.AUTO_THETA, Model.DYNAMIC_THETA, Model.AUTO_ETS})
SCREEN_MARGIN = 1.1
PROPHET_PLACE = ENSEMBLE_SIZE + 1


class ProphetModel:
    """Prophet on a regular weekly series, as a statsforecast model.

    Prophet needs dates; a regular weekly series needs only their spacing, so the weeks are
    laid from a fixed Monday. Yearly seasonality is fitted once two seasons are seen. Intervals
    come from the backtest, not from Prophet's sampling.
    """

    uses_exog = False
    ORIGIN = date(2001, 1, 1)  # a Monday

    def __init__(self, *, season_length: int = SEASON, alias: str = Model.PROPHET) -> None:
        self.season_length = season_length
        self.alias = alias

    def __repr__(self) -> str:
        return self.alias

    def new(self) -> ProphetModel:
        return ProphetModel(season_length=self.season_length, alias=self.alias)

    def forecast(
        self, y: np.ndarray, h: int, X: Any = None, X_future: Any = None, fitted: bool = False
    ) -> dict[str, np.ndarray]:
        # Prophet logs at import that plotly is missing (plots here are matplotlib's): say so first.
        logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
        logging.getLogger("prophet").setLevel(logging.ERROR)
        import cmdstanpy
        import pandas as pd
        from prophet import Prophet

        cmdstanpy.disable_logging()  # it resets its own level on first use; failures still raise
        weeks = pd.date_range(self.ORIGIN, periods=y.size + h, freq="W-MON")
        model = Prophet(
            yearly_seasonality=y.size > 2 * self.season_length,  # Prophet asks for 730 days
            weekly_seasonality=False,
            daily_seasonality=False,
            uncertainty_samples=0,
        )
        try:
            model.fit(pd.DataFrame({"ds": weeks[: y.size], "y": y}))
            mean = model.predict(pd.DataFrame({"ds": weeks[y.size :]}))["yhat"].to_numpy()
        finally:
            if model.stan_backend is not None:
                model.stan_backend.cleanup()  # CmdStan's files would otherwise stay until the worker exits
        return {"mean": np.asarray(mean, dtype=float)}


class Failed:
    """The fallback of every fit: a candidate that raises forecasts NaN and drops out of the race."""

    alias = "Failed"

    def __repr__(self) -> str:
        return self.alias

    def new(self) -> Failed:
        return self

    def forecast(
        self, y: np.ndarray, h: int, X: Any = None, X_future: Any = None, fitted: bool = False
    ) -> dict[str, np.ndarray]:
        return {"mean": np.full(h, np.nan)}


def candidates(target: Target) -> list[Any]:
    """The race for one target, in the order ties are settled (simplest last)."""
    models: list[Any] = [
        # additive errors on the log scale; the trend may be none, linear or damped
        AutoETS(season_length=1, model="AZN", alias=Model.AUTO_ETS),
        AutoTheta(season_length=1, alias=Model.AUTO_THETA),
        DynamicOptimizedTheta(season_length=1, alias=Model.DYNAMIC_THETA),
        ProphetModel(),
        SeasonalNaive(season_length=SEASON, alias=Model.SEASONAL_NAIVE),
        Naive(alias=Model.NAIVE),
        WindowAverage(window_size=13, alias=Model.WINDOW_AVERAGE),
        HistoricAverage(alias=Model.HISTORIC_AVERAGE),
    ]
    if target == Target.DEMAND:
        models.append(CrostonOptimized(alias=Model.CROSTON))  # sparse counts: postings in some weeks only
    return models


class RecentLevel:
    """The mean of the last ``window`` values (all of them when fewer), repeated: no trend, no season.

    What a series too short for any backtest gets: nothing it could not test.
    """

    uses_exog = False

    def __init__(self, *, window: int = DEFAULT_WINDOW, alias: str = "RecentLevel") -> None:
        self.window = window
        self.alias = alias

    def __repr__(self) -> str:
        return self.alias

    def new(self) -> RecentLevel:
        return self

    def forecast(
        self, y: np.ndarray, h: int, X: Any = None, X_future: Any = None, fitted: bool = False
    ) -> dict[str, np.ndarray]:
        return {"mean": np.full(h, float(np.mean(y[-self.window :])))}


def robust_default() -> RecentLevel:
    return RecentLevel(alias=Model.UNTESTED)


#: Candidates that model the yearly season from the series itself; the others see the series with
#: the market's calendar taken out (``training.forecasting.calendar``) and put back after.
OWN_SEASON = frozenset({Model.PROPHET, Model.SEASONAL_NAIVE})


def ensemble_name(members: list[str]) -> str:
    return f"{Model.ENSEMBLE}({', '.join(members)})"
