"""A seeded synthetic market of AI freelance postings.

Shapes follow public figures on freelance AI work: AI skills growing fast year on year
(Upwork's in-demand skills report: AI skills +109%, AI video generation +329%, data annotation
+154%, chatbot development +71%), skills that AI substitutes shrinking after late 2022 (writing
about -30%, Demirci et al.), yearly seasonality of job postings (a dip around New Year and
Christmas, bumps in early summer and autumn), and hourly rates lognormal around category levels
(global freelance average about $28/h, Payoneer 2022) moved by level and country multipliers
(India about a third of the US).

``country`` is the freelancer's market. Every row is a posting; about half are hourly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from gigcast.taxonomy import EXPERIENCE_LEVELS, SkillInfo, Taxonomy, load_taxonomy
from gigcast.weeks import monday_of


@dataclass(frozen=True)
class CategoryProfile:
    postings_per_week: float  # per skill, at the start of the history
    yearly_growth: float  # demand multiplier per year, e.g. 2.09 for +109%
    median_rate: float  # USD/h, intermediate level, US market


CATEGORIES: dict[str, CategoryProfile] = {
    "llm-apps": CategoryProfile(14, 2.09, 58),
    "chatbots": CategoryProfile(12, 1.71, 42),
    "ml-engineering": CategoryProfile(16, 1.35, 62),
    "data-annotation": CategoryProfile(10, 2.54, 17),
    "computer-vision": CategoryProfile(8, 1.30, 52),
    "ai-media": CategoryProfile(6, 2.6, 36),
    "mlops": CategoryProfile(6, 1.6, 68),
    "data-science": CategoryProfile(22, 1.23, 40),
    "writing": CategoryProfile(30, 0.78, 30),
    "translation": CategoryProfile(20, 0.8, 26),
    "customer-service": CategoryProfile(26, 0.85, 13),
    "other": CategoryProfile(8, 1.1, 35),
}

LEVEL_SHARE = {"entry": 0.3, "intermediate": 0.45, "expert": 0.25}
LEVEL_MULTIPLIER = {"entry": 0.65, "intermediate": 1.0, "expert": 1.55}

#: Freelancer market: share of postings and rate multiplier against the US.
COUNTRIES: dict[str, tuple[float, float]] = {
    "US": (0.30, 1.00),
    "GB": (0.07, 0.88),
    "CA": (0.05, 0.90),
    "AU": (0.03, 0.92),
    "DE": (0.04, 0.86),
    "FR": (0.03, 0.80),
    "NL": (0.02, 0.85),
    "PL": (0.04, 0.58),
    "UA": (0.05, 0.50),
    "RO": (0.02, 0.52),
    "IN": (0.14, 0.33),
    "PK": (0.07, 0.30),
    "PH": (0.06, 0.30),
    "BD": (0.03, 0.28),
    "NG": (0.03, 0.32),
    "EG": (0.02, 0.35),
    "KE": (0.02, 0.33),
    "BR": (0.03, 0.45),
    "AR": (0.02, 0.45),
    "MX": (0.03, 0.48),
    "ES": (0.02, 0.70),
}

HOURLY_SHARE = 0.5
MIN_RATE = 3.0  # the platform floor, USD/h
RATE_SIGMA = 0.35  # spread of log rates within a skill, level and country
AI_CATEGORIES = frozenset(
    {"llm-apps", "chatbots", "ml-engineering", "data-annotation", "computer-vision", "ai-media", "mlops"}
)


def last_complete_week_end(today: date | None = None) -> date:
    """The Sunday that closes the last full week before ``today``."""
    return monday_of(today or date.today()) - timedelta(days=1)


def seasonality(day_of_year: np.ndarray) -> np.ndarray:
    """Multiplier of postings by day of year: New Year and Christmas dips, summer/autumn bumps."""

    def bump(centre: float, width: float, height: float) -> np.ndarray:
        distance = np.minimum(np.abs(day_of_year - centre), 365 - np.abs(day_of_year - centre))
        return height * np.exp(-0.5 * (distance / width) ** 2)

    return 1 - bump(5, 10, 0.04) + bump(160, 25, 0.065) + bump(275, 25, 0.07) - bump(358, 4, 0.25)


def pick_skills(taxonomy: Taxonomy, count: int) -> list[SkillInfo]:
    """``count`` skills taken round-robin over categories; beyond the taxonomy, niche variants."""
    by_category: dict[str, list[SkillInfo]] = {}
    for skill in taxonomy.skills:
        by_category.setdefault(skill.category, []).append(skill)
    picked: list[SkillInfo] = []
    queues = [list(skills) for skills in by_category.values()]
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    categories = list(by_category)
    for n in range(count - len(picked)):
        category = categories[n % len(categories)]
        skill_id = f"{category}-niche-{n + 1}"
        picked.append(SkillInfo(skill_id, f"{category.replace('-', ' ').title()} Niche {n + 1}", category))
    return picked


def synthesize(
    *,
    skills: int = 100,
    weeks: int = 156,
    end: date | None = None,
    seed: int = 7,
    taxonomy: Taxonomy | None = None,
) -> pl.DataFrame:
    """Postings of ``skills`` skills over ``weeks`` weeks ending on the Sunday ``end``."""
    rng = np.random.default_rng(seed)
    end = end or last_complete_week_end()
    first_monday = monday_of(end) - timedelta(weeks=weeks - 1)
    chosen = pick_skills(taxonomy or load_taxonomy(), skills)
    week_starts = np.array([first_monday + timedelta(weeks=w) for w in range(weeks)], dtype="datetime64[D]")
    years = np.arange(weeks) / 52.18
    season = seasonality((week_starts - week_starts.astype("datetime64[Y]")).astype(int) + 3)
    frames = []
    for index, skill in enumerate(chosen):
        profile = CATEGORIES.get(skill.category, CATEGORIES["other"])
        base = profile.postings_per_week * rng.lognormal(0.0, 0.5)
        growth = profile.yearly_growth ** (years * rng.uniform(0.7, 1.3))
        expected = base * growth * season
        if skill.category in AI_CATEGORIES and rng.random() < 0.08:
            launch = int(weeks * rng.uniform(0.8, 0.97))
            expected[:launch] = 0.0
        counts = rng.poisson(expected)
        total = int(counts.sum())
        if total == 0:
            continue
        week_of_row = np.repeat(np.arange(weeks), counts)
        seconds = rng.integers(0, 7 * 24 * 3600, total)
        posted_at = week_starts[week_of_row].astype("datetime64[ms]") + (seconds * 1000).astype(
            "timedelta64[ms]"
        )
        levels = rng.choice(EXPERIENCE_LEVELS, total, p=[LEVEL_SHARE[lv] for lv in EXPERIENCE_LEVELS])
        country_codes = list(COUNTRIES)
        shares = np.array([COUNTRIES[c][0] for c in country_codes])
        countries = rng.choice(country_codes, total, p=shares / shares.sum())
        skill_rate = profile.median_rate * rng.lognormal(0.0, 0.2)
        rate_trend = (1.06 if skill.category in AI_CATEGORIES else 0.98) ** years[week_of_row]
        level_mult = np.vectorize(LEVEL_MULTIPLIER.__getitem__)(levels)
        country_mult = np.vectorize(lambda c: COUNTRIES[c][1])(countries)
        noise = rng.lognormal(0.0, RATE_SIGMA, total)
        rates = np.maximum(skill_rate * rate_trend * level_mult * country_mult * noise, MIN_RATE)
        hourly = rng.random(total) < HOURLY_SHARE
        budget = np.round(rates * rng.lognormal(3.0, 0.8, total), -1)
        frames.append(
            pl.DataFrame(
                {
                    "posting_id": [f"s{index:05d}-{n:07d}" for n in range(total)],
                    "posted_at": posted_at,
                    "title": f"{skill.display_name} freelancer needed",
                    "skills": skill.display_name,
                    "category": skill.category,
                    "is_hourly": hourly,
                    "hourly_rate": np.where(hourly, np.round(rates, 2), np.nan),
                    "budget_usd": np.where(hourly, np.nan, np.maximum(budget, 5.0)),
                    "experience_level": levels,
                    "country": countries,
                }
            )
        )
    postings = pl.concat(frames).with_columns(
        pl.col("posted_at").dt.replace_time_zone("UTC"),
        pl.col("hourly_rate").fill_nan(None),
        pl.col("budget_usd").fill_nan(None),
    )
    return postings.sort("posted_at", "posting_id")


def synthesized_at(end: date) -> datetime:
    """When a synthetic export would have been taken: the Monday after its last week."""
    return datetime.combine(end + timedelta(days=1), datetime.min.time())
