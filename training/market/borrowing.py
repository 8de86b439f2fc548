"""Young skills borrow: a skill short of history takes its category's forecast, scaled to it.

Demand borrows the category's total postings, times the skill's share of them; rates borrow the
category's weekly median (the market's when the category has none), moved by how the skill's own
rates sit against it. Lender series are fitted with every other series, under a key of their own.
Every category's demand total and the market's are fitted, lent or not: they are the upper
levels of the demand tree (``training.forecasting.hierarchy``).
"""

from __future__ import annotations

import math

import polars as pl

from gigcast.bundle import MARKET, Target
from training.data.panels import rate_panel
from training.forecasting.calibrate import Calibrated
from training.market import pricing

BORROWED = "category:"  # key prefix of the series that young skills borrow from


def rate_lenders(
    skills: pl.DataFrame, observations: pl.DataFrame, own_rate: set[str]
) -> tuple[dict[str, str], pl.DataFrame]:
    """For each skill short of rate history, the series it borrows: its category's, else the market's.

    Returns skill -> lender key, and the weekly median rate of every lender needed.
    """
    short = skills.filter(~pl.col("skill").is_in(list(own_rate)))
    category_of = dict(skills.select("skill", "category").iter_rows())
    pooled = observations.with_columns(
        skill=pl.col("skill").replace_strict(category_of, return_dtype=pl.String)
    )
    rated = set(pooled["skill"])
    lenders = {
        skill: BORROWED + (category if category in rated else MARKET)
        for skill, category in short.select("skill", "category").iter_rows()
    }
    needed = {key.removeprefix(BORROWED) for key in lenders.values()}
    panels = [rate_panel(pooled.filter(pl.col("skill").is_in(list(needed - {MARKET}))))]
    if MARKET in needed:
        panels.append(rate_panel(observations.with_columns(skill=pl.lit(MARKET))))
    return lenders, pl.concat(panels).with_columns(skill=pl.lit(BORROWED) + pl.col("skill"))


def demand_totals(
    skills: pl.DataFrame, demand: pl.DataFrame, own_demand: set[str]
) -> tuple[dict[str, str], pl.DataFrame]:
    """Every category's total weekly postings and the market's; the category each young skill borrows.

    Returns skill -> lender key for each skill too young to forecast alone, and the totals'
    panel, keyed ``BORROWED + category`` (``BORROWED + MARKET`` for the market).
    """
    young = skills.filter(~pl.col("skill").is_in(list(own_demand))).select("skill", "category")
    lenders = {skill: BORROWED + category for skill, category in young.iter_rows()}
    by_category = demand.join(skills.select("skill", "category"), on="skill")
    totals = pl.concat(
        [
            by_category.group_by("category", "week_start").agg(pl.col("postings").sum()),
            by_category.group_by("week_start")
            .agg(pl.col("postings").sum())
            .select(category=pl.lit(MARKET), week_start="week_start", postings="postings"),
        ]
    )
    panel = totals.select(
        (pl.lit(BORROWED) + pl.col("category")).alias("skill"), "week_start", "postings"
    ).sort("skill", "week_start")
    return lenders, panel


def _lender_frame(lenders: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"skill": list(lenders), "lender": list(lenders.values())},
        schema={"skill": pl.String, "lender": pl.String},
    )


def rate_factors(
    lenders: dict[str, str], observations: pl.DataFrame, panels: pl.DataFrame
) -> dict[str, float]:
    """How a short skill's rates sit against its lender's: the median log distance, shrunk to none.

    Shrunk, so that a skill with three rates moves its category's forecast only a little.
    """
    lender_of = _lender_frame(lenders)
    medians = panels.select(
        pl.col("skill").alias("lender"), "week_start", pl.col("rate").alias("lender_rate")
    )
    distances = (
        observations.join(lender_of, on="skill")
        .join(medians, on=["lender", "week_start"])
        .group_by("skill")
        .agg(distance=(pl.col("rate").log() - pl.col("lender_rate").log()).median(), n=pl.len())
    )
    return {skill: math.exp(d * n / (n + pricing.SHRINK)) for skill, d, n in distances.iter_rows()}


def demand_shares(lenders: dict[str, str], demand: pl.DataFrame, panels: pl.DataFrame) -> dict[str, float]:
    """A young skill's share of its category's postings over the weeks it has existed."""
    lender_of = _lender_frame(lenders)
    totals = panels.select(pl.col("skill").alias("lender"), "week_start", pl.col("postings").alias("total"))
    shares = (
        demand.join(lender_of, on="skill")
        .join(totals, on=["lender", "week_start"])
        .group_by("skill")
        .agg(share=pl.col("postings").sum() / pl.col("total").sum())
    )
    return dict(shares.iter_rows())


def scaled(
    lenders: dict[str, str],
    factors: dict[str, float],
    calibrated: dict[tuple[str, Target], Calibrated],
    target: Target,
) -> list[Calibrated]:
    """Each borrowing skill's forecast: its lender's, times the skill's factor."""
    scaled = []
    for skill, lender in lenders.items():
        source, factor = calibrated[(lender, target)], factors.get(skill, 1.0)
        p10, p50, p90 = source.p10 * factor, source.p50 * factor, source.p90 * factor
        scaled.append(Calibrated(skill, target, f"{lender} scaled", p10, p50, p90, None, None))
    return scaled
