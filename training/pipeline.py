"""Accepted postings in, a checked forecast bundle and per-series scores out.

The steps are pure functions over polars frames; the only side effect is the worker pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from gigcast.bundle import INTERVAL_COVERAGE, MARKET, SCHEMAS, Bundle, Manifest, Target, check_bundle
from gigcast.query import MAX_HORIZON_WEEKS
from gigcast.taxonomy import UNCATEGORISED, Taxonomy
from training.data.normalise import slugs
from training.data.panels import (
    WEEK,
    collection_gaps,
    complete_window,
    demand_panel,
    rate_observations,
    rate_panel,
    week_of,
    within,
)
from training.forecasting.backtest import BACKS, BUCKETS
from training.forecasting.calendar import Calendar, market_calendar
from training.forecasting.calibrate import VOLUME_WEEKS, Calibrated, calibrate
from training.forecasting.candidates import UNTESTED_HORIZON, Model, candidates
from training.forecasting.executors import Executor, default_workers, fit_all
from training.forecasting.hierarchy import Method, Reconciled, Tree, reconcile
from training.forecasting.lag import market_lag, moved
from training.forecasting.race import NEAR_APART, WEIGHTED, Plan, SeriesFit, market_forecasts
from training.forecasting.series import Series, backward
from training.market import pricing
from training.market.borrowing import (
    BORROWED,
    borrowed_demand,
    demand_shares,
    demand_totals,
    history_of,
    rate_factors,
    rate_lenders,
    scaled,
    unseen_demand,
)
from training.market.regions import region_of

__all__ = ["TrainConfig", "Trained", "TrainingError", "train"]

#: Every model that races, as named in the scores table and the metrics.
CANDIDATES = tuple(dict.fromkeys([repr(m) for t in Target for m in candidates(t)] + [Model.ENSEMBLE]))
MIN_RATE_WEEKS = 4  # fewer weeks with rates than this, and the skill borrows its category's
HOLDOUT_SCHEMA = {
    "skill": pl.String,
    "target": pl.String,
    "week_start": pl.Date,
    "actual": pl.Float64,
    "predicted": pl.Float64,
    "scale": pl.Float64,
}


class TrainingError(ValueError):
    """Data that reads fine but cannot be trained on, said in one line."""


#: A skill that appeared in the data's second half, fewer than this many weeks ago, is young: it
#: borrows its category's demand (its share of the category's latest postings) however many weeks
#: it has, since its own few weeks cannot yet say how it grows.
YOUNG_WEEKS = 26


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    horizon: int = MAX_HORIZON_WEEKS  # weeks to forecast; served only as far as the backtest reached
    targets: tuple[Target, ...] | None = None  # None: every target the data holds
    min_weeks: int = 12  # fewer weeks of postings than this, and a skill borrows its category's demand
    workers: int = field(default_factory=default_workers)
    executor: Executor = Executor.LOCAL
    ray_address: str | None = None

    def params(self) -> dict[str, str]:
        """The run's parameters as MLflow logs them."""
        targets = ",".join(self.targets) if self.targets else "every target the data holds"
        return {**{k: str(v) for k, v in self.__dict__.items()}, "targets": targets}


@dataclass(frozen=True)
class Trained:
    bundle: Bundle
    scores: pl.DataFrame  # one row per skill and target: the chosen model and its backtest
    metrics: dict[str, float]
    holdout: pl.DataFrame  # the last backtest fold: skill, target, week_start, actual, predicted, scale
    history: pl.DataFrame  # what was fitted: skill, target, week_start, value
    reconciliation: Method | None  # how skill, category and market demand were made to add up


def train(
    postings: pl.DataFrame,
    *,
    taxonomy: Taxonomy,
    config: TrainConfig,
    on_start: Callable[[int], None] = lambda n: None,
    on_fitted: Callable[[int], None] = lambda n: None,
) -> Trained:
    """Fit demand and rate forecasts (those of ``config.targets``) for every skill of ``postings``,
    and borrow them for every other skill of ``taxonomy``."""
    named = postings  # every skill these name answers, in the weeks trained on or not
    data_start, data_end = complete_window(postings)
    postings = within(postings, data_start, data_end)
    per_week = postings.group_by(week_of()).len().sort(WEEK)
    gaps = collection_gaps(postings, start=data_start, end=data_end)
    postings = postings.filter(~week_of().is_in(gaps))  # a gap week's postings are only part of its market
    demand = demand_panel(postings, end=data_end, gaps=gaps)
    observations = rate_observations(postings)
    targets = _targets(config, observations)
    rates = rate_panel(observations)
    rate_weeks = rates.group_by("skill").len()
    own_rate = set(rate_weeks.filter(pl.col("len") >= MIN_RATE_WEEKS)["skill"])
    demand_weeks = demand.group_by("skill").len()
    data_weeks = (data_end - data_start).days // 7 + 1
    launched = (pl.col("len") < YOUNG_WEEKS) & (pl.col("len") < data_weeks / 2)
    own_demand = set(demand_weeks.filter((pl.col("len") >= config.min_weeks) & ~launched)["skill"])
    skills = _skill_table(named, demand, observations, own_demand, own_rate, taxonomy)
    series: list[Series] = []
    if Target.DEMAND in targets:
        demand_lender_of, totals = demand_totals(skills, demand, own_demand)
        demand_series = {
            s.skill: s
            for s in _series(
                pl.concat([demand, totals]), Target.DEMAND, "postings", counted="postings", end=data_end
            )
        }
        series += [s for skill, s in demand_series.items() if skill not in demand_lender_of]
    if Target.RATE in targets:
        rate_lender_of, rate_panels = rate_lenders(skills, observations, own_rate)
        series += [
            s
            for s in _series(rates, Target.RATE, "rate", counted="observations", end=data_end)
            if s.skill in own_rate
        ]
        series += _series(rate_panels, Target.RATE, "rate", counted="observations", end=data_end)
    weekly_postings = demand.group_by("week_start").agg(pl.col("postings").sum()).sort("week_start")
    plan = Plan(horizon=config.horizon, end=data_end, calendars=_calendars(weekly_postings, data_end))
    if Target.DEMAND in targets:
        market = _series(
            weekly_postings.with_columns(skill=pl.lit(MARKET)),
            Target.DEMAND,
            "postings",
            counted="postings",
            end=data_end,
        )[0]
        plan = replace(plan, market=market_forecasts(market, plan))
    on_start(len(series))
    fits = fit_all(
        series,
        plan=plan,
        workers=config.workers,
        executor=config.executor,
        ray_address=config.ray_address,
        on_done=on_fitted,
    )
    lag = market_lag(fits)
    fits = moved(fits, lag)
    horizon = served_horizon(fits, config.horizon)
    calibrated = {
        (c.skill, c.target): c
        for target in targets
        for c in calibrate([f for f in fits if f.target == target], horizon=horizon, level=INTERVAL_COVERAGE)
    }
    forecasts = [c for (skill, _), c in calibrated.items() if not skill.startswith(BORROWED)]
    reconciled: Reconciled | None = None
    total_forecasts: list[Calibrated] = []
    if Target.DEMAND in targets:
        shares = demand_shares(demand_lender_of, demand, totals)
        forecasts += borrowed_demand(demand_lender_of, shares, calibrated)
        forecasts, total_forecasts, reconciled = _coherent_demand(
            skills.filter(pl.col("weeks_of_history") > 0),
            series=demand_series,
            forecasts=forecasts,
            calibrated=calibrated,
            fits=fits,
        )
        unseen, unseen_totals = unseen_demand(skills, totals, total_forecasts)
        forecasts, total_forecasts = forecasts + unseen, total_forecasts + unseen_totals
    if Target.RATE in targets:
        rate_factor = rate_factors(rate_lender_of, observations, rate_panels)
        forecasts += scaled(rate_lender_of, rate_factor, calibrated, Target.RATE)
    weekly = _forecast_frame(forecasts, plan.first_week, horizon)
    residuals = pricing.residuals(observations, skills.select("skill", "category"))
    premiums = pricing.premiums(residuals, region_of())
    per_country = (
        postings.explode("skills")
        .group_by(skill="skills", country="country")
        .agg(postings=pl.len().cast(pl.Int64))
    )
    own_fits = [f for f in fits if not f.skill.startswith(BORROWED)]
    scores = _scores(own_fits, calibrated)
    metrics = _headline(scores) | {"collection_gap_weeks": float(len(gaps)), "served_horizon_weeks": horizon}
    metrics |= {f"demand_lag_{bucket}": shift for bucket, shift in lag.items()}
    if reconciled:
        metrics |= {
            f"demand_reconciled_mase_{method}": score
            for method, score in reconciled.scores.items()
            if np.isfinite(score)
        }
    models = {target: {f.skill: f.model for f in forecasts if f.target == target} for target in Target}
    bundle = Bundle(
        manifest=Manifest(
            trained_at=datetime.now(UTC).replace(microsecond=0),
            data_start=data_start,
            data_end=data_end,
            horizon_weeks=horizon,
            targets=targets,
            interval_coverage=INTERVAL_COVERAGE,
            metrics=metrics,
            params=config.params(),
            postings_per_week={week.isoformat(): n for week, n in per_week.iter_rows()},
        ),
        skills=skills.with_columns(
            pl.col("skill").replace_strict(models[t], default="", return_dtype=pl.String).alias(f"{t}_model")
            for t in Target
        ),
        demand=weekly.filter(pl.col("target") == Target.DEMAND).select(
            "skill", "week_start", "p10", "p50", "p90"
        ),
        demand_totals=_forecast_frame(total_forecasts, plan.first_week, horizon).select(
            category=pl.col("skill").str.strip_prefix(BORROWED),
            week_start="week_start",
            p10="p10",
            p50="p50",
            p90="p90",
        )
        if total_forecasts
        else _empty("demand_totals"),
        rates=weekly.filter(pl.col("target") == Target.RATE).select(
            "skill", "week_start", "p50", pl.col("p10").alias("lower"), pl.col("p90").alias("upper")
        ),
        rate_cells=pricing.rate_cells(residuals, premiums, skills.select("skill", "category"))
        if Target.RATE in targets
        else _empty("rate_cells"),
        premiums=premiums if Target.RATE in targets else _empty("premiums"),
        country_share=pricing.country_share(per_country),
    )
    check_bundle(bundle)
    history = pl.concat(
        [
            demand.select(
                "skill",
                target=pl.lit(str(Target.DEMAND)),
                week_start="week_start",
                value=pl.col("postings").cast(pl.Float64),
            ),
            rates.select("skill", target=pl.lit(str(Target.RATE)), week_start="week_start", value="rate"),
        ]
    ).filter(pl.col("target").is_in([str(t) for t in targets]))
    return Trained(
        bundle=bundle,
        scores=scores,
        metrics=metrics,
        holdout=_holdout(own_fits),
        history=history,
        reconciliation=reconciled.method if reconciled else None,
    )


def _targets(config: TrainConfig, observations: pl.DataFrame) -> list[Target]:
    """The targets asked for; by default every one the data holds (no hourly rates: demand only)."""
    if config.targets is None:
        return [Target.DEMAND] if observations.is_empty() else list(Target)
    if Target.RATE in config.targets and observations.is_empty():
        raise TrainingError(
            "no hourly rates in the data: the rate model has nothing to learn from (train --target demand)"
        )
    return [t for t in Target if t in config.targets]


def _empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMAS[table])


def _series(panel: pl.DataFrame, target: Target, column: str, *, counted: str, end: date) -> list[Series]:
    """Each skill's series of ``column``; its volume is ``counted`` a week over the weeks to ``end``."""
    recent = pl.col("week_start") > end - timedelta(weeks=VOLUME_WEEKS)
    grouped = panel.group_by("skill", maintain_order=True).agg(
        "week_start",
        pl.col(column).cast(pl.Float64),
        volume=pl.col(counted).filter(recent).sum().cast(pl.Float64) / VOLUME_WEEKS,
    )
    return [
        Series(skill, target, weeks, values, volume) for skill, weeks, values, volume in grouped.iter_rows()
    ]


def _calendars(totals: pl.DataFrame, end: date) -> dict[date, Calendar]:
    """The market's calendar, from its postings a week, as known before each fold's first week and
    before the forecast."""
    firsts = [end - timedelta(weeks=back - 1) for back in BACKS] + [end + timedelta(weeks=1)]
    calendars = {}
    for first in firsts:
        known = totals.filter(pl.col("week_start") < first)
        calendars[first] = market_calendar(known["week_start"].to_list(), known["postings"].to_numpy())
    return calendars


def _coherent_demand(
    skills: pl.DataFrame,
    *,
    series: dict[str, Series],
    forecasts: list[Calibrated],
    calibrated: dict[tuple[str, Target], Calibrated],
    fits: list[SeriesFit],
) -> tuple[list[Calibrated], list[Calibrated], Reconciled]:
    """Skill, category and market demand reconciled: ``forecasts`` moved to coherent medians, and
    the totals' forecasts (market first), with how they were reconciled."""
    tree = _tree(skills)
    keys = (tree.market, *tree.categories)
    reconciled = reconcile(
        tree,
        base={f.skill: f.p50 for f in forecasts if f.target == Target.DEMAND}
        | {key: calibrated[(key, Target.DEMAND)].p50 for key in keys},
        series=series,
        fits={f.skill: f for f in fits if f.target == Target.DEMAND},
    )
    moved = [_recentred(f, reconciled.p50[f.skill]) if f.target == Target.DEMAND else f for f in forecasts]
    return (
        moved,
        [_recentred(calibrated[(key, Target.DEMAND)], reconciled.p50[key]) for key in keys],
        reconciled,
    )


def _tree(skills: pl.DataFrame) -> Tree:
    """The demand tree: the market's total, each category's, and the skills in each."""
    members = skills.group_by("category").agg(pl.col("skill").sort()).sort("category")
    return Tree(
        market=BORROWED + MARKET,
        categories={BORROWED + category: members for category, members in members.iter_rows()},
    )


def _recentred(forecast: Calibrated, p50: np.ndarray) -> Calibrated:
    """A forecast moved to its coherent median; its interval moves with it, in proportion."""
    ratio = np.divide(p50, forecast.p50, out=np.ones_like(p50), where=forecast.p50 > 0)
    return replace(
        forecast,
        p10=np.minimum(forecast.p10 * ratio, p50),
        p50=p50,
        p90=np.maximum(forecast.p90 * ratio, p50),
    )


def served_horizon(fits: list[SeriesFit], horizon: int) -> int:
    """How far ahead the model answers: as far as any backtest reached, at most ``horizon``.

    With no backtest at all (a few weeks of data), the robust default serves UNTESTED_HORIZON weeks.
    """
    tested = max((f.backtest.tested_horizon for f in fits if f.backtest), default=0)
    return min(horizon, tested or UNTESTED_HORIZON)


def _skill_table(
    postings: pl.DataFrame,
    demand: pl.DataFrame,
    observations: pl.DataFrame,
    own_demand: set[str],
    own_rate: set[str],
    taxonomy: Taxonomy,
) -> pl.DataFrame:
    """One row per skill of ``postings`` or ``taxonomy``, those without postings in ``demand`` too;
    a skill the taxonomy lacks takes its most common category in the data."""
    named = pl.concat(
        [
            pl.Series("skill", [s.id for s in taxonomy.skills], pl.String),
            postings["skills"].explode().alias("skill"),
        ]
    )
    history = (
        pl.DataFrame({"skill": named.drop_nulls().unique()})
        .join(
            demand.group_by("skill").agg(
                weeks_of_history=pl.len().cast(pl.Int32), postings=pl.col("postings").sum()
            ),
            on="skill",
            how="left",
        )
        .with_columns(pl.col("weeks_of_history", "postings").fill_null(0))
    )
    counts = observations.group_by("skill").agg(rate_observations=pl.len().cast(pl.Int64))
    seen = (
        postings.select("skills", category=slugs(pl.col("category")))
        .explode("skills")
        .filter(pl.col("category") != "")
        .group_by(skill="skills")
        .agg(seen_category=pl.col("category").mode().sort().first())
    )
    table = (
        history.join(counts, on="skill", how="left")
        .join(seen, on="skill", how="left")
        .with_columns(pl.col("rate_observations").fill_null(0))
    )
    infos = [taxonomy.get(skill) for skill in table["skill"]]
    return (
        table.select(
            "skill",
            pl.Series("display_name", [i.display_name for i in infos]),
            pl.when(pl.Series([i.category for i in infos]) == UNCATEGORISED)
            .then(pl.col("seen_category").fill_null(UNCATEGORISED))
            .otherwise(pl.Series([i.category for i in infos]))
            .alias("category"),
            pl.Series("aliases", [list(i.aliases) for i in infos], dtype=pl.List(pl.String)),
            "weeks_of_history",
            "postings",
            "rate_observations",
        )
        .with_columns(
            demand_basis=history_of(pl.col("skill").is_in(list(own_demand)), pl.col("weeks_of_history")),
            rate_basis=history_of(pl.col("skill").is_in(list(own_rate)), pl.col("rate_observations")),
        )
        .sort("skill")
    )


def _forecast_frame(forecasts: list[Calibrated], first_week: date, horizon: int) -> pl.DataFrame:
    weeks = pl.date_range(first_week, first_week + timedelta(weeks=horizon - 1), "1w", eager=True)
    return pl.concat(
        pl.DataFrame(
            {
                "skill": f.skill,
                "target": f.target,
                "week_start": weeks,
                "p10": f.p10,
                "p50": f.p50,
                "p90": f.p90,
            }
        )
        for f in forecasts
    )


def _scores(fits: list[SeriesFit], calibrated: dict[tuple[str, Target], Calibrated]) -> pl.DataFrame:
    """One row per skill and target: the chosen model, its backtest per bucket, every candidate's MASE."""
    rows = []
    for fit in fits:
        result = calibrated[(fit.skill, fit.target)]
        tested = fit.backtest.scores if fit.backtest else {}
        chosen = tested.get(fit.backtest.chosen, {}) if fit.backtest else {}
        rows.append(
            {
                "skill": fit.skill,
                "target": str(fit.target),
                "model": fit.model,
                "tested_weeks": fit.backtest.tested_horizon if fit.backtest else 0,
                "folds": fit.backtest.fitted_folds if fit.backtest else 0,
                "screened_out": ";".join(sorted(fit.backtest.screened_out)) if fit.backtest else "",
                "mase": chosen.get(WEIGHTED),
                **{f"mase_{b.name}": chosen.get(b.name) for b in BUCKETS},
                "coverage": result.coverage,
                **{f"coverage_{b.name}": result.coverage_by_bucket.get(b.name) for b in BUCKETS},
                "pinball": result.pinball,
                **{score_column(m): tested.get(m, {}).get(WEIGHTED) for m in CANDIDATES},
            }
        )
    floats = [
        "mase",
        *(f"mase_{b.name}" for b in BUCKETS),
        "coverage",
        *(f"coverage_{b.name}" for b in BUCKETS),
        "pinball",
        *(score_column(m) for m in CANDIDATES),
    ]
    schema = {
        "skill": pl.String,
        "target": pl.String,
        "model": pl.String,
        "tested_weeks": pl.Int64,
        "folds": pl.Int64,
        "screened_out": pl.String,
    }
    schema |= dict.fromkeys(floats, pl.Float64)
    return (
        pl.DataFrame(rows, schema=schema)
        .with_columns(pl.col(pl.Float64).fill_nan(None))
        .sort("target", "skill")
    )


def score_column(candidate: str) -> str:
    """The scores column (and metric suffix) of a candidate: ``mase_autoets``."""
    return f"mase_{candidate.lower()}"


def _holdout(fits: list[SeriesFit]) -> pl.DataFrame:
    """Each series' most recent backtest fold: forecasts made without the weeks they are scored on."""
    frames = [
        pl.DataFrame(
            {
                "skill": fit.skill,
                "target": str(fit.target),
                "week_start": last.weeks,
                "actual": last.actual,
                "predicted": backward(last.predicted, fit.target),
                "scale": last.mase_scale,
            },
            schema=HOLDOUT_SCHEMA,
        )
        for fit in fits
        if fit.backtest is not None
        for last in fit.backtest.folds[-1:]
    ]
    return pl.concat(frames) if frames else pl.DataFrame(schema=HOLDOUT_SCHEMA)


def _headline(scores: pl.DataFrame) -> dict[str, float]:
    """Figures over backtested skills that runs are compared on: medians, and the worst tenth."""
    metrics: dict[str, float] = {}
    for target in Target:
        own = scores.filter(pl.col("target") == target)
        tested = own.filter(pl.col("mase").is_not_null())
        metrics[f"{target}_series"] = float(own.height)
        metrics[f"{target}_backtested"] = float(tested.height)
        if tested.is_empty():
            continue
        values = {
            "mase": tested["mase"].median(),
            "mase_p90": tested["mase"].quantile(0.9),
            "coverage_80": tested["coverage"].mean(),
            "pinball": tested["pinball"].median(),
            # candidates per series that raced on the screening folds only
            "screened_out": tested["screened_out"]
            .str.split(";")
            .list.eval(pl.element() != "")
            .list.sum()
            .mean(),
        }
        for bucket in BUCKETS:
            values[f"mase_{bucket.name}"] = tested[f"mase_{bucket.name}"].median()
            values[f"coverage_80_{bucket.name}"] = tested[f"coverage_{bucket.name}"].mean()
        chosen = tested["model"].str.replace(NEAR_APART, "")  # the choice beyond the near weeks
        for candidate in CANDIDATES:
            values[score_column(candidate)] = tested[score_column(candidate)].median()
            won = (chosen == candidate) | chosen.str.starts_with(f"{candidate}(")
            values[f"wins_{candidate.lower()}"] = won.mean()
        for key, value in values.items():
            if isinstance(value, int | float):
                metrics[f"{target}_{key}"] = float(value)
    return metrics
