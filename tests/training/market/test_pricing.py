from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest

from training.market.pricing import SHRINK, premiums, rate_cells
from training.market.pricing import residuals as residuals_of
from training.market.regions import region_of


def residuals(rows: list[tuple[str, float, int]]) -> pl.DataFrame:
    """(country, log distance from the weekly median, how many such rates)"""
    countries = [c for c, _, n in rows for _ in range(n)]
    values = [v for _, v, n in rows for _ in range(n)]
    return pl.DataFrame({"experience_level": [None] * len(values), "country": countries, "residual": values})


def test_countries_pool_toward_their_region_and_regions_toward_the_market() -> None:
    table = premiums(residuals([("PL", -0.6, 1000), ("UA", -0.2, 5)]), region_of())
    premium = {k: (v, n) for f, k, v, n in table.iter_rows() if f == "country"}
    eastern_europe = premium["CZ"][0]  # never seen: its region's premium
    assert premium["CZ"][1] == 0
    assert premium["PL"][0] == pytest.approx(-0.6, abs=0.02)  # plenty of its own rates
    weight = 5 / (5 + SHRINK)
    assert premium["UA"][0] == pytest.approx(weight * -0.2 + (1 - weight) * eastern_europe)
    assert -0.6 < eastern_europe < 0  # the region is shrunk toward the market
    assert "US" not in premium  # no rate from its region at all: no premium, no guess


def test_levels_are_estimated_before_countries() -> None:
    rows = pl.DataFrame(
        {
            "experience_level": ["expert"] * 500 + ["entry"] * 500,
            "country": ["US"] * 1000,
            "residual": [0.4] * 500 + [-0.4] * 500,
        }
    )
    table = premiums(rows, region_of())
    level = {k: v for f, k, v, _ in table.iter_rows() if f == "level"}
    country = {k: v for f, k, v, _ in table.iter_rows() if f == "country"}
    assert level["expert"] == pytest.approx(0.4 * 500 / (500 + SHRINK))
    assert math.isclose(country["US"], 0.0, abs_tol=0.02)  # the levels explain it all


def rated(rows: list[tuple[str, str | None, float]], week: date = date(2026, 11, 9)) -> pl.DataFrame:
    """(skill, level, rate) observations of one week in the US."""
    return pl.DataFrame(
        {
            "skill": [s for s, _, _ in rows],
            "week_start": [week] * len(rows),
            "experience_level": [lv for _, lv, _ in rows],
            "country": ["US"] * len(rows),
            "rate": [r for _, _, r in rows],
        },
        schema_overrides={"experience_level": pl.String},
    )


def lognormal(
    skill: str, level: str | None, median: float, n: int, seed: int
) -> list[tuple[str, str | None, float]]:
    draws = np.random.default_rng(seed).lognormal(math.log(median), 0.4, n)
    return [(skill, level, float(r)) for r in draws]


CATEGORIES = pl.DataFrame({"skill": ["thick", "thin", "other"], "category": ["ai", "ai", "ai"]})


def test_a_one_rate_skill_week_still_has_a_distance_from_where_the_skill_sits() -> None:
    rows = (
        lognormal("thick", None, 40, 300, 1) + lognormal("other", None, 40, 300, 2) + [("thin", None, 80.0)]
    )
    found = residuals_of(rated(rows), CATEGORIES)
    thin = found.filter(pl.col("skill") == "thin")["residual"].item()
    assert 0.2 < thin < math.log(2)  # shrunk toward the category, not zero as its own median would say


def test_rates_far_outside_their_category_are_left_out() -> None:
    rows = [*lognormal("thick", None, 40, 300, 1), ("thick", None, 40_000.0)]
    found = residuals_of(rated(rows), CATEGORIES)
    assert found.height == 300 and found["rate"].max() < 1000


def test_thin_skills_get_wider_spreads_and_thin_levels_follow_the_market() -> None:
    rows = (
        lognormal("thick", "expert", 60, 200, 1)
        + lognormal("thick", "entry", 30, 200, 2)
        + lognormal("other", "expert", 60, 200, 3)
        + lognormal("other", "entry", 30, 200, 4)
        + lognormal("thin", "expert", 120, 3, 5)
    )
    found = residuals_of(rated(rows), CATEGORIES)
    table = premiums(found, region_of())
    cells = rate_cells(found, table, CATEGORIES)
    cell = {(s, lv): (p, sd, n) for s, lv, p, sd, n in cells.iter_rows()}
    assert cells.height == 3 * 4  # every skill, at every level and at none
    assert cell[("thin", "")][1] > cell[("thick", "")][1]  # fewer rates, less known, wider
    market_expert = {k: v for f, k, v, _ in table.iter_rows() if f == "level"}["expert"]
    assert abs(cell[("thin", "expert")][0] - market_expert) < abs(
        math.log(120 / 60)
    )  # three rates move it a little
    assert cell[("thin", "expert")][2] == 3 and cell[("thin", "entry")][2] == 0
    assert cell[("thick", "expert")][0] > 0 > cell[("thick", "entry")][0]
