from __future__ import annotations

import math

import polars as pl
import pytest

from training.market import SHRINK, premiums
from training.regions import region_of


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
