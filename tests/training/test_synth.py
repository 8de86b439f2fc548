from __future__ import annotations

from datetime import date

import polars as pl

from gigcast.taxonomy import Taxonomy
from training.synth import pick_skills, synthesize

END = date(2026, 11, 15)


def test_same_seed_same_market() -> None:
    assert synthesize(skills=3, weeks=10, end=END, seed=5).equals(
        synthesize(skills=3, weeks=10, end=END, seed=5)
    )
    assert not synthesize(skills=3, weeks=10, end=END, seed=5).equals(
        synthesize(skills=3, weeks=10, end=END, seed=6)
    )


def test_market_spans_the_weeks_asked_and_ends_on_the_sunday() -> None:
    market = synthesize(skills=4, weeks=10, end=END, seed=1)
    days = market["posted_at"].dt.date()
    assert days.max() <= END
    assert days.min() >= date(2026, 9, 7)  # ten Mondays back from 2026-11-09
    hourly = market.filter(pl.col("is_hourly"))
    assert hourly["hourly_rate"].null_count() == 0
    assert market.filter(~pl.col("is_hourly"))["hourly_rate"].null_count() == market.height - hourly.height


def test_skill_count_scales_past_the_taxonomy(taxonomy: Taxonomy) -> None:
    picked = pick_skills(taxonomy, len(taxonomy.skills) + 5)
    assert len({s.id for s in picked}) == len(taxonomy.skills) + 5
    categories = {s.category for s in pick_skills(taxonomy, 11)}
    assert len(categories) == 11  # round-robin: one of each category first
