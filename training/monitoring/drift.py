"""How a model version did on the weeks that landed after its data, against its own backtest.

Each backtested series (skill and target) of the version is scored on the complete weeks after
its data ends, as far as it forecasts: MASE with the scale its backtest used, MASE of the naive
forecast made at the same origin (the last value the version saw), the share of weeks inside the
80% interval, and the bias of the median. The backtest said what to expect at those horizons
(its per-bucket MASE and coverage); drift is doing clearly worse than that.

A series drifts when its forecasts miss their interval both more than ``max_coverage_drop``
below the backtest's coverage and more often than chance allows: a one-sided binomial test of
its misses against the backtest's coverage (its target's, at the same horizons: one series'
backtest holds too few weeks), with the Benjamini-Hochberg correction over every series scored
(a false discovery rate of 5%), so a market of a thousand skills does not cry wolf.
Over the few weeks of one series, its MASE against its own backtest's is reported but is mostly
noise. A target drifts when any of its series does, or when over all its series the median MASE
is more than ``max_mase_ratio`` times the backtest's, or the coverage fell by more than
``max_coverage_drop``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from scipy.stats import binom, false_discovery_control

from gigcast.bundle import INTERVAL_COVERAGE, Bundle, Target
from training.data.panels import (
    WEEK,
    collection_gaps,
    complete_window,
    exploded,
    rate_observations,
    rate_panel,
    week_of,
)
from training.forecasting.backtest import BUCKETS, bucket_of
from training.monitoring.limits import DriftLimits

__all__ = ["Drift", "MonitoringError", "score"]

#: The share of flagged series that may be flagged by chance.
FALSE_DISCOVERY_RATE = 0.05
#: One row per series and week scored.
POINTS_SCHEMA = {
    "skill": pl.String,
    "target": pl.String,
    "week_start": pl.Date,
    "step": pl.Int64,
    "actual": pl.Float64,
    "p10": pl.Float64,
    "p50": pl.Float64,
    "p90": pl.Float64,
}


class MonitoringError(ValueError):
    """Data a version cannot be scored on, said in one line."""


@dataclass(frozen=True)
class Drift:
    weeks: list[date]  # the weeks scored, oldest first
    points: pl.DataFrame  # POINTS_SCHEMA: every series' forecast and what happened
    series: pl.DataFrame  # one row per series: its scores, what its backtest expected, drifted
    headline: pl.DataFrame  # one row per target: the same over every series, drifted

    @property
    def drifted(self) -> bool:
        return bool(self.headline["drifted"].any())

    def metrics(self) -> dict[str, float]:
        """The headline as MLflow metrics: ``demand_mase_ratio``, ``rate_coverage_80``, ..."""
        metrics = {"weeks_scored": float(len(self.weeks))}
        for row in self.headline.iter_rows(named=True):
            target = row.pop("target")
            metrics |= {
                f"{target}_{key}": float(value)
                for key, value in row.items()
                if value is not None and math.isfinite(float(value))
            }
        return metrics


def score(
    bundle: Bundle,
    *,
    backtest: pl.DataFrame,
    holdout: pl.DataFrame,
    postings: pl.DataFrame,
    limits: DriftLimits = DriftLimits(),
) -> Drift:
    """Score ``bundle`` on the complete weeks of ``postings`` after its data.

    ``backtest`` and ``holdout`` are the version's scores and last-fold tables, as its training
    run logged them; ``postings`` are accepted postings, older weeks allowed.
    """
    weeks = new_weeks(bundle, postings)
    scales = _scales(holdout)
    points = _points(bundle, postings, weeks, scales).join(
        _expected(backtest), on=["skill", "target", "step"], how="left"
    )
    if points.is_empty():
        raise MonitoringError("no backtested skill of the version has postings in the new weeks")
    series = (
        points.join(scales, on=["skill", "target"])
        .group_by("skill", "target")
        .agg(
            weeks=pl.len().cast(pl.Int64),
            mase=(pl.col("actual") - pl.col("p50")).abs().mean() / pl.col("scale").first(),
            naive_mase=(pl.col("actual") - pl.col("origin")).abs().mean() / pl.col("scale").first(),
            coverage=_inside().mean(),
            bias=_bias(),
            expected_mase=pl.col("expected_mase").mean(),
            expected_coverage=pl.col("expected_coverage").mean(),
            misses=(1 - _inside()).sum().cast(pl.Int64),
        )
        .with_columns(
            mase_ratio=pl.col("mase") / pl.col("expected_mase"),
            coverage_drop=pl.col("expected_coverage") - pl.col("coverage"),
        )
        .sort("target", "skill")
    )
    chance = _chance_of_misses(series)
    series = series.with_columns(
        chance=pl.Series(chance),
        drifted=pl.Series(false_discovery_control(chance) <= FALSE_DISCOVERY_RATE)
        & (pl.col("coverage_drop") > limits.max_coverage_drop).fill_null(False),
    )
    headline = (
        points.group_by("target")
        .agg(
            coverage_80=_inside().mean(),
            coverage_80_backtest=pl.col("expected_coverage").mean(),
            bias=_bias(),
        )
        .join(
            series.group_by("target").agg(
                series=pl.len().cast(pl.Int64),
                mase=pl.col("mase").median(),
                mase_backtest=pl.col("expected_mase").median(),
                naive_mase=pl.col("naive_mase").median(),
                drifted_series=pl.col("drifted").sum().cast(pl.Int64),
            ),
            on="target",
        )
        .with_columns(
            mase_ratio=pl.col("mase") / pl.col("mase_backtest"),
            coverage_drop=pl.col("coverage_80_backtest") - pl.col("coverage_80"),
        )
        .with_columns(
            drifted=(pl.col("drifted_series") > 0)
            | (pl.col("mase_ratio") > limits.max_mase_ratio).fill_null(False)
            | (pl.col("coverage_drop") > limits.max_coverage_drop).fill_null(False)
        )
        .sort("target")
    )
    return Drift(weeks=weeks, points=points, series=series, headline=headline)


def _chance_of_misses(series: pl.DataFrame) -> np.ndarray:
    """Per series, the chance of missing its interval at least this often were it as good as its
    backtest. Misses on one side only would be likelier under a changed market, but a forecast
    a little off in level also misses on one side for weeks: counting both sides cries wolf less."""
    expected = series["expected_coverage"].fill_null(INTERVAL_COVERAGE).to_numpy()
    chance: np.ndarray = binom.sf(series["misses"].to_numpy() - 1, series["weeks"].to_numpy(), 1 - expected)
    return chance


def new_weeks(bundle: Bundle, postings: pl.DataFrame) -> list[date]:
    """The complete weeks of ``postings`` after the bundle's data that it forecasts, gaps left out."""
    manifest = bundle.manifest
    if postings.is_empty():
        raise MonitoringError("no posting was accepted")
    start, end = complete_window(postings)
    first = manifest.first_forecast_week
    last = min(end, manifest.data_end + timedelta(weeks=manifest.horizon_weeks))
    if last < first:
        raise MonitoringError(
            f"the data has no complete week after the version's data, which ends on {manifest.data_as_of}"
            f" (its last complete week starts {end}): nothing to score yet"
        )
    gaps = set(collection_gaps(postings, start=start, end=end))
    weeks = [first + timedelta(weeks=w) for w in range((last - first).days // 7 + 1)]
    kept = [week for week in weeks if week not in gaps]
    if not kept:
        raise MonitoringError(
            "every week after the version's data is a collection gap: " + ", ".join(map(str, weeks))
        )
    return kept


def _scales(holdout: pl.DataFrame) -> pl.DataFrame:
    """Per series, its backtest's MASE scale and the last value the version saw (the naive origin)."""
    return (
        holdout.filter(pl.col("scale") > 0)
        .sort("week_start")
        .group_by("skill", "target")
        .agg(scale=pl.col("scale").last(), origin=pl.col("actual").last())
    )


def _points(bundle: Bundle, postings: pl.DataFrame, weeks: list[date], scales: pl.DataFrame) -> pl.DataFrame:
    """Each scored series' forecast of each new week beside what happened; rates only where seen."""
    new = postings.filter(week_of().is_in(weeks))
    rows = exploded(new)
    counts = rows.group_by("skill", WEEK).agg(actual=pl.len().cast(pl.Float64))
    demand = (
        scales.filter(pl.col("target") == Target.DEMAND)
        .select("skill", "target")
        .join(pl.DataFrame({WEEK: weeks}, schema={WEEK: pl.Date}), how="cross")
        .join(counts, on=["skill", WEEK], how="left")
        .with_columns(pl.col("actual").fill_null(0.0))
        .join(bundle.demand, on=["skill", WEEK])
    )
    rates = (
        rate_panel(rate_observations(new))
        .select("skill", WEEK, target=pl.lit(str(Target.RATE)), actual="rate")
        .join(
            scales.filter(pl.col("target") == Target.RATE).select("skill", "target"), on=["skill", "target"]
        )
        .join(bundle.rates.rename({"lower": "p10", "upper": "p90"}), on=["skill", WEEK])
    )
    first = bundle.manifest.first_forecast_week
    step = ((pl.col(WEEK) - pl.lit(first)).dt.total_days() // 7 + 1).cast(pl.Int64)
    return (
        pl.concat([demand, rates], how="diagonal")
        .with_columns(step=step)
        .select(pl.col(column).cast(dtype) for column, dtype in POINTS_SCHEMA.items())
        .sort("target", "skill", WEEK)
    )


def _expected(backtest: pl.DataFrame) -> pl.DataFrame:
    """What the backtest said of each series at week ``step`` ahead: the MASE of its own bucket,
    and the coverage of its target's series in that bucket (one series' backtest holds too few
    weeks to say how often its interval misses)."""
    steps = pl.DataFrame({"step": range(1, BUCKETS[-1].last + 1)}, schema={"step": pl.Int64})
    steps = steps.with_columns(bucket=pl.Series([bucket_of(step).name for step in steps["step"]]))
    tested = backtest.filter(pl.col("mase").is_not_null())
    pooled = pl.col(f"coverage_{b.name}" for b in BUCKETS).mean().over("target")
    return (
        tested.with_columns(pooled, coverage=pl.col("coverage").mean().over("target"))
        .join(steps, how="cross")
        .select(
            "skill",
            "target",
            "step",
            expected_mase=_of_bucket("mase"),
            expected_coverage=_of_bucket("coverage"),
        )
    )


def _of_bucket(figure: str) -> pl.Expr:
    """The backtest's ``figure`` in each row's bucket, or over every bucket where that one is empty."""
    by_bucket = pl.coalesce(
        pl.when(pl.col("bucket") == bucket.name).then(pl.col(f"{figure}_{bucket.name}")) for bucket in BUCKETS
    )
    return pl.coalesce(by_bucket, pl.col(figure))


def _inside() -> pl.Expr:
    return pl.col("actual").is_between(pl.col("p10"), pl.col("p90")).cast(pl.Float64)


def _bias() -> pl.Expr:
    """How far the median forecast was above what happened, as a share of what happened."""
    total = pl.col("actual").sum()
    return pl.when(total > 0).then((pl.col("p50").sum() - total) / total)
