from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest

from gigcast.bundle import Target
from training.forecasting.backtest import BACKS, BUCKETS, folds, screening
from training.forecasting.calendar import Calendar, Holiday
from training.forecasting.candidates import (
    CLEAR_WIN,
    COSTLY,
    DEFAULT_WINDOW,
    PROPHET_PLACE,
    SCREEN_MARGIN,
    Model,
    ProphetModel,
    candidates,
)
from training.forecasting.race import (
    WEIGHTED,
    Plan,
    _choose,
    _kept,
    _Scorer,
    forecast_weeks,
    market_forecasts,
    race,
)
from training.forecasting.series import Series, backward, forward, level_of_counts

START = date(2024, 1, 1)


def weekly(values: list[float], target: Target = Target.DEMAND, skill: str = "rag") -> Series:
    return Series(skill, target, [START + timedelta(weeks=i) for i in range(len(values))], values)


def plan_for(series: Series, horizon: int, calendar: Calendar | None = None) -> Plan:
    end = series.weeks[-1]
    firsts = [end - timedelta(weeks=k) for k in range(60)] + [end + timedelta(weeks=1)]
    return Plan(horizon=horizon, end=end, calendars={first: calendar or Calendar() for first in firsts})


def test_a_trend_is_continued_by_a_model_that_won_the_backtest() -> None:
    rng = np.random.default_rng(0)
    series = weekly([float(v) for v in rng.poisson(np.linspace(20, 80, 80))])
    (fit,) = race([series], plan_for(series, horizon=8))
    assert fit.backtest is not None
    assert fit.point.shape == (8,)
    assert 65 < np.expm1(fit.point[0]) < 100  # continues the trend instead of the mean (about 50)
    scores = fit.backtest.scores
    assert {repr(m) for m in candidates(Target.DEMAND)} | {Model.ENSEMBLE} <= set(scores)
    raced = set(scores) - fit.backtest.screened_out - {Model.ENSEMBLE}
    # a candidate that failed at a fold (SeasonalNaive, before a year of history) scores NaN and cannot win
    best = min(
        (name for name in raced if np.isfinite(scores[name][WEIGHTED])), key=lambda n: scores[n][WEIGHTED]
    )
    if fit.backtest.chosen == Model.ENSEMBLE:  # the median of the best three, unless one clearly beats it
        assert fit.model.startswith(f"{Model.ENSEMBLE}(") and best in fit.model
        assert scores[best][WEIGHTED] >= CLEAR_WIN * scores[Model.ENSEMBLE][WEIGHTED]
    else:
        assert fit.model == best and scores[best][WEIGHTED] < CLEAR_WIN * scores[Model.ENSEMBLE][WEIGHTED]


def test_a_level_that_stopped_moving_is_kept_flat() -> None:
    values = [10.0] * 30 + [100.0] * 30  # a jump, then flat: the last value is exact at every fold
    (fit,) = race([weekly(values, Target.RATE)], plan_for(weekly(values), horizon=4))
    assert fit.backtest is not None
    assert fit.backtest.scores["Naive"][WEIGHTED] == pytest.approx(0.0, abs=1e-9)
    assert fit.backtest.scores[fit.backtest.chosen][WEIGHTED] == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(np.exp(fit.point), 100.0, rtol=1e-4)


def test_every_bucket_a_long_history_reaches_is_scored() -> None:
    rng = np.random.default_rng(2)
    series = weekly(list(np.exp(rng.normal(3, 0.1, 120))), Target.RATE)
    (fit,) = race([series], plan_for(series, horizon=52))
    assert fit.backtest is not None and fit.backtest.tested_horizon == 52
    assert set(fit.backtest.scores["AutoETS"]) == {b.name for b in BUCKETS} | {WEIGHTED}
    steps = np.concatenate([fold.steps for fold in fit.backtest.folds])
    assert steps.min() == 1 and steps.max() == 52


def test_a_series_too_short_to_test_gets_the_level_of_its_last_weeks() -> None:
    values = [3.0, 30.0, 40.0, 50.0, 60.0]
    (fit,) = race([weekly(values)], plan_for(weekly(values), horizon=6))
    assert fit.model == Model.UNTESTED and fit.backtest is None
    expected = level_of_counts(np.mean(np.log1p(values[-DEFAULT_WINDOW:])))
    assert np.allclose(fit.point, expected)  # no trend it could not test


class Exploding:
    """A candidate that fails on every series."""

    alias = "Exploding"
    uses_exog = False

    def __repr__(self) -> str:
        return self.alias

    def new(self) -> Exploding:
        return self

    def forecast(self, y: np.ndarray, h: int, **_: Any) -> dict[str, np.ndarray]:
        raise ValueError("cannot fit")


def test_a_candidate_that_fails_drops_out_without_taking_the_series_down() -> None:
    from statsforecast.models import Naive

    series = {0: weekly([5.0, 6.0, 7.0, 8.0]), 1: weekly([1.0] * 12)}
    forecasts = forecast_weeks(
        series, [Exploding(), Naive()], first=START + timedelta(weeks=12), steps=3, calendar=Calendar()
    )
    assert np.isnan(forecasts[0]["Exploding"]).all() and np.isnan(forecasts[1]["Exploding"]).all()
    assert np.allclose(forecasts[1]["Naive"], level_of_counts(np.log1p(1.0)))
    # the first series stopped 8 weeks early: forecast across the weeks it lacks, to the same weeks
    assert np.allclose(forecasts[0]["Naive"], level_of_counts(np.log1p(8.0)))


def test_the_market_calendar_reaches_models_without_a_season_of_their_own() -> None:
    from statsforecast.models import Naive, SeasonalNaive

    christmas = date(2025, 12, 22)
    series = Series(
        "rag", Target.DEMAND, [christmas - timedelta(weeks=20 - w) for w in range(20)], [50.0] * 20
    )
    calendar = Calendar(holidays={Holiday.CHRISTMAS: np.log(0.5)})
    forecasts = forecast_weeks(
        {0: series}, [Naive(), SeasonalNaive(season_length=52)], first=christmas, steps=2, calendar=calendar
    )
    naive = forecasts[0]["Naive"]
    assert naive[0] == pytest.approx(level_of_counts(np.log(51 * 0.5)), rel=1e-6)  # the Christmas week dips
    assert naive[1] == pytest.approx(level_of_counts(np.log1p(50.0)))
    assert np.isnan(forecasts[0]["SeasonalNaive"]).all()  # its own season: too short to have one


def test_counts_never_go_negative() -> None:
    values = [0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    (fit,) = race([weekly(values)], plan_for(weekly(values), horizon=10))
    served = backward(fit.point, Target.DEMAND)
    assert np.all(served >= 0) and np.all(served <= max(values))


def test_a_series_that_stops_early_is_forecast_from_the_data_end() -> None:
    values = list(np.exp(3 + 0.05 * np.arange(40)))  # a clean exponential trend
    series = weekly(values, Target.RATE)
    plan = plan_for(series, horizon=2)
    late = Plan(horizon=2, end=series.weeks[-1] + timedelta(weeks=3), calendars=plan.calendars)
    (fit,) = race([series], late)
    # the first forecast week is the fourth after the last value, not the first
    assert fit.point[0] == pytest.approx(3 + 0.05 * 43, abs=0.03)
    assert fit.point[1] == pytest.approx(3 + 0.05 * 44, abs=0.03)


def test_one_fold_cannot_crown_a_single_model() -> None:
    values = [10.0] * 8 + [100.0] * 5  # one fold (back 4); Naive is right on it, the others are not
    (fit,) = race([weekly(values)], plan_for(weekly(values), horizon=4))
    assert fit.backtest is not None and len(fit.backtest.folds) == 1
    scores = fit.backtest.scores
    assert scores["Naive"][WEIGHTED] < 0.1
    assert (
        scores["Naive"][WEIGHTED] < CLEAR_WIN * scores[Model.ENSEMBLE][WEIGHTED]
    )  # a clear win, but from one fold
    assert (
        fit.backtest.chosen == Model.ENSEMBLE
        and fit.model.startswith(f"{Model.ENSEMBLE}(")
        and "Naive" in fit.model
    )


def test_a_costly_candidate_that_ranks_low_on_the_screening_folds_is_not_fitted_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trained_on: list[int] = []  # weeks of history of each Prophet fit
    prophet = ProphetModel.forecast

    def counted(self: ProphetModel, y: np.ndarray, h: int, **kwargs: Any) -> dict[str, np.ndarray]:
        trained_on.append(y.size)
        return prophet(self, y, h, **kwargs)

    monkeypatch.setattr(ProphetModel, "forecast", counted)
    rng = np.random.default_rng(5)
    series = weekly(list(np.exp(3 + np.cumsum(rng.normal(0, 0.05, 90)))), Target.RATE)  # a random walk
    (fit,) = race([series], plan_for(series, horizon=52))
    tested = folds(series.weeks, end=series.weeks[-1], horizon=52)
    assert fit.backtest is not None and len(tested) == len(BACKS)
    assert Model.PROPHET in fit.backtest.screened_out <= COSTLY
    weeks_before = sorted(sum(w < fold.cut for w in series.weeks) for fold in screening(tested))
    assert sorted(trained_on) == weeks_before  # the screening folds only, and no final fit
    # what goes on is scored on every fold, the screened-out on the screening folds only
    assert len(fit.backtest.folds) == len(tested)
    assert "Naive" not in fit.backtest.screened_out


def test_prophet_goes_on_only_from_a_place_near_the_ensemble_where_a_theta_goes_on_by_its_margin() -> None:
    rng = np.random.default_rng(6)
    series = weekly(list(np.exp(rng.normal(3, 0.1, 90))), Target.RATE)
    tested = folds(series.weeks, end=series.weeks[-1], horizon=52)
    scorer = _Scorer(series, tested, plan_for(series, horizon=52))
    observed = dict(zip(series.weeks, np.log(series.values), strict=True))
    # on the log scale, each candidate a fixed distance above every value it forecasts
    above = {"Naive": 0.10, "WindowAverage": 0.11, "HistoricAverage": 0.12, "SeasonalNaive": 0.125}
    above |= {"AutoTheta": 0.13, "Prophet": 0.13, "AutoETS": 0.3}  # within 1.1 of third; fifth at best
    predictions = {
        fold.back: {
            name: np.array([observed.get(fold.cut + timedelta(weeks=k), np.nan) for k in range(fold.steps)])
            + gap
            for name, gap in above.items()
        }
        for fold in screening(tested)
    }
    models = [m for m in candidates(Target.RATE) if repr(m) in above]
    kept = {repr(m) for m in _kept(scorer, predictions, models)}
    assert PROPHET_PLACE < 5 and SCREEN_MARGIN * (np.exp(0.12) - 1) > np.exp(0.13) - 1
    assert kept == set(above) - {"Prophet", "AutoETS"}


def test_a_level_fitted_on_log_counts_is_moved_back_to_the_counts_mean() -> None:
    rng = np.random.default_rng(5)
    for mean in (3.0, 10.0, 50.0):
        fitted = np.mean(np.log1p(rng.poisson(mean, 200_000)))  # what a flat model fits on the model scale
        assert np.expm1(fitted) < mean * 0.99  # read back as it is, a thin series is read low
        assert np.expm1(level_of_counts(fitted)) == pytest.approx(mean, rel=0.02)


YEAR_END = date(2025, 10, 20)  # 13 collected weeks from here: Christmas, New Year, a gap, two weeks


def year_end_market(levels: dict[str, float], after: float) -> list[Series]:
    """Skills that dip at the year end, lose a week to collection, and come back ``after`` times higher."""
    rng = np.random.default_rng(3)
    weeks = [YEAR_END + timedelta(weeks=k) for k in range(14) if k != 11]  # 2026-01-05 not collected
    shape = {
        date(2025, 12, 22): 0.5,
        date(2025, 12, 29): 0.6,
        date(2026, 1, 12): after,
        date(2026, 1, 19): after,
    }
    return [
        Series(skill, Target.DEMAND, weeks, [float(rng.poisson(level * shape.get(w, 1.0))) for w in weeks])
        for skill, level in levels.items()
    ]


def test_near_weeks_no_fold_can_judge_start_from_the_markets_level_not_its_dip() -> None:
    levels = {"rag": 400.0, "mlops": 150.0, "llm-ops": 60.0}
    group = year_end_market(levels, after=1.2)
    weeks = group[0].weeks
    market = Series(
        "market", Target.DEMAND, weeks, [sum(s.values[k] for s in group) for k in range(len(weeks))]
    )
    plan = Plan(horizon=4, end=weeks[-1], calendars={})
    # the only fold is cut after Christmas: it measures the level coming back, not the weeks served
    assert [f.back for f in folds(weeks, end=plan.end, horizon=4)] == [4]
    anchored = race(group, replace(plan, market=market_forecasts(market, plan)))
    unanchored = race(group, plan)
    for fit, plain, level in zip(anchored, unanchored, levels.values(), strict=True):
        assert fit.model.endswith(f"weeks 1-4: {Model.ON_MARKET}")
        assert backward(fit.point, Target.DEMAND) == pytest.approx(np.full(4, 1.2 * level), rel=0.12)
        assert (
            backward(plain.point[0], Target.DEMAND) < 0.9 * 1.2 * level
        )  # the dip carried into the weeks served


def test_only_a_fold_cut_after_an_ordinary_week_judges_the_near_weeks() -> None:
    end = date(2026, 2, 16)
    weeks = [
        end - timedelta(weeks=k) for k in range(40, -1, -1) if end - timedelta(weeks=k) != date(2026, 1, 19)
    ]
    series = Series("rag", Target.DEMAND, weeks, [50.0 + k % 3 for k in range(len(weeks))])
    tested = folds(weeks, end=end, horizon=52)
    scorer = _Scorer(series, tested, Plan(horizon=52, end=end, calendars={}))
    # back 4 trains up to a week not collected, back 8 up to Christmas
    assert scorer.ordinary == {
        26: True,
        13: True,
        8: False,
        4: False,
    }


@pytest.mark.parametrize("target", [Target.DEMAND, Target.RATE])
def test_a_candidate_that_clearly_wins_the_near_weeks_takes_them_and_the_far_weeks_keep_the_choice(
    target: Target,
) -> None:
    rng = np.random.default_rng(8)
    series = weekly([float(v) for v in rng.poisson(40, 90)], target)
    tested = folds(series.weeks, end=series.weeks[-1], horizon=52)
    observed = dict(zip(series.weeks, forward(np.asarray(series.values), target), strict=True))
    # each candidate a fixed distance above every value; Naive exact in weeks 1-4 and far off after
    above = {"WindowAverage": 0.10, "HistoricAverage": 0.11, "AutoTheta": 0.12, "Naive": 0.0}
    predictions = {
        fold.back: {
            name: np.array(
                [
                    observed.get(fold.cut + timedelta(weeks=k), np.nan)
                    + (1.0 if name == "Naive" and k >= 4 else lift)
                    for k in range(fold.steps)
                ]
            )
            for name, lift in above.items()
        }
        for fold in tested
    }
    plan = Plan(horizon=52, end=series.weeks[-1], calendars={})
    choice = _choose(_Scorer(series, tested, plan), predictions, list(above), series=series, plan=plan)
    assert choice.members == ["WindowAverage", "HistoricAverage", "AutoTheta"]
    assert choice.backtest is not None
    if target == Target.DEMAND:  # the near weeks of demand go to the candidate that won them
        assert choice.near == ["Naive"] and choice.name.endswith("weeks 1-4: Naive")
        near = choice.backtest.scores[choice.backtest.chosen][BUCKETS[0].name]
        assert near == pytest.approx(0.0, abs=1e-9)
        assert choice.backtest.scores[choice.backtest.chosen][BUCKETS[1].name] > 0
    else:  # a rate has no holiday dip to come back from: one choice for every week
        assert choice.near == choice.members and choice.backtest.chosen == Model.ENSEMBLE


def test_a_demand_fold_scores_no_holiday_week_its_calendar_has_not_measured() -> None:
    weeks = [date(2025, 9, 1) + timedelta(weeks=k) for k in range(26)]  # through 2026-02-16
    tested = folds(weeks, end=weeks[-1], horizon=52)
    christmas = date(2025, 12, 22)
    for target in Target:
        series = Series("rag", target, weeks, [50.0 + k % 3 for k in range(len(weeks))])
        for measured in (False, True):
            calendar = Calendar(holidays={Holiday.CHRISTMAS: -0.4} if measured else {})
            plan = Plan(horizon=52, end=weeks[-1], calendars={f.cut: calendar for f in tested})
            scored = {
                w for _, _, _, scored_weeks, _ in _Scorer(series, tested, plan).frames for w in scored_weeks
            }
            # a dip no candidate could know is not held against any; a rate has no dip
            assert (christmas in scored) == (measured or target == Target.RATE)
            assert date(2025, 12, 15) in scored
