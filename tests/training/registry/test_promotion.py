from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import polars as pl

from gigcast.bundle import Manifest
from training.pipeline import Trained
from training.registry.promotion import Basis, judge


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


def scored(trained: Trained, **metrics: float) -> Manifest:
    """The trained model's manifest with other backtest scores."""
    return replace(trained.bundle.manifest, metrics=metrics)


def test_no_champion_means_promote(trained: Trained) -> None:
    verdict = judge(trained.holdout, trained.bundle.manifest, None)
    assert verdict.promote and verdict.basis == "no champion"


def test_out_of_sample_weeks_decide_when_the_champion_has_not_seen_them(trained: Trained) -> None:
    worse = judge(holdout_after(trained, 0.5), scored(trained, demand_mase=0.1), trained.bundle)
    assert worse.basis == "holdout" and not worse.promote
    assert worse.challenger is not None and worse.champion == 0.0


def test_overlapping_data_is_judged_on_the_backtest(trained: Trained) -> None:
    champion_score = (trained.metrics["demand_mase"] + trained.metrics["rate_mase"]) / 2
    better = judge(trained.holdout, scored(trained, demand_mase=0.01, rate_mase=0.01), trained.bundle)
    assert better.basis == "backtest" and better.promote and better.champion == champion_score
    same = judge(trained.holdout, trained.bundle.manifest, trained.bundle)
    assert not same.promote  # a tie keeps the champion
    assert "does not beat" in same.reason


def test_holdout_is_the_last_fold_of_every_backtested_series(trained: Trained) -> None:
    tested = trained.scores.filter(pl.col("mase").is_not_null())
    per_series = trained.holdout.group_by("skill", "target").len()
    assert per_series.height == tested.height
    assert (per_series["len"] == 4).all()  # the fixture's backtest horizon
    assert trained.holdout["week_start"].max() <= trained.bundle.manifest.data_end


def test_a_challenger_missing_postings_the_champion_had_is_not_promoted_however_it_scores(
    trained: Trained,
) -> None:
    champion = trained.bundle.manifest
    weeks = sorted(champion.postings_per_week)
    assert len(weeks) > 8 and min(champion.postings_per_week.values()) > 0
    half = {week: n for i, (week, n) in enumerate(sorted(champion.postings_per_week.items())) if i % 2}
    thinner = replace(champion, metrics={"demand_mase": 0.01, "rate_mase": 0.01}, postings_per_week=half)
    verdict = judge(trained.holdout, thinner, trained.bundle)
    assert verdict.basis is Basis.LESS_DATA and not verdict.promote
    held = sum(champion.postings_per_week.values())
    assert f"holds {sum(half.values()):,} of the champion's {held:,} postings" in verdict.reason
    assert f"({len(weeks) - len(half)} of them missing)" in verdict.reason

    # a source that dropped its oldest weeks still holds every posting of the weeks both cover
    later = replace(
        thinner,
        data_start=champion.data_start + timedelta(weeks=4),
        postings_per_week={w: n for w, n in champion.postings_per_week.items() if w >= weeks[4]},
    )
    assert judge(trained.holdout, later, trained.bundle).basis is Basis.BACKTEST

    # nor is a champion trained before postings were counted judged otherwise than on its backtest
    uncounted = replace(trained.bundle, manifest=replace(champion, postings_per_week={}))
    assert judge(trained.holdout, thinner, uncounted).basis is Basis.BACKTEST


def test_a_challenger_whose_data_ends_sooner_is_not_promoted(trained: Trained) -> None:
    champion = trained.bundle.manifest
    older = replace(champion, data_end=champion.data_end - timedelta(weeks=1), metrics={"demand_mase": 0.01})
    verdict = judge(trained.holdout, older, trained.bundle)
    assert verdict.basis is Basis.LESS_DATA and not verdict.promote
    assert f"ends with the week of {older.data_end}, before the champion's" in verdict.reason
