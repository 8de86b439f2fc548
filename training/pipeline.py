"""Accepted postings in, a checked forecast bundle and per-series scores out.

The steps are pure functions over polars frames; the only side effect is the worker pool.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl

from gigcast.bundle import Bundle, Manifest, check_bundle
from gigcast.taxonomy import UNCATEGORISED, Taxonomy
from training import market
from training.executors import default_workers, fit_all
from training.models import COVERAGE, Forecast, Series, SeriesResult, forecast
from training.normalise import slugs
from training.panels import data_window, demand_panel, rate_observations, rate_panel

MIN_RATE_WEEKS = 4  # fewer weeks with rates than this, and the skill borrows its category's


@dataclass(frozen=True)
class TrainConfig:
    horizon: int = 52
    holdout: int = 8
    min_weeks: int = 12
    workers: int = field(default_factory=default_workers)

    def params(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Trained:
    bundle: Bundle
    scores: pl.DataFrame  # skill, target, model, mase, coverage
    metrics: dict[str, float]


def train(
    postings: pl.DataFrame,
    *,
    taxonomy: Taxonomy,
    config: TrainConfig,
    on_start: Callable[[int], None] = lambda n: None,
    on_fitted: Callable[[int], None] = lambda n: None,
) -> Trained:
    """Fit demand and rate forecasts for every skill of ``postings``."""
    data_start, data_end = data_window(postings)
    demand = demand_panel(postings, end=data_end)
    observations = rate_observations(postings)
    if observations.is_empty():
        raise ValueError("no hourly rates in the data: the rate model has nothing to learn from")
    rates = rate_panel(observations)
    rate_weeks = rates.group_by("skill").len()
    own_rate = set(rate_weeks.filter(pl.col("len") >= MIN_RATE_WEEKS)["skill"])
    series = _series(demand, "demand", "postings")
    series += [s for s in _series(rates, "rate", "rate") if s.skill in own_rate]
    on_start(len(series))
    results = fit_all(
        series,
        horizon=config.horizon,
        holdout=config.holdout,
        min_weeks=config.min_weeks,
        workers=config.workers,
        on_done=on_fitted,
    )
    skills = _skill_table(postings, demand, observations, own_rate, taxonomy)
    forecasts = [(r.skill, r.target, r.forecast) for r in results]
    forecasts += [
        (skill, "rate", made)
        for skill, made in _category_rates(skills, observations, own_rate, config).items()
    ]
    weekly = _forecast_frame(forecasts, data_end + timedelta(weeks=1), config.horizon)
    residuals = market.with_residuals(observations, rates)
    premiums = market.premiums(residuals)
    per_country = (
        postings.explode("skills")
        .group_by(skill="skills", country="country")
        .agg(postings=pl.len().cast(pl.Int64))
    )
    scores = _scores(results)
    metrics = _headline(scores)
    bundle = Bundle(
        manifest=Manifest(
            trained_at=datetime.now(UTC).replace(microsecond=0),
            data_start=data_start,
            data_end=data_end,
            horizon_weeks=config.horizon,
            interval_coverage=COVERAGE,
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
    return Trained(bundle=bundle, scores=scores, metrics=metrics)


def _series(panel: pl.DataFrame, target: str, column: str) -> list[Series]:
    grouped = panel.group_by("skill", maintain_order=True).agg("week_start", column)
    return [
        Series(skill, target, weeks, values)  # type: ignore[arg-type]
        for skill, weeks, values in grouped.iter_rows()
    ]


def _skill_table(
    postings: pl.DataFrame,
    demand: pl.DataFrame,
    observations: pl.DataFrame,
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
        demand_basis=pl.lit("skill"),
        rate_basis=pl.when(pl.col("skill").is_in(list(own_rate)))
        .then(pl.lit("skill"))
        .otherwise(pl.lit("category")),
    ).sort("skill")


def _category_rates(
    skills: pl.DataFrame, observations: pl.DataFrame, own_rate: set[str], config: TrainConfig
) -> dict[str, Forecast]:
    """Rate forecasts for skills without enough rate history: their category's, scaled.

    The scale is the skill's median log distance from its category, shrunk toward none; a
    category without rates borrows the whole market's.
    """
    short = skills.filter(~pl.col("skill").is_in(list(own_rate)))
    category_of = dict(skills.select("skill", "category").iter_rows())
    pooled = observations.with_columns(
        skill=pl.col("skill").replace_strict(category_of, return_dtype=pl.String)
    )
    panels = {key: panel for (key,), panel in rate_panel(pooled).partition_by("skill", as_dict=True).items()}
    panels["*"] = rate_panel(observations.with_columns(skill=pl.lit("*")))
    fitted: dict[str, Forecast] = {}
    borrowed: dict[str, Forecast] = {}
    for skill, category in short.select("skill", "category").iter_rows():
        key = category if category in panels else "*"
        panel = panels[key]
        if key not in fitted:
            source = Series(key, "rate", panel["week_start"].to_list(), panel["rate"].to_list())
            fitted[key] = forecast(source, config.horizon, min_weeks=config.min_weeks)
        own = observations.filter(pl.col("skill") == skill)
        distance = market.with_residuals(own, panel.with_columns(skill=pl.lit(skill)))["residual"]
        n = distance.len()
        log_scale = float(distance.median() or 0.0) * n / (n + market.SHRINK) if n else 0.0  # type: ignore[arg-type]
        made = fitted[key]
        scale = math.exp(log_scale)
        borrowed[skill] = Forecast(made.p10 * scale, made.p50 * scale, made.p90 * scale, f"{key} scaled")
    return borrowed


def _forecast_frame(
    forecasts: list[tuple[str, str, Forecast]], first_week: date, horizon: int
) -> pl.DataFrame:
    weeks = pl.date_range(first_week, first_week + timedelta(weeks=horizon - 1), "1w", eager=True)
    return pl.concat(
        pl.DataFrame(
            {"skill": skill, "target": target, "week_start": weeks, "p10": f.p10, "p50": f.p50, "p90": f.p90}
        )
        for skill, target, f in forecasts
    )


def _scores(results: list[SeriesResult]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "skill": [r.skill for r in results],
            "target": [r.target for r in results],
            "model": [r.forecast.model for r in results],
            "mase": [r.score.mase if r.score else None for r in results],
            "coverage": [r.score.coverage if r.score else None for r in results],
        },
        schema={
            "skill": pl.String,
            "target": pl.String,
            "model": pl.String,
            "mase": pl.Float64,
            "coverage": pl.Float64,
        },
    ).sort("target", "skill")


def _headline(scores: pl.DataFrame) -> dict[str, float]:
    """Medians over skills of the holdout scores, the figures a run is compared on."""
    metrics: dict[str, float] = {}
    for target in ("demand", "rate"):
        scored = scores.filter((pl.col("target") == target) & pl.col("mase").is_not_nan())
        metrics[f"{target}_series"] = float(scores.filter(pl.col("target") == target).height)
        if scored.height:
            metrics[f"{target}_mase"] = float(scored["mase"].median())  # type: ignore[arg-type]
            metrics[f"{target}_coverage_80"] = float(scored["coverage"].median())  # type: ignore[arg-type]
    return metrics
