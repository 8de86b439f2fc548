"""The race: every candidate backtested on the same folds of a series, the best one kept.

Per target, each fold is one ``StatsForecast`` call over all the series of a chunk that reach
it with the same candidates. Each candidate's errors are scored per horizon bucket (MASE) and
the buckets are weighed equally, so that a model must do well at every range the service
answers. Every candidate first races on two screening folds (``backtest.screening``); a costly
one that ranks too low there to reach the ensemble is not fitted on the other folds. Besides the
single candidates, the median of a series' best few races too. Only the winner is fitted on the
whole history. A series too short for any fold gets the robust default (``candidates.robust_default``).

Everything here is a pure function of series and a plan, so that any executor can run it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from gigcast.bundle import Target
from training.forecasting import backtest
from training.forecasting.backtest import BACKS, BUCKETS, MIN_TRAIN, Fold, folds, screening
from training.forecasting.calendar import Calendar, holiday_of
from training.forecasting.candidates import (
    CLEAR_WIN,
    COSTLY,
    ENSEMBLE_SIZE,
    OWN_SEASON,
    PROPHET_PLACE,
    SCREEN_MARGIN,
    Failed,
    Model,
    candidates,
    ensemble_name,
    robust_default,
)
from training.forecasting.series import Series, backward, forward, level_of_counts, spread_unit

WEIGHTED = "weighted"  # the key of the score over every bucket a series was tested in
NEAR = BUCKETS[0]  # the weeks the recent level decides
#: what ``near_apart`` adds to a choice's name, as a pattern
NEAR_APART = rf", weeks {NEAR.first}-{NEAR.last}: .*$"


def near_apart(name: str, near: str) -> str:
    """The name of choice ``name`` whose near weeks ``near`` forecasts: ``Median(…), weeks 1-4: Naive``."""
    return f"{name}, weeks {NEAR.first}-{NEAR.last}: {near}"


@dataclass(frozen=True)
class Plan:
    """What every series of one training run is fitted for."""

    horizon: int
    end: date  # Monday of the data's last week
    calendars: dict[date, Calendar]  # by the first week forecast: the demand calendar known before it
    #: by the first week forecast: each candidate's forecast of the market's postings, model scale
    market: dict[date, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def first_week(self) -> date:
        return self.end + timedelta(weeks=1)

    def calendar(self, target: Target, first: date) -> Calendar:
        return self.calendars.get(first, Calendar()) if target == Target.DEMAND else Calendar()


@dataclass(frozen=True)
class FoldResult:
    """The chosen model at one fold: what it forecast for the weeks it was scored on."""

    back: int
    weeks: list[date]
    steps: np.ndarray  # weeks ahead of each scored week, from 1
    actual: np.ndarray  # original scale
    predicted: np.ndarray  # model scale
    spread: float  # spread unit of the fold's training weeks, model scale
    mase_scale: float  # what MASE divides by, original scale
    ordinary: bool  # whether the fold trains up to an ordinary week, as the served forecast does


@dataclass(frozen=True)
class Backtest:
    chosen: str  # the key of the winner in ``scores``
    folds: list[FoldResult]  # the winner's, oldest first
    scores: dict[str, dict[str, float]]  # candidate (or Model.ENSEMBLE) -> bucket name (and WEIGHTED) -> MASE
    fitted_folds: int  # folds every candidate that went on was fitted on
    screened_out: frozenset[str]  # candidates fitted on the screening folds only

    @property
    def tested_horizon(self) -> int:
        return max(int(fold.steps.max()) for fold in self.folds)


@dataclass(frozen=True)
class SeriesFit:
    skill: str
    target: Target
    model: str  # the winning candidate, an ensemble of them, or Model.UNTESTED
    point: np.ndarray  # the forecast on the model scale, one value per week ahead
    scale: float  # spread unit of the whole history on the model scale; nan when unknown
    backtest: Backtest | None
    volume: float = math.nan  # the series' values a week over the data's last weeks


def race(chunk: list[Series], plan: Plan) -> list[SeriesFit]:
    """Backtest, choose and forecast every series of ``chunk``; results in input order."""
    fitted: dict[int, SeriesFit] = {}
    for target in (Target.DEMAND, Target.RATE):
        indices = [i for i, s in enumerate(chunk) if s.target == target]
        if indices:
            fits = _race_target([chunk[i] for i in indices], target, plan)
            fitted.update(zip(indices, fits, strict=True))
    return [fitted[i] for i in range(len(chunk))]


def _race_target(group: list[Series], target: Target, plan: Plan) -> list[SeriesFit]:
    models = candidates(target)
    tests = [folds(s.weeks, end=plan.end, horizon=plan.horizon) for s in group]
    scorers = [_Scorer(series, tested, plan) for series, tested in zip(group, tests, strict=True)]
    # predictions[i][back][model]: model-scale forecast of the weeks scored at that fold
    predictions: list[dict[int, dict[str, np.ndarray]]] = [{} for _ in group]
    first = [{fold.back: models for fold in screening(tested)} for tested in tests]
    _forecast_folds(group, first, predictions, target=target, plan=plan)
    kept = [_kept(scorer, predictions[i], models) for i, scorer in enumerate(scorers)]
    rest = [{f.back: kept[i] for f in tested if f.back not in first[i]} for i, tested in enumerate(tests)]
    _forecast_folds(group, rest, predictions, target=target, plan=plan)

    fits = []
    finals: dict[str, list[int]] = {}
    chosen: list[_Choice] = []
    for i, scorer in enumerate(scorers):
        if not tests[i]:
            chosen.append(_Choice(Model.UNTESTED, [Model.UNTESTED], [Model.UNTESTED], None))
            finals.setdefault(Model.UNTESTED, []).append(i)
            continue
        choice = _choose(scorer, predictions[i], [repr(m) for m in kept[i]], series=group[i], plan=plan)
        chosen.append(choice)
        for member in {*choice.members, *choice.near, *choice.moved} - {Model.ON_MARKET}:
            finals.setdefault(member, []).append(i)

    final: dict[tuple[int, str], np.ndarray] = {}
    by_alias = {repr(m): m for m in models} | {Model.UNTESTED: robust_default()}
    for alias, indices in finals.items():
        forecasts = forecast_weeks(
            {i: group[i] for i in indices},
            [by_alias[alias]],
            first=plan.first_week,
            steps=plan.horizon,
            calendar=plan.calendar(target, plan.first_week),
        )
        for i, forecast in forecasts.items():
            final[(i, alias)] = forecast[alias]
    for i, choice in enumerate(chosen):
        if Model.ON_MARKET in choice.near:
            own = {m: final[(i, m)] for m in {*choice.members, *choice.moved}}
            moved = on_market(own, choice.moved, plan.market.get(plan.first_week, {}))
            final[(i, Model.ON_MARKET)] = _median(own, choice.members) if moved is None else moved

    for i, series in enumerate(group):
        choice = chosen[i]
        own = {m: final[(i, m)] for m in {*choice.members, *choice.near}}
        point = choice.combined(_median(own, choice.near), _median(own, choice.members))
        y = forward(np.asarray(series.values, dtype=float), target)
        fits.append(
            SeriesFit(
                series.skill, target, str(choice.name), point, spread_unit(y), choice.backtest, series.volume
            )
        )
    return fits


def _forecast_folds(
    group: list[Series],
    wanted: list[dict[int, list[Any]]],
    predictions: list[dict[int, dict[str, np.ndarray]]],
    *,
    target: Target,
    plan: Plan,
) -> None:
    """Forecast series ``i`` at each fold ``back`` of ``wanted[i]`` with the models it lists.

    Folds cut on the same dates in every series, so each fold is one call per set of models
    over all the series that want it.
    """
    for back in sorted({back for asked in wanted for back in asked}, reverse=True):
        cut = plan.end - timedelta(weeks=back - 1)
        by_models: dict[tuple[str, ...], list[int]] = {}
        for i, asked in enumerate(wanted):
            if back in asked:
                by_models.setdefault(tuple(repr(m) for m in asked[back]), []).append(i)
        for indices in by_models.values():
            forecasts = forecast_weeks(
                {i: group[i] for i in indices},
                wanted[indices[0]][back],
                first=cut,
                steps=min(back, plan.horizon),
                calendar=plan.calendar(target, cut),
            )
            for i, forecast in forecasts.items():
                predictions[i].setdefault(back, {}).update(forecast)


def forecast_weeks(
    series: dict[int, Series], models: list[Any], *, first: date, steps: int, calendar: Calendar
) -> dict[int, dict[str, np.ndarray]]:
    """Each model's forecast of each series for the ``steps`` weeks from ``first``, model scale.

    Every series is fitted on its weeks before ``first``; one that stops earlier is forecast
    across the weeks it lacks. Models that do not model a season see the series with the
    market's calendar taken out, and their forecasts get it back.
    """
    wanted = [first + timedelta(weeks=k) for k in range(steps)]
    rows = []
    for key, one in series.items():
        weeks = [w for w in one.weeks if w < first]
        values = np.asarray(one.values[: len(weeks)], dtype=float)
        rows.append(
            pl.DataFrame(
                {"unique_id": str(key), "ds": weeks, "y": forward(values, one.target)},
                schema={"unique_id": pl.String, "ds": pl.Date, "y": pl.Float64},
            )
        )
    raw = pl.concat(rows)
    earliest = raw.group_by("unique_id").agg(pl.col("ds").max())["ds"].min()
    assert isinstance(earliest, date)
    reach = (wanted[-1] - earliest).days // 7  # enough weeks for the series that stops earliest
    effects = _effects(calendar, raw["ds"].unique().to_list() + wanted)
    adjusted = raw.join(effects, on="ds").select("unique_id", "ds", y=pl.col("y") - pl.col("effect"))
    own = [m for m in models if repr(m) in OWN_SEASON]
    rest = [m for m in models if repr(m) not in OWN_SEASON]
    results: dict[int, dict[str, np.ndarray]] = {key: {} for key in series}
    for frame, chosen, calendared in ((raw, own, False), (adjusted, rest, True)):
        if not chosen:
            continue
        out = _statsforecast(frame, chosen, reach).filter(pl.col("ds").is_between(wanted[0], wanted[-1]))
        if calendared:
            out = out.join(effects, on="ds").with_columns(pl.col(repr(m)) + pl.col("effect") for m in chosen)
        grid = pl.DataFrame({"ds": wanted})
        for (key,), part in out.partition_by("unique_id", as_dict=True).items():
            aligned = grid.join(part, on="ds", how="left")  # in week order, NaN where a week is missing
            for model in chosen:
                forecast = aligned[repr(model)].fill_null(np.nan).to_numpy()
                results[int(str(key))][repr(model)] = (
                    level_of_counts(forecast) if series[int(str(key))].target == Target.DEMAND else forecast
                )
    return results


def _statsforecast(frame: pl.DataFrame, models: list[Any], h: int) -> pl.DataFrame:
    from statsforecast import StatsForecast

    forecaster = StatsForecast(models=models, freq="1w", n_jobs=1, fallback_model=Failed())
    with warnings.catch_warnings():
        # a season longer than the history leaves SeasonalNaive without a forecast: it drops out
        warnings.filterwarnings("ignore", message="Historical data .* is shorter than season_length")
        out: pl.DataFrame = forecaster.forecast(df=frame, h=max(h, 1))
    return out


def _effects(calendar: Calendar, weeks: list[date]) -> pl.DataFrame:
    unique = sorted(set(weeks))
    return pl.DataFrame(
        {"ds": unique, "effect": calendar.effects(unique)}, schema={"ds": pl.Date, "effect": pl.Float64}
    )


class _Scorer:
    """A series' backtest folds, ready to score forecasts of them: MASE per bucket and over all.

    A demand fold scores no holiday week whose holiday its calendar has not measured (the first
    year end in the data): no candidate can know the dip, and scoring it would reward the one
    that happens to sit low.
    """

    def __init__(self, series: Series, tested: list[Fold], plan: Plan) -> None:
        self.target = series.target
        values = np.asarray(series.values, dtype=float)
        self.observed = dict(zip(series.weeks, values, strict=True))
        y = forward(values, series.target)
        self.frames = []
        # by fold: whether it trains up to an ordinary week (observed, no holiday), as the served one does
        self.ordinary: dict[int, bool] = {}
        for fold in tested:
            train = sum(w < fold.cut for w in series.weeks)
            scale = backtest.mase_scale(values[:train])
            if not scale > 0:  # a flat stretch to train on cannot scale errors: the fold says nothing
                continue
            weeks = [fold.cut + timedelta(weeks=k) for k in range(fold.steps)]
            calendar = plan.calendar(series.target, fold.cut)
            rate = series.target == Target.RATE  # a rate has no holiday dip to know
            seen = [k for k, w in enumerate(weeks) if w in self.observed and (rate or calendar.knows(w))]
            if not seen:
                continue
            self.frames.append(
                (fold, scale, spread_unit(y[:train]), [weeks[k] for k in seen], np.array(seen))
            )
            origin = fold.cut - timedelta(weeks=1)
            self.ordinary[fold.back] = origin in self.observed and holiday_of(origin) is None

    def score(self, forecasts: dict[int, np.ndarray]) -> tuple[dict[str, float], list[FoldResult]]:
        """Scores of forecasts by fold (``back``), on the folds among them that can be scored."""
        errors: dict[str, list[float]] = {}
        results = []
        for fold, scale, spread, weeks, seen in self.frames:
            if fold.back not in forecasts:
                continue
            actual = np.array([self.observed[w] for w in weeks])
            predicted = forecasts[fold.back][seen]
            gap = np.abs(actual - backward(predicted, self.target)) / scale
            for bucket in BUCKETS:
                inside = (seen >= bucket.first - 1) & (seen <= bucket.last - 1)
                if inside.any():
                    errors.setdefault(bucket.name, []).append(float(np.mean(gap[inside])))
            ordinary = self.ordinary[fold.back]
            results.append(FoldResult(fold.back, weeks, seen + 1, actual, predicted, spread, scale, ordinary))
        scores = {bucket: float(np.mean(values)) for bucket, values in errors.items()}
        # NaN when any fold failed, or when no fold could be scored
        scores[WEIGHTED] = float(np.mean(list(scores.values()))) if scores else math.nan
        return scores, results


def _kept(scorer: _Scorer, predictions: dict[int, dict[str, np.ndarray]], models: list[Any]) -> list[Any]:
    """The candidates that go on from the screening folds: every cheap one, each costly one within
    ``SCREEN_MARGIN`` of a place in the ensemble there, and Prophet from a place within
    ``PROPHET_PLACE``. With nothing to rank by, all go on."""
    names = [repr(m) for m in models]
    weighted = {
        name: scorer.score({back: p[name] for back, p in predictions.items()})[0][WEIGHTED] for name in names
    }
    ranked = sorted(weighted[n] for n in names if math.isfinite(weighted[n]))
    if not ranked:
        return models
    bars: dict[str, float] = dict.fromkeys(
        COSTLY, SCREEN_MARGIN * ranked[min(ENSEMBLE_SIZE, len(ranked)) - 1]
    )
    bars[Model.PROPHET] = ranked[min(PROPHET_PLACE, len(ranked)) - 1]
    return [m for m in models if repr(m) not in COSTLY or weighted[repr(m)] <= bars[repr(m)]]


@dataclass(frozen=True)
class _Choice:
    """What forecasts a series: the median of ``members``, and in the NEAR weeks that of ``near``;
    ``Model.ON_MARKET`` there is the median of ``moved``, each moved to the market's level."""

    name: str
    members: list[str]
    near: list[str]
    backtest: Backtest | None
    moved: list[str] = field(default_factory=list)

    def combined(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """The forecast from the medians of ``near`` and ``members``, arrays of the same weeks from week 1."""
        return np.where(np.arange(1, far.size + 1) <= NEAR.last, near, far)


def _choose(
    scorer: _Scorer,
    predictions: dict[int, dict[str, np.ndarray]],
    names: list[str],
    *,
    series: Series,
    plan: Plan,
) -> _Choice:
    """The median of the best few of ``names`` by the weighted bucket MASE, unless one clearly beats it;
    for the near weeks of demand, what ``_near`` finds.

    Picking one model per series from a few folds picks noise as often as skill; the median of
    the best three is steadier. A single candidate replaces it only with a MASE below
    ``CLEAR_WIN`` times the ensemble's, over two folds or more: one fold cannot show it.
    Candidates screened out keep their scores from the screening folds, and cannot win.
    """
    scores: dict[str, dict[str, float]] = {}
    outcomes: dict[str, list[FoldResult]] = {}
    for name in {n for p in predictions.values() for n in p}:
        forecasts = {back: p[name] for back, p in predictions.items() if name in p}
        scores[name], outcomes[name] = scorer.score(forecasts)
    ranked = sorted(
        (n for n in names if math.isfinite(scores[n][WEIGHTED])), key=lambda n: scores[n][WEIGHTED]
    )
    if not ranked:  # every candidate failed at some fold
        return _Choice(Model.UNTESTED, [Model.UNTESTED], [Model.UNTESTED], None)
    screened_out = frozenset(scores) - set(names)
    name, members = ranked[0], ranked[:1]
    if len(ranked) >= ENSEMBLE_SIZE:
        ensemble = ranked[:ENSEMBLE_SIZE]
        scores[Model.ENSEMBLE], outcomes[Model.ENSEMBLE] = scorer.score(
            {back: _median(p, ensemble) for back, p in predictions.items()}
        )
        clear = (
            len(scorer.frames) > 1 and scores[name][WEIGHTED] < CLEAR_WIN * scores[Model.ENSEMBLE][WEIGHTED]
        )
        if not clear:
            name, members = ensemble_name(ensemble), ensemble
    choice = _Choice(name, members, members, None)
    key = Model.ENSEMBLE if len(members) > 1 else name  # the winner's key in ``scores``
    if series.target == Target.DEMAND:
        choice = _near(scorer, predictions, ranked, choice, series=series, plan=plan)
    if choice.near != members:
        key = choice.name
        served = {
            back: choice.combined(_median(p, choice.near), _median(p, members))
            for back, p in predictions.items()
        }
        scores[key], outcomes[key] = scorer.score(served)
    backtest = Backtest(key, outcomes[key], scores, len(predictions), screened_out)
    return replace(choice, backtest=backtest)


def _median(forecasts: dict[str, np.ndarray], members: list[str]) -> np.ndarray:
    median: np.ndarray = np.median(np.vstack([forecasts[m] for m in members]), axis=0)
    return median


def _near(
    scorer: _Scorer,
    predictions: dict[int, dict[str, np.ndarray]],
    ranked: list[str],
    choice: _Choice,
    *,
    series: Series,
    plan: Plan,
) -> _Choice:
    """``choice``, with what forecasts its near weeks of demand.

    Only folds whose last training week is an ordinary one, as the served forecast's is, judge
    the near weeks: with two of them or more, one candidate replaces the choice there when it
    clearly beats it. With none, the choice itself rests on folds cut on a holiday or a gap: the
    near weeks are the median of every candidate that raced, each moved to the market's own level
    (``on_market``), added to ``predictions`` as ``Model.ON_MARKET``.
    """
    ordinary = [back for back in predictions if scorer.ordinary.get(back, False)]
    if not ordinary:
        for back, forecasts in predictions.items():
            market = plan.market.get(plan.end - timedelta(weeks=back - 1), {})
            moved = on_market(forecasts, ranked, market)
            if moved is None:
                return choice
            forecasts[Model.ON_MARKET] = moved
        name = near_apart(choice.name, Model.ON_MARKET)
        return replace(choice, name=name, near=[Model.ON_MARKET], moved=ranked)

    def near_score(names: list[str]) -> float:
        score = scorer.score({back: _median(predictions[back], names) for back in ordinary})[0].get(NEAR.name)
        return score if score is not None and math.isfinite(score) else math.inf

    best = min(ranked, key=lambda n: near_score([n]))
    if len(ordinary) > 1 and near_score([best]) < CLEAR_WIN * near_score(choice.members):
        return replace(choice, name=near_apart(choice.name, best), near=[best])
    return choice


def on_market(
    forecasts: dict[str, np.ndarray], members: list[str], market: dict[str, np.ndarray]
) -> np.ndarray | None:
    """The median of ``members``' forecasts, each moved by as far as it misses the market's level.

    The market's level is its "same as last week" (``market``, each candidate's forecast of the
    market's postings over the same weeks): a dip, a gap or a rebound the whole market went through
    at once moves every member of every skill the same way, and is taken out here, while what
    the member says of the skill's own course stays. Members without a whole forecast of the
    series and of the market are left out; None when none is left.
    """
    level = market.get(Model.NAIVE)
    if level is None or not np.isfinite(level).all():
        return None
    whole = [
        m for m in members if m in market and np.isfinite(market[m]).all() and np.isfinite(forecasts[m]).all()
    ]
    if not whole:
        return None
    return _median({m: forecasts[m] + level - market[m] for m in whole}, whole)


def market_forecasts(market: Series, plan: Plan) -> dict[date, dict[str, np.ndarray]]:
    """Every demand candidate's forecast of the market's postings from each fold's first week and
    from the first week served, as far as ``plan`` forecasts there: what ``on_market`` reads."""
    firsts = {plan.end - timedelta(weeks=back - 1): min(back, plan.horizon) for back in BACKS}
    firsts[plan.first_week] = plan.horizon
    found = {}
    for first, steps in firsts.items():
        if sum(week < first for week in market.weeks) >= MIN_TRAIN:
            found[first] = forecast_weeks(
                {0: market},
                candidates(Target.DEMAND),
                first=first,
                steps=steps,
                calendar=plan.calendar(Target.DEMAND, first),
            )[0]
    return found
