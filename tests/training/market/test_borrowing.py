from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from gigcast.bundle import MARKET, History, Target
from training.forecasting.calibrate import Calibrated
from training.market.borrowing import BORROWED, UNSEEN_POSTINGS, history_of, lender_key, unseen_demand

#: Two categories with postings (one of them without rates), one without: a skill of each kind.
SKILLS = pl.DataFrame(
    {
        "skill": ["rag", "langchain", "sql", "python", "figma"],
        "category": ["llm", "llm", "data", "data", "design"],
        "weeks_of_history": [30, 0, 30, 5, 0],
        "rate_observations": [200, 0, 0, 0, 0],
    }
)


def test_a_skill_borrows_its_categorys_history_while_the_category_has_data_else_the_markets() -> None:
    own = pl.col("skill") == "rag"
    table = SKILLS.with_columns(
        demand_basis=history_of(own, pl.col("weeks_of_history")),
        rate_basis=history_of(own, pl.col("rate_observations")),
    )
    bases = {skill: (demand, rate) for skill, demand, rate in table.select("skill", "^.*_basis$").iter_rows()}
    assert bases == {
        "rag": (History.SKILL, History.SKILL),
        "langchain": (History.CATEGORY, History.CATEGORY),
        "sql": (History.CATEGORY, History.MARKET),
        "python": (History.CATEGORY, History.MARKET),
        "figma": (History.MARKET, History.MARKET),
    }
    assert [lender_key(c, h) for c, h in [("llm", History.CATEGORY), ("design", History.MARKET)]] == [
        BORROWED + "llm",
        BORROWED + MARKET,
    ]


@pytest.mark.parametrize("postings", [50, 500, 50_000])
def test_an_unseen_share_is_one_that_every_posting_would_miss_one_time_in_ten(postings: int) -> None:
    share = UNSEEN_POSTINGS / postings
    assert (1 - share) ** postings == pytest.approx(0.1, rel=0.06)  # the binomial chance of no posting at all


def test_a_skill_without_postings_expects_none_and_reaches_its_unseen_share_of_its_lender() -> None:
    skills = SKILLS.with_columns(
        demand_basis=history_of(pl.col("weeks_of_history") >= 12, pl.col("weeks_of_history"))
    )
    panels = pl.DataFrame(
        {
            "skill": [BORROWED + "llm", BORROWED + "data", BORROWED + MARKET],
            "week_start": [None, None, None],
            "postings": [400, 100, 500],
        }
    )
    weeks = np.arange(1.0, 5.0)
    totals = [
        Calibrated(key, Target.DEMAND, "AutoETS", 5 * weeks, 10 * weeks, 20 * weeks, 0.8, 1.0)
        for key in (BORROWED + MARKET, BORROWED + "llm", BORROWED + "data")
    ]
    skill_forecasts, category_totals = unseen_demand(skills, panels, totals)
    langchain, figma = skill_forecasts  # the skills without postings: the others are fitted or young
    assert (langchain.skill, figma.skill) == ("langchain", "figma")
    for forecast, postings in ((langchain, 400), (figma, 500)):
        assert not forecast.p10.any() and not forecast.p50.any()
        np.testing.assert_allclose(forecast.p90, 20 * weeks * UNSEEN_POSTINGS / postings)
    assert langchain.model == "category:llm unseen" and figma.model == "category:* unseen"
    (design,) = category_totals  # the category without postings: its total is none too
    assert design.skill == BORROWED + "design" and not design.p50.any()
    np.testing.assert_allclose(design.p90, figma.p90)
