from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from gigcast.taxonomy import Taxonomy
from training.data.synth import COUNTRIES, pick_skills, synthesize, write_market

END = date(2026, 11, 15)


def test_same_seed_same_market() -> None:
    one = synthesize(skills=3, weeks=10, end=END, seed=5).postings
    assert one.equals(synthesize(skills=3, weeks=10, end=END, seed=5).postings)
    assert not one.equals(synthesize(skills=3, weeks=10, end=END, seed=6).postings)


def test_market_spans_the_weeks_asked_and_ends_on_the_sunday() -> None:
    market = synthesize(skills=4, weeks=10, end=END, seed=1, messy=0.0)
    days = market.postings["posted_at"].str.to_datetime().dt.date()
    assert days.max() <= END
    assert days.min() >= date(2026, 9, 7)  # ten Mondays back from 2026-11-09
    hourly = market.postings.filter(pl.col("is_hourly"))
    has_rate = pl.col("hourly_rate").is_not_null() | pl.col("hourly_rate_min").is_not_null()
    assert hourly.filter(has_rate).height == hourly.height
    assert market.postings.filter(~pl.col("is_hourly") & has_rate).is_empty()
    assert 0.4 < hourly.height / market.postings.height < 0.6
    assert market.truth["week_start"].n_unique() == 10


def test_skill_count_scales_past_the_taxonomy(taxonomy: Taxonomy) -> None:
    picked = pick_skills(taxonomy, len(taxonomy.skills) + 5)
    assert len({s.id for s in picked}) == len(taxonomy.skills) + 5
    assert len({s.category for s in pick_skills(taxonomy, 11)}) == 11  # one of each category first


@pytest.fixture(scope="module")
def default_market() -> pl.DataFrame:
    return synthesize(end=END, messy=0.0).postings


def test_rates_match_the_payoneer_averages(default_market: pl.DataFrame) -> None:
    """About $28/h worldwide, $44 in North America, $31 in Europe, India a third of the US."""
    rates = default_market.select(
        "country",
        rate=pl.coalesce(
            pl.col("hourly_rate").cast(pl.Float64),
            (pl.col("hourly_rate_min").cast(pl.Float64) + pl.col("hourly_rate_max").cast(pl.Float64)) / 2,
        ),
    ).drop_nulls()
    europe = ["GB", "DE", "NL", "FR", "ES", "PL", "RO", "UA"]
    mean = {
        "all": rates["rate"].mean(),
        "north_america": rates.filter(pl.col("country").is_in(["US", "CA"]))["rate"].mean(),
        "europe": rates.filter(pl.col("country").is_in(europe))["rate"].mean(),
    }
    assert mean["all"] == pytest.approx(28, rel=0.15)
    assert mean["north_america"] == pytest.approx(44, rel=0.15)
    assert mean["europe"] == pytest.approx(31, rel=0.15)
    median = rates.group_by("country").agg(pl.col("rate").median())
    ratio = (
        median.filter(pl.col("country") == "IN")["rate"][0]
        / median.filter(pl.col("country") == "US")["rate"][0]
    )
    assert ratio == pytest.approx(COUNTRIES["IN"][1], rel=0.1)


def test_demand_grows_as_the_truth_says() -> None:
    market = synthesize(skills=40, weeks=104, end=END, seed=3, messy=0.0)
    yearly = market.truth.with_columns(
        second_year=pl.col("week_start") >= pl.col("week_start").min().dt.offset_by("52w")
    )
    totals = yearly.group_by("skill", "second_year").agg(pl.col("expected_postings").sum())
    wide = totals.pivot(on="second_year", index="skill", values="expected_postings")
    ratio = dict(wide.select("skill", pl.col("true") / pl.col("false")).iter_rows())
    growth = market.facts["yearly_growth"]
    assert ratio["ai-video-generation"] == pytest.approx(growth["ai-video-generation"], rel=0.25)
    assert ratio["ai-video-generation"] > 3.0  # +329% a year
    assert ratio["prompt-engineering"] > 1.6  # AI skills about +109%
    assert ratio["content-writing"] < 1.0  # writing shrinks


def test_writing_falls_about_30_percent_after_chatgpt() -> None:
    market = synthesize(skills=11, weeks=78, end=date(2023, 12, 31), seed=1, messy=0.0)
    writing = market.truth.filter(pl.col("skill") == "content-writing")
    before = writing.filter(pl.col("week_start") < date(2022, 11, 28))["expected_postings"].mean()
    after = writing.filter(pl.col("week_start") >= date(2023, 8, 1))["expected_postings"].mean()
    assert 0.6 < after / before < 0.8


def test_truth_is_written_beside_the_postings(tmp_path: Path) -> None:
    market = synthesize(skills=3, weeks=8, end=END, seed=1, messy=0.1)
    truth, facts = write_market(market, tmp_path / "postings.csv")
    assert (tmp_path / "postings.csv").is_file()
    assert truth.name == "postings.truth.parquet" and facts.name == "postings.truth.json"
    assert pl.read_parquet(truth).columns == ["skill", "week_start", "expected_postings", "median_rate"]
    written = json.loads(facts.read_text())
    clean = market.postings.height - written["messy_rows"].get("duplicate", 0)  # copies are extra rows
    assert sum(written["messy_rows"].values()) == int(clean * 0.1)
    assert written["level_multiplier"]["expert"] > written["level_multiplier"]["entry"]


def test_observed_demand_matches_the_truth(tmp_path: Path, taxonomy: Taxonomy) -> None:
    from training.data.ingest import ingest
    from training.data.panels import demand_panel

    market = synthesize(skills=30, weeks=52, end=END, seed=9, messy=0.0)
    market.postings.write_parquet(tmp_path / "m.parquet")
    observed = demand_panel(ingest([tmp_path / "m.parquet"], taxonomy=taxonomy).accepted)
    both = observed.join(market.truth, on=["skill", "week_start"], how="full", coalesce=True)
    totals = both.group_by("skill").agg(
        observed=pl.col("postings").fill_null(0).sum(),
        expected=pl.col("expected_postings").fill_null(0).sum(),
    )
    assert (totals["observed"] / totals["expected"]).median() == pytest.approx(1.0, abs=0.02)
    # every skill's count is a Poisson draw around its truth: within four standard deviations
    assert ((totals["observed"] - totals["expected"]).abs() <= 4 * totals["expected"].sqrt()).all()
