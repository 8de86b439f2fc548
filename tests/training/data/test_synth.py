from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from gigcast.taxonomy import Taxonomy
from training.data.synth import (
    COMMON_SKILLS,
    COUNTRIES,
    SECONDARY_SHARE,
    Market,
    RegimeShift,
    ShiftError,
    pick_skills,
    synthesize,
    write_market,
)

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


def test_the_default_market_holds_the_skills_newcomers_ask_first(
    taxonomy: Taxonomy, default_market: pl.DataFrame
) -> None:
    """Beside the AI skills: a market of one skill per profiled category and five more holds them."""
    assert set(COMMON_SKILLS) <= {skill.id for skill in pick_skills(taxonomy, 21)}
    named = set(default_market["skills"].str.split(";").explode().str.to_lowercase())
    for skill in map(taxonomy.get, COMMON_SKILLS):  # ids of the taxonomy, written as postings name them
        assert {skill.id, skill.display_name.lower()} & named, skill.id


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


SHIFT_WEEK = date(2026, 8, 3)  # week 15 of the 30 that end on END
SHIFTS = (
    RegimeShift(start=date(2026, 8, 5), skills=("prompt-engineering",), level=0.3),  # a Wednesday
    RegimeShift(start=SHIFT_WEEK, skills=("machine-learning",), rate=1.5),
    RegimeShift(start=SHIFT_WEEK, skills=("data-annotation",), level=2.0, growth=1.5),
)
UNSHIFTED = ("chatbot-development", "computer-vision", "ai-video-generation")
AFTER = pl.col("posted_at") >= SHIFT_WEEK.isoformat()


def six_skills(*, messy: float, shifts: tuple[RegimeShift, ...] = ()) -> Market:
    return synthesize(skills=6, weeks=30, end=END, seed=4, messy=messy, shifts=shifts)


def own(postings: pl.DataFrame, skill: str, taxonomy: Taxonomy) -> pl.DataFrame:
    """The postings drawn for ``skill`` (their ids carry its place in the market), from the shift on."""
    index = [s.id for s in pick_skills(taxonomy, 6)].index(skill)
    return postings.filter(AFTER & pl.col("posting_id").str.starts_with(f"s{index:05d}-"))


def hourly_rates(postings: pl.DataFrame) -> pl.Series:
    low, high = pl.col("hourly_rate_min").cast(pl.Float64), pl.col("hourly_rate_max").cast(pl.Float64)
    rate = pl.coalesce(pl.col("hourly_rate").cast(pl.Float64), (low + high) / 2)
    return postings.select(rate=rate).drop_nulls()["rate"]


@pytest.fixture(scope="module")
def clean_pair() -> tuple[Market, Market]:
    return six_skills(messy=0.0), six_skills(messy=0.0, shifts=SHIFTS)


@pytest.fixture(scope="module")
def messy_pair() -> tuple[Market, Market]:
    return six_skills(messy=0.05), six_skills(messy=0.05, shifts=SHIFTS)


def test_no_shift_is_the_market_made_without_the_argument() -> None:
    without = six_skills(messy=0.05)
    with_none = synthesize(skills=6, weeks=30, end=END, seed=4, messy=0.05, shifts=())
    assert with_none.postings.equals(without.postings) and with_none.truth.equals(without.truth)
    assert with_none.facts == without.facts and without.facts["shifts"] == []
    nothing = RegimeShift(start=SHIFT_WEEK, skills=("machine-learning",))  # every factor 1
    same = six_skills(messy=0.05, shifts=(nothing,))
    assert same.postings.equals(without.postings) and same.truth.equals(without.truth)


def test_a_shift_leaves_every_posting_before_its_week_as_it_was(messy_pair: tuple[Market, Market]) -> None:
    unshifted, shifted = messy_pair
    assert shifted.postings.schema == unshifted.postings.schema
    before = ~AFTER
    assert shifted.postings.filter(before).height > 1000
    assert shifted.postings.filter(before).equals(unshifted.postings.filter(before))  # broken rows too
    assert not shifted.postings.filter(AFTER).equals(unshifted.postings.filter(AFTER))
    assert shifted.facts["messy_rows"] == unshifted.facts["messy_rows"]


def test_a_shift_changes_its_skills_only_and_the_way_asked(
    clean_pair: tuple[Market, Market], taxonomy: Taxonomy
) -> None:
    unshifted, shifted = clean_pair
    for skill in UNSHIFTED:
        assert own(shifted.postings, skill, taxonomy).equals(own(unshifted.postings, skill, taxonomy))

    # level 0.3: each posting kept with probability 0.3, a binomial draw of the unshifted ones
    was, now = (own(m.postings, "prompt-engineering", taxonomy) for m in clean_pair)
    assert was.filter(pl.col("posting_id").is_in(now["posting_id"].implode())).equals(now)  # a subset
    assert abs(now.height - 0.3 * was.height) <= 4 * (was.height * 0.3 * 0.7) ** 0.5
    assert was.height > 150

    # level 2 growing 1.5-fold a year: every unshifted posting stays, the extra ones are Poisson draws
    was, now = (own(m.postings, "data-annotation", taxonomy) for m in clean_pair)
    assert now.filter(pl.col("posting_id").is_in(was["posting_id"].implode())).equals(was)
    truth = [
        m.truth.filter((pl.col("skill") == "data-annotation") & (pl.col("week_start") >= SHIFT_WEEK))
        for m in clean_pair
    ]
    extra = truth[1]["expected_postings"].sum() - truth[0]["expected_postings"].sum()
    assert extra > 0.9 * truth[0]["expected_postings"].sum()
    assert abs(now.height - was.height - extra) <= 4 * extra**0.5
    assert shifted.postings["posting_id"].is_unique().all()  # the extra ones take new ids

    # rate 1.5: the same postings, their hourly rates half as high again
    was, now = (own(m.postings, "machine-learning", taxonomy) for m in clean_pair)
    rate_columns = ["hourly_rate", "hourly_rate_min", "hourly_rate_max", "budget_usd"]
    assert now.drop(rate_columns).equals(was.drop(rate_columns))
    assert hourly_rates(now).median() == pytest.approx(1.5 * hourly_rates(was).median(), rel=0.01)


def test_the_truth_follows_the_shift(clean_pair: tuple[Market, Market]) -> None:
    unshifted, shifted = clean_pair
    after = pl.col("week_start") >= SHIFT_WEEK
    assert shifted.truth.filter(~after).equals(unshifted.truth.filter(~after))
    both = shifted.truth.join(unshifted.truth, on=["skill", "week_start"], suffix="_was").filter(after)
    ratio = both.select(
        "skill",
        weeks=(pl.col("week_start") - SHIFT_WEEK).dt.total_days() // 7,
        demand=pl.col("expected_postings") / pl.col("expected_postings_was"),
        rate=pl.col("median_rate") / pl.col("median_rate_was"),
    )

    def of(skill: str, column: str) -> list[float]:
        return ratio.filter(pl.col("skill") == skill)[column].to_list()

    weeks = ratio.filter(pl.col("skill") == "data-annotation")["weeks"].to_numpy()
    assert of("prompt-engineering", "demand") == pytest.approx([0.3] * 15)
    assert of("data-annotation", "demand") == pytest.approx(2.0 * 1.5 ** (weeks / 52.18))
    assert of("machine-learning", "rate") == pytest.approx([1.5] * 15)
    assert of("machine-learning", "demand") == pytest.approx([1.0] * 15)
    for skill in UNSHIFTED:
        assert of(skill, "demand") == pytest.approx([1.0] * 15) and of(skill, "rate") == pytest.approx(
            [1.0] * 15
        )
    assert shifted.facts["shifts"][0] == {
        "start": "2026-08-03",
        "skills": ["prompt-engineering"],
        "level": 0.3,
        "growth": 1.0,
        "rate": 1.0,
    }


def test_observed_demand_of_a_shifted_market_matches_its_truth(tmp_path: Path, taxonomy: Taxonomy) -> None:
    """Own postings and mentions as a second skill: prompt engineering's fall thins its peer's too."""
    from training.data.ingest import ingest
    from training.data.panels import demand_panel

    shifts = (
        RegimeShift(start=SHIFT_WEEK, skills=("prompt-engineering",), level=0.3),
        RegimeShift(start=SHIFT_WEEK, skills=("data-annotation",), level=2.0, growth=1.5),
    )
    unshifted = synthesize(skills=30, weeks=30, end=END, seed=9, messy=0.0)
    market = synthesize(skills=30, weeks=30, end=END, seed=9, messy=0.0, shifts=shifts)
    market.postings.write_parquet(tmp_path / "m.parquet")
    observed = demand_panel(ingest([tmp_path / "m.parquet"], taxonomy=taxonomy).accepted)
    after = pl.col("week_start") >= SHIFT_WEEK
    both = observed.join(market.truth, on=["skill", "week_start"], how="full", coalesce=True).filter(after)
    totals = both.group_by("skill").agg(
        observed=pl.col("postings").fill_null(0).sum(),
        expected=pl.col("expected_postings").fill_null(0).sum(),
    )
    assert ((totals["observed"] - totals["expected"]).abs() <= 4 * totals["expected"].sqrt()).all()

    def change(skill: str) -> float:
        return float(
            sum(
                sign * m.truth.filter(after & (pl.col("skill") == skill))["expected_postings"].sum()
                for sign, m in ((1, market), (-1, unshifted))
            )
        )

    # each is its shifted peer's one peer: it is the second skill of SECONDARY_SHARE of its postings
    assert change("prompt-engineering") < 0 < change("data-annotation")
    assert change("llm-fine-tuning") == pytest.approx(SECONDARY_SHARE * change("prompt-engineering"))
    assert change("data-labeling") == pytest.approx(SECONDARY_SHARE * change("data-annotation"))


def test_broken_rows_of_a_shifted_market_get_their_reasons(
    messy_pair: tuple[Market, Market], tmp_path: Path, taxonomy: Taxonomy
) -> None:
    from datetime import UTC, datetime

    from training.data.ingest import ingest

    shifted = messy_pair[1]
    write_market(shifted, tmp_path / "m.csv")
    result = ingest([tmp_path / "m.csv"], taxonomy=taxonomy, now=datetime(2026, 11, 25, tzinfo=UTC))
    assert result.rows == shifted.postings.height
    assert result.reasons() == dict(
        sorted(shifted.facts["expected_reasons"].items(), key=lambda kv: (-kv[1], kv[0]))
    )
    assert json.loads((tmp_path / "m.truth.json").read_text())["shifts"][1]["rate"] == 1.5


@pytest.mark.parametrize(
    ("start", "skill", "message"),
    [
        (SHIFT_WEEK, "rag", "no skill 'rag' among the market's 6 skills"),
        (
            date(2026, 4, 19),
            "machine-learning",
            "the week of 2026-04-13 is outside the market's, 2026-04-20 to",
        ),
        (date(2026, 11, 16), "machine-learning", "the week of 2026-11-16 is outside"),
    ],
)
def test_a_shift_the_market_cannot_hold_is_refused(start: date, skill: str, message: str) -> None:
    with pytest.raises(ShiftError, match=message):
        six_skills(messy=0.0, shifts=(RegimeShift(start=start, skills=(skill,), level=2.0),))
    six_skills(messy=0.0, shifts=(RegimeShift(start=date(2026, 11, 15), skills=("machine-learning",)),))


@pytest.mark.parametrize(
    ("factors", "message"),
    [
        ({"level": 0.0}, "level must be positive and finite, not 0.0"),
        ({"growth": -1.5}, "growth must be positive"),
        ({"rate": float("inf")}, "rate must be positive and finite, not inf"),
        ({"level": float("nan")}, "level must be positive"),
        ({"skills": ()}, "one skill id or more"),
        ({"skills": "rag"}, "one skill id or more"),
        ({"skills": ("rag", "rag")}, "a skill twice"),
    ],
)
def test_a_shift_with_a_bad_factor_is_refused(factors: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RegimeShift(**{"start": SHIFT_WEEK, "skills": ("rag",), **factors})  # type: ignore[arg-type]
