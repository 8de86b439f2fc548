"""Scoring a version on the weeks after its data: the figures, and which series drift."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import numpy as np
import polars as pl
import pytest

from gigcast.bundle import Target
from training.monitoring.drift import Drift, MonitoringError, score
from training.monitoring.limits import DriftLimits
from training.pipeline import Trained

WEEKS = 6


def postings_for(trained: Trained, weeks: int, *, demand: dict[str, float] | None = None) -> pl.DataFrame:
    """Postings of the weeks after the bundle's data in which every forecast median came true:
    ``round(p50)`` postings of each skill a week, each at the week's median rate forecast.
    ``demand`` multiplies some skills' postings."""
    bundle = trained.bundle
    rates = {(s, w): p50 for s, w, p50 in bundle.rates.select("skill", "week_start", "p50").iter_rows()}
    rows = []
    for skill, week, p50 in bundle.demand.select("skill", "week_start", "p50").iter_rows():
        if week >= bundle.manifest.first_forecast_week + timedelta(weeks=weeks):
            continue
        count = round(p50 * (demand or {}).get(skill, 1.0))
        for n in range(count):
            day = datetime.combine(week + timedelta(days=n % 7), time(12), tzinfo=UTC)
            rows.append((skill, day, rates.get((skill, week))))
    return pl.DataFrame(
        {
            "posted_at": [row[1] for row in rows],
            "skills": [[row[0]] for row in rows],
            "hourly_rate": [row[2] for row in rows],
            "experience_level": "intermediate",
            "country": "US",
        },
        schema_overrides={"posted_at": pl.Datetime("us", "UTC"), "hourly_rate": pl.Float64},
    )


def scored(trained: Trained, postings: pl.DataFrame, limits: DriftLimits = DriftLimits()) -> Drift:
    return score(
        trained.bundle, backtest=trained.scores, holdout=trained.holdout, postings=postings, limits=limits
    )


def test_forecasts_that_came_true_score_as_such_and_do_not_drift(trained: Trained) -> None:
    drift = scored(trained, postings_for(trained, WEEKS))
    first = trained.bundle.manifest.first_forecast_week
    assert drift.weeks == [first + timedelta(weeks=w) for w in range(WEEKS)]
    rates = drift.series.filter(pl.col("target") == Target.RATE)
    assert rates.height and (rates["mase"] == 0).all() and (rates["coverage"] == 1).all()
    assert (rates["bias"].abs() < 1e-12).all()
    demand = drift.series.filter(pl.col("target") == Target.DEMAND)
    assert (demand["mase"] < 0.2).all()  # off by the rounding to whole postings only
    assert not drift.drifted and not drift.series["drifted"].any()
    backtested = trained.scores.filter(pl.col("mase").is_not_null()).select("skill", "target").sort(pl.all())
    assert drift.series.select("skill", "target").sort(pl.all()).equals(backtested)


def test_a_skill_whose_demand_moved_drifts_alone(trained: Trained) -> None:
    demand = trained.scores.filter((pl.col("target") == Target.DEMAND) & pl.col("mase").is_not_null())
    moved = demand["skill"][0]
    drift = scored(trained, postings_for(trained, WEEKS, demand={moved: 4.0}))
    drifted = drift.series.filter(pl.col("drifted")).select("skill", "target").rows()
    assert drifted == [(moved, str(Target.DEMAND))]
    row = drift.series.filter((pl.col("skill") == moved) & (pl.col("target") == Target.DEMAND)).row(
        0, named=True
    )
    assert row["coverage"] == 0 and row["bias"] == pytest.approx(-0.75, abs=0.05)  # forecast a quarter of it
    assert row["mase_ratio"] == pytest.approx(row["mase"] / row["expected_mase"])
    headline = drift.headline.filter(pl.col("target") == Target.DEMAND).row(0, named=True)
    assert headline["drifted"] and headline["drifted_series"] == 1 and drift.drifted
    metrics = drift.metrics()
    assert metrics["demand_drifted_series"] == 1 and metrics["weeks_scored"] == WEEKS


def test_a_looser_limit_lets_the_same_move_pass(trained: Trained) -> None:
    demand = trained.scores.filter((pl.col("target") == Target.DEMAND) & pl.col("mase").is_not_null())
    postings = postings_for(trained, WEEKS, demand={demand["skill"][0]: 4.0})
    assert not scored(trained, postings, DriftLimits(max_coverage_drop=0.9, max_mase_ratio=50)).drifted


def test_naive_mase_carries_the_last_value_the_version_saw(trained: Trained) -> None:
    drift = scored(trained, postings_for(trained, WEEKS))
    for row in drift.series.iter_rows(named=True):
        seen = trained.holdout.filter((pl.col("skill") == row["skill"]) & (pl.col("target") == row["target"]))
        last = seen.sort("week_start").row(-1, named=True)
        actual = drift.points.filter((pl.col("skill") == row["skill"]) & (pl.col("target") == row["target"]))
        expected = np.mean(np.abs(actual["actual"].to_numpy() - last["actual"])) / last["scale"]
        assert row["naive_mase"] == pytest.approx(expected)


def test_only_complete_weeks_the_version_forecasts_are_scored(trained: Trained) -> None:
    horizon = trained.bundle.manifest.horizon_weeks
    assert len(scored(trained, postings_for(trained, horizon + 3)).weeks) == horizon
    postings = postings_for(trained, WEEKS)
    last_day = postings["posted_at"].max()
    partial = postings.filter(pl.col("posted_at") < last_day)  # the last week lacks its Sunday
    assert scored(trained, partial).weeks == scored(trained, postings).weeks[:-1]


def test_data_without_a_new_week_is_refused_in_one_line(trained: Trained) -> None:
    end = trained.bundle.manifest.data_end
    old = postings_for(trained, WEEKS).with_columns(pl.col("posted_at") - pl.duration(weeks=WEEKS))
    old = old.filter(pl.col("posted_at").dt.date() <= end + timedelta(days=6))
    with pytest.raises(MonitoringError, match=f"ends on {end + timedelta(days=6)}"):
        scored(trained, old)
