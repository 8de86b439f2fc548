"""Accepted postings in, a checked forecast bundle and per-series scores out.

The steps are pure functions over polars frames; the only side effect is the worker pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl

from gigcast.bundle import Bundle, Manifest, check_bundle
from gigcast.taxonomy import UNCATEGORISED, Taxonomy
from training import market
from training.backtest import BASELINES
from training.borrowing import BORROWED, demand_lenders, demand_shares, rate_factors, rate_lenders, scaled
from training.calibrate import Calibrated, calibrate
from training.executors import default_workers, fit_all
from training.models import Series, SeriesFit, backward, transform_of
from training.normalise import slugs
from training.panels import (
    collection_gaps,
    complete_window,
    demand_panel,
    rate_observations,
    rate_panel,
    week_of,
    within,
)
from training.regions import region_of

COVERAGE = 0.8
CANDIDATES = ("prophet", *BASELINES)
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


@dataclass(frozen=True)
class TrainConfig:
    horizon: int = 52
    backtest_horizon: int = 8
    folds: int = 3
    min_weeks: int = 12
    coverage: float = COVERAGE
    workers: int = field(default_factory=default_workers)
    executor: str = "local"
    ray_address: str | None = None

    def params(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Trained:
    bundle: Bundle
    scores: pl.DataFrame  # one row per skill and target: the chosen model and its backtest
    metrics: dict[str, float]
    holdout: pl.DataFrame  # the last backtest fold: skill, target, week_start, actual, predicted, scale
    history: pl.DataFrame  # what was fitted: skill, target, week_start, value


def train(
    postings: pl.DataFrame,
    *,
    taxonomy: Taxonomy,
    config: TrainConfig,
    on_start: Callable[[int], None] = lambda n: None,
    on_fitted: Callable[[int], None] = lambda n: None,
) -> Trained:
    """Fit demand and rate forecasts for every skill of ``postings``."""
    data_start, data_end = complete_window(postings)
    postings = within(postings, data_start, data_end)
    gaps = collection_gaps(postings, start=data_start, end=data_end)
    postings = postings.filter(~week_of().is_in(gaps))  # a gap's few postings are not the market
    demand = demand_panel(postings, end=data_end, gaps=gaps)
    observations = rate_observations(postings)
    if observations.is_empty():
        raise TrainingError("no hourly rates in the data: the rate model has nothing to learn from")
    rates = rate_panel(observations)
    rate_weeks = rates.group_by("skill").len()
    own_rate = set(rate_weeks.filter(pl.col("len") >= MIN_RATE_WEEKS)["skill"])
    demand_weeks = demand.group_by("skill").len()
    own_demand = set(demand_weeks.filter(pl.col("len") >= config.min_weeks)["skill"])
    skills = _skill_table(postings, demand, observations, own_demand, own_rate, taxonomy)
    rate_lender_of, rate_panels = rate_lenders(skills, observations, own_rate)
    demand_lender_of, demand_panels = demand_lenders(skills, demand, own_demand)
    series = [s for s in _series(demand, "demand", "postings", data_end) if s.skill in own_demand]
    series += [s for s in _series(rates, "rate", "rate", data_end) if s.skill in own_rate]
    series += _series(demand_panels, "demand", "postings", data_end) + _series(
        rate_panels, "rate", "rate", data_end
    )
    on_start(len(series))
    fits = fit_all(
        series,
        horizon=config.horizon,
        backtest_horizon=config.backtest_horizon,
        folds=config.folds,
        min_weeks=config.min_weeks,
        workers=config.workers,
        executor=config.executor,
        ray_address=config.ray_address,
        on_done=on_fitted,
    )
    calibrated = {
        (c.skill, c.target): c
        for target in ("demand", "rate")
        for c in calibrate(
            [f for f in fits if f.target == target], horizon=config.horizon, level=config.coverage
        )
    }
    forecasts = [c for (skill, _), c in calibrated.items() if not skill.startswith(BORROWED)]
    rate_factor = rate_factors(rate_lender_of, observations, rate_panels)
    demand_factor = demand_shares(demand_lender_of, demand, demand_panels)
    forecasts += scaled(rate_lender_of, rate_factor, calibrated, "rate")
    forecasts += scaled(demand_lender_of, demand_factor, calibrated, "demand")
    weekly = _forecast_frame(forecasts, data_end + timedelta(weeks=1), config.horizon)
    residuals = market.with_residuals(observations, rates)
    premiums = market.premiums(residuals, region_of())
    per_country = (
        postings.explode("skills")
        .group_by(skill="skills", country="country")
        .agg(postings=pl.len().cast(pl.Int64))
    )
    own_fits = [f for f in fits if not f.skill.startswith(BORROWED)]
    scores = _scores(own_fits, calibrated)
    metrics = _headline(scores) | {"collection_gap_weeks": float(len(gaps))}
    bundle = Bundle(
        manifest=Manifest(
            trained_at=datetime.now(UTC).replace(microsecond=0),
            data_start=data_start,
            data_end=data_end,
            horizon_weeks=config.horizon,
            interval_coverage=config.coverage,
            metrics=metrics,
            params=config.params(),
        ),
        skills=skills,
        demand=weekly.filter(pl.col("target") == "demand").select("skill", "week_start", "p10", "p50", "p90"),
        rates=weekly.filter(pl.col("target") == "rate").select(
            "skill", "week_start", "p50", pl.col("p10").alias("lower"), pl.col("p90").alias("upper")
        ),
        spread=market.spread(residuals, premiums, skills["skill"].to_list()),
        premiums=premiums,
        country_share=market.country_share(per_country),
    )
    check_bundle(bundle)
    history = pl.concat(
        [
            demand.select(
                "skill",
                target=pl.lit("demand"),
                week_start="week_start",
                value=pl.col("postings").cast(pl.Float64),
            ),
            rates.select("skill", target=pl.lit("rate"), week_start="week_start", value="rate"),
        ]
    )
    return Trained(bundle=bundle, scores=scores, metrics=metrics, holdout=_holdout(own_fits), history=history)


def _series(panel: pl.DataFrame, target: str, column: str, end: date) -> list[Series]:
    grouped = panel.group_by("skill", maintain_order=True).agg("week_start", column)
    return [
        Series(skill, target, weeks, values, end)  # type: ignore[arg-type]
        for skill, weeks, values in grouped.iter_rows()
    ]


def _skill_table(
    postings: pl.DataFrame,
    demand: pl.DataFrame,
    observations: pl.DataFrame,
    own_demand: set[str],
    own_rate: set[str],
    taxonomy: Taxonomy,
) -> pl.DataFrame:
    """One row per skill; a skill the taxonomy lacks takes its most common category in the data."""
    history = demand.group_by("skill").agg(
        weeks_of_history=pl.len().cast(pl.Int32), postings=pl.col("postings").sum()
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
    return table.select(
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
        demand_basis=pl.when(pl.col("skill").is_in(list(own_demand)))
        .then(pl.lit("skill"))
        .otherwise(pl.lit("category")),
        rate_basis=pl.when(pl.col("skill").is_in(list(own_rate)))
        .then(pl.lit("skill"))
        .otherwise(pl.lit("category")),
    ).sort("skill")


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


def _scores(fits: list[SeriesFit], calibrated: dict[tuple[str, str], Calibrated]) -> pl.DataFrame:
    """One row per skill and target: the chosen model and every candidate's backtest MASE."""
    rows = []
    for fit in fits:
        tested = fit.backtest.scores if fit.backtest else {}
        result = calibrated[(fit.skill, fit.target)]
        rows.append(
            {
                "skill": fit.skill,
                "target": fit.target,
                "model": fit.model,
                "mase": tested.get(fit.model, {}).get("mase"),
                "smape": tested.get(fit.model, {}).get("smape"),
                "coverage": result.coverage,
                "pinball": result.pinball,
                **{f"mase_{m}": tested.get(m, {}).get("mase") for m in CANDIDATES},
            }
        )
    schema = {"skill": pl.String, "target": pl.String, "model": pl.String}
    schema |= dict.fromkeys(
        ["mase", "smape", "coverage", "pinball", *(f"mase_{m}" for m in CANDIDATES)], pl.Float64
    )
    return (
        pl.DataFrame(rows, schema=schema)
        .with_columns(pl.col(pl.Float64).fill_nan(None))
        .sort("target", "skill")
    )


def _holdout(fits: list[SeriesFit]) -> pl.DataFrame:
    """Each series' last backtest fold: forecasts made without the weeks they are scored on."""
    frames = [
        pl.DataFrame(
            {
                "skill": fit.skill,
                "target": fit.target,
                "week_start": fit.backtest.last_weeks,
                "actual": fit.backtest.actual[-1],
                "predicted": backward(fit.backtest.predicted[-1], transform_of(fit.target)),
                "scale": fit.backtest.mase_scales[-1],
            },
            schema=HOLDOUT_SCHEMA,
        )
        for fit in fits
        if fit.backtest is not None
    ]
    return pl.concat(frames) if frames else pl.DataFrame(schema=HOLDOUT_SCHEMA)


def _headline(scores: pl.DataFrame) -> dict[str, float]:
    """Medians over backtested skills: the figures runs are compared on."""
    metrics: dict[str, float] = {}
    for target in ("demand", "rate"):
        own = scores.filter(pl.col("target") == target)
        tested = own.filter(pl.col("mase").is_not_null())
        metrics[f"{target}_series"] = float(own.height)
        metrics[f"{target}_backtested"] = float(tested.height)
        if tested.is_empty():
            continue
        metrics[f"{target}_prophet_share"] = float((tested["model"] == "prophet").mean())  # type: ignore[arg-type]
        for column, key in (
            ("mase", "mase"),
            *((f"mase_{m}", f"mase_{m}") for m in CANDIDATES),
            ("smape", "smape"),
            ("coverage", "coverage_80"),
            ("pinball", "pinball"),
        ):
            value = tested[column].median()
            if value is not None:
                metrics[f"{target}_{key}"] = float(value)  # type: ignore[arg-type]
    return metrics
