from __future__ import annotations

from datetime import timedelta

import polars as pl

from training.pipeline import Trained
from training.registry.promotion import judge


def holdout_after(trained: Trained, error: float) -> pl.DataFrame:
    """Weeks the champion forecast out of sample; the challenger's forecasts off by ``error``."""
    champion = trained.bundle
    weeks = [champion.manifest.first_forecast_week + timedelta(weeks=i) for i in range(4)]
    truth = champion.demand.filter(pl.col("week_start").is_in(weeks))
    return truth.select(
        "skill",
        "week_start",
        target=pl.lit("demand"),
        actual=pl.col("p50"),
        predicted=pl.col("p50") * (1 + error),
        scale=pl.lit(1.0),
    )


def test_no_champion_means_promote(trained: Trained) -> None:
    verdict = judge(trained.holdout, trained.metrics, None)
    assert verdict.promote and verdict.basis == "no champion"


def test_out_of_sample_weeks_decide_when_the_champion_has_not_seen_them(trained: Trained) -> None:
    worse = judge(holdout_after(trained, 0.5), {"demand_mase": 0.1}, trained.bundle)
    assert worse.basis == "holdout" and not worse.promote
    assert worse.challenger is not None and worse.champion == 0.0


def test_overlapping_data_is_judged_on_the_backtest(trained: Trained) -> None:
    champion_score = (trained.metrics["demand_mase"] + trained.metrics["rate_mase"]) / 2
    better = judge(trained.holdout, {"demand_mase": 0.01, "rate_mase": 0.01}, trained.bundle)
    assert better.basis == "backtest" and better.promote and better.champion == champion_score
    same = judge(trained.holdout, trained.metrics, trained.bundle)
    assert not same.promote  # a tie keeps the champion
    assert "does not beat" in same.reason


def test_holdout_is_the_last_fold_of_every_backtested_series(trained: Trained) -> None:
    tested = trained.scores.filter(pl.col("mase").is_not_null())
    per_series = trained.holdout.group_by("skill", "target").len()
    assert per_series.height == tested.height
    assert (per_series["len"] == 4).all()  # the fixture's backtest horizon
    assert trained.holdout["week_start"].max() <= trained.bundle.manifest.data_end
