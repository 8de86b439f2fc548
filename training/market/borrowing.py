"""Young skills borrow: a skill short of history takes its category's forecast, scaled to it.

Demand borrows the category's total postings, times the skill's share of them; rates borrow the
category's weekly median (the market's when the category has none), moved by how the skill's own
rates sit against it. Lender series are fitted with every other series, under a key of their own.
Every category's demand total and the market's are fitted, lent or not: they are the upper
levels of the demand tree (``training.forecasting.hierarchy``).

A skill the taxonomy or the data names without a posting in the weeks trained on borrows too:
its category's rates as they are (the market's when the category has no rates), and no demand,
with an interval that reaches as far as its lender's postings allow an unseen skill to
(``unseen_demand``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np
import polars as pl

from gigcast.bundle import INTERVAL_COVERAGE, MARKET, History, Target
from training.data.panels import rate_panel
from training.forecasting.calibrate import Calibrated
from training.market import pricing

BORROWED = "category:"  # key prefix of the series that young skills borrow from
#: Weeks a young skill's share of its category's postings is read from: its latest.
SHARE_WEEKS = 8
#: Had a skill held a share ``s`` of its lender's ``n`` postings, all of them would miss it with
#: chance ``(1 - s) ** n``, about ``exp(-s n)``: under 10% (the chance above an interval's p90)
#: once ``s`` passes ``UNSEEN_POSTINGS / n``. That share of its lender's p90 is an unseen skill's.
UNSEEN_POSTINGS = -math.log((1 - INTERVAL_COVERAGE) / 2)


def history_of(own: pl.Expr, data: pl.Expr) -> pl.Expr:
    """The History of each skill of a skills table: its own where ``own``, else its category's
    where the category's skills have any ``data`` (weeks of postings, rates), else the market's."""
    return (
        pl.when(own)
        .then(pl.lit(History.SKILL.value))
        .when(data.sum().over("category") > 0)
        .then(pl.lit(History.CATEGORY.value))
        .otherwise(pl.lit(History.MARKET.value))
    )


def lender_key(category: str, history: str) -> str:
    """The key of the series a skill of ``category`` borrows, as its History says."""
    return BORROWED + (MARKET if history == History.MARKET else category)


def rate_lenders(
    skills: pl.DataFrame, observations: pl.DataFrame, own_rate: set[str]
) -> tuple[dict[str, str], pl.DataFrame]:
    """For each skill short of rate history, the series it borrows: its category's, else the market's
    (its ``rate_basis``).

    Returns skill -> lender key, and the weekly median rate of every lender needed.
    """
    short = skills.filter(~pl.col("skill").is_in(list(own_rate)))
    category_of = dict(skills.select("skill", "category").iter_rows())
    pooled = observations.with_columns(
        skill=pl.col("skill").replace_strict(category_of, return_dtype=pl.String)
    )
    lenders = {
        skill: lender_key(category, history)
        for skill, category, history in short.select("skill", "category", "rate_basis").iter_rows()
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

    Returns skill -> lender key for each skill too young to forecast alone (a skill without
    postings is ``unseen_demand``'s), and the totals' panel, keyed ``BORROWED + category``
    (``BORROWED + MARKET`` for the market).
    """
    young = skills.filter(~pl.col("skill").is_in(list(own_demand)) & (pl.col("weeks_of_history") > 0))
    young = young.select("skill", "category")
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


@dataclass(frozen=True)
class Share:
    """A young skill's share of its lender's postings, and how many of its own postings it rests on."""

    share: float
    postings: int


def demand_shares(lenders: dict[str, str], demand: pl.DataFrame, panels: pl.DataFrame) -> dict[str, Share]:
    """A young skill's share of its category's postings over its last ``SHARE_WEEKS`` weeks: a new
    skill grows into its category, and its first weeks would hold it below where it now is."""
    lender_of = _lender_frame(lenders)
    totals = panels.select(pl.col("skill").alias("lender"), "week_start", pl.col("postings").alias("total"))
    shares = (
        demand.join(lender_of, on="skill")
        .join(totals, on=["lender", "week_start"])
        .sort("week_start")
        .group_by("skill")
        .agg(
            share=pl.col("postings").tail(SHARE_WEEKS).sum() / pl.col("total").tail(SHARE_WEEKS).sum(),
            postings=pl.col("postings").tail(SHARE_WEEKS).sum(),
        )
    )
    return {skill: Share(share, int(postings)) for skill, share, postings in shares.iter_rows()}


def borrowed_demand(
    lenders: dict[str, str], shares: dict[str, Share], calibrated: dict[tuple[str, Target], Calibrated]
) -> list[Calibrated]:
    """Each young skill's demand: its share of its lender's median, and an interval as wide as
    the lender's, the share's own uncertainty (one over the postings it rests on, on the log scale)
    and the skill's weekly counts (Poisson around that mean) make it together."""
    z = NormalDist().inv_cdf(0.5 + INTERVAL_COVERAGE / 2)
    borrowed = []
    for skill, lender in lenders.items():
        source, share = calibrated[(lender, Target.DEMAND)], shares.get(skill, Share(0.0, 0))
        p50 = source.p50 * share.share
        lender_width = np.log1p(source.p90) - np.log1p(source.p10)  # p10 to p90, log scale
        log_variance = (lender_width / (2 * z)) ** 2 + 1 / max(share.postings, 1)
        sd = np.sqrt(p50 + p50**2 * log_variance)
        p10, p90 = np.maximum(p50 - z * sd, 0.0), p50 + z * sd
        borrowed.append(Calibrated(skill, Target.DEMAND, f"{lender} scaled", p10, p50, p90, None, None))
    return borrowed


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


def unseen_demand(
    skills: pl.DataFrame, panels: pl.DataFrame, totals: list[Calibrated]
) -> tuple[list[Calibrated], list[Calibrated]]:
    """Demand of the skills without postings, and of the categories without: none expected.

    Each borrows its lender's forecast among ``totals`` (its category's, or the market's: its
    ``demand_basis``) for the top of its interval alone: p10 and p50 are 0, p90 the lender's p90
    times the largest share of the lender's postings (``panels``) that could have gone unseen.
    Returns the skills' forecasts, and those of the categories none of whose skills has postings,
    keyed ``BORROWED + category``: neither adds to any total's median.
    """
    postings = dict(panels.group_by("skill").agg(pl.col("postings").sum()).iter_rows())
    lent = {total.skill: total for total in totals}
    unseen = skills.filter(pl.col("weeks_of_history") == 0)
    seen = set(skills.filter(pl.col("weeks_of_history") > 0)["category"])
    empty = sorted(set(unseen["category"]) - seen)
    return (
        [
            _unseen(skill, lent[lender_key(category, history)], postings)
            for skill, category, history in unseen.select("skill", "category", "demand_basis").iter_rows()
        ],
        [_unseen(BORROWED + category, lent[BORROWED + MARKET], postings) for category in empty],
    )


def _unseen(key: str, lender: Calibrated, postings: dict[str, int]) -> Calibrated:
    """``key``'s forecast: none, and at most its largest unseen share of ``lender``'s p90."""
    held = postings.get(lender.skill, 0)
    share = min(1.0, UNSEEN_POSTINGS / held) if held else 1.0
    none = np.zeros_like(lender.p50)
    return replace(
        lender,
        skill=key,
        model=f"{lender.skill} unseen",
        p10=none,
        p50=none,
        p90=lender.p90 * share,
        coverage=None,
        pinball=None,
        coverage_by_bucket={},
    )
