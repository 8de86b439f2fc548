"""A seeded synthetic market of AI freelance postings, with its ground truth.

Figures it is calibrated on (public sources):

- Demand growth, year on year: AI skills +109%, others +23%; AI video generation +329%, AI
  integration +178%, data annotation +154%, chatbot development +71% (Upwork, in-demand skills
  report 2026).
- Skills that AI substitutes fell after ChatGPT's release (30 November 2022): by 20-50%
  (Teutloff et al. 2025), writing by about 30% within 8 months (Demirci et al.).
- Yearly seasonality of job postings: about -4% around New Year, +6-7% in early summer and in
  autumn, a deep dip in the Christmas weeks.
- Hourly rates: about $28/h on average worldwide, $44 in North America, $31 in Europe (Payoneer
  freelancer income report 2022); India at about a third of the US (Cavallo). About half of
  postings are hourly, as in real exports.

Assumptions of ours, not from a source: the level multipliers, the AI rate premium, the rate
trends, the share of skills that appear mid-history, and the share of secondary skills.

``country`` is the freelancer's market. The ground truth (expected weekly postings and the
market median rate per skill) is what an ideal forecaster would know; accuracy is measured on it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from gigcast.taxonomy import EXPERIENCE_LEVELS, UNCATEGORISED, SkillInfo, Taxonomy, load_taxonomy, slugify
from gigcast.weeks import monday_of
from training.data.limits import Limits


@dataclass(frozen=True)
class CategoryProfile:
    postings_per_week: float  # per skill, at the start of the history
    yearly_growth: float  # demand multiplier per year: 2.09 is +109%
    median_rate: float  # USD/h at intermediate level in the US, before the AI premium
    substituted_by_ai: float = 0.0  # share of demand lost to AI after late 2022


CATEGORIES: dict[str, CategoryProfile] = {
    "llm-apps": CategoryProfile(14, 2.09, 41),
    "chatbots": CategoryProfile(12, 1.71, 31),
    "ml-engineering": CategoryProfile(16, 1.6, 43),
    "data-annotation": CategoryProfile(10, 2.54, 12.5),
    "computer-vision": CategoryProfile(8, 1.5, 37),
    "ai-media": CategoryProfile(6, 2.09, 25),
    "mlops": CategoryProfile(6, 1.8, 48),
    "nlp": CategoryProfile(8, 1.7, 34),
    "speech-audio": CategoryProfile(6, 1.6, 26),
    "ai-research": CategoryProfile(5, 1.5, 40),
    "ai-safety": CategoryProfile(5, 2.5, 30),
    "ai-consulting": CategoryProfile(6, 1.9, 38),
    "data-science": CategoryProfile(22, 1.23, 33),
    "writing": CategoryProfile(30, 0.95, 25, substituted_by_ai=0.30),
    "translation": CategoryProfile(20, 0.95, 21, substituted_by_ai=0.35),
    "customer-service": CategoryProfile(26, 0.97, 11.5, substituted_by_ai=0.20),
    UNCATEGORISED: CategoryProfile(8, 1.23, 29),
}
SKILL_GROWTH = {
    "ai-video-generation": 4.29,
    "ai-integration": 2.78,
    "data-annotation": 2.54,
    "chatbot-development": 1.71,
}
AI_CATEGORIES = frozenset(
    {"llm-apps", "chatbots", "ml-engineering", "data-annotation", "computer-vision", "ai-media", "mlops"}
    | {"nlp", "speech-audio", "ai-research", "ai-safety", "ai-consulting"}
)
#: Markets a skill is specialised for, when a market asks for more skills than the taxonomy holds.
INDUSTRIES = (
    "Healthcare",
    "Finance",
    "E-commerce",
    "Education",
    "Real Estate",
    "Legal",
    "Gaming",
    "Logistics",
)
#: Skills that newcomers to freelancing ask about first: every market of more skills than the
#: categories with a profile holds them, right after one skill of each such category. Those of a
#: category without a profile follow the profile of the others (``UNCATEGORISED``).
COMMON_SKILLS = ("python", "javascript", "web-development", "data-entry", "graphic-design")
AI_PREMIUM = 1.25
CHATGPT_RELEASE = date(2022, 11, 30)
SUBSTITUTION_WEEKS = 35  # about 8 months for the fall to complete

LEVEL_SHARE = {"entry": 0.30, "intermediate": 0.45, "expert": 0.25}
LEVEL_MULTIPLIER = {"entry": 0.65, "intermediate": 1.0, "expert": 1.55}
#: Freelancer market: share of postings, rate multiplier against the US.
COUNTRIES: dict[str, tuple[float, float]] = {
    "US": (0.30, 1.00),
    "CA": (0.05, 0.90),
    "GB": (0.07, 0.88),
    "DE": (0.04, 0.86),
    "NL": (0.02, 0.85),
    "FR": (0.03, 0.80),
    "ES": (0.02, 0.70),
    "PL": (0.04, 0.58),
    "RO": (0.02, 0.52),
    "UA": (0.05, 0.50),
    "AU": (0.03, 0.92),
    "IN": (0.14, 0.33),
    "PK": (0.07, 0.30),
    "PH": (0.06, 0.30),
    "BD": (0.03, 0.28),
    "NG": (0.03, 0.32),
    "EG": (0.02, 0.35),
    "KE": (0.02, 0.33),
    "BR": (0.03, 0.55),
    "AR": (0.02, 0.55),
    "MX": (0.03, 0.55),
}
RATE_SIGMA = 0.35  # log-rate spread within one skill, level and country
HOURLY_SHARE = 0.5
RANGE_SHARE = 0.4  # hourly postings that give a min-max range instead of one rate
SECONDARY_SHARE = 0.3  # postings that also list a second skill of the same category
#: Skills written in another spelling of their name (its id, lower or upper case): one label still,
#: where an alias would be another, which ingestion keeps apart from the name beside it.
SPELLING_SHARE = 0.2
LATE_SKILL_SHARE = 0.08  # AI skills that appear in the last fifth of the history
MIN_RATE = Limits().min_rate  # the platform's floor, USD/h: no synthetic rate is quarantined
WEEKS_PER_YEAR = 52.18
TITLES = ("{} expert needed", "Looking for a {} freelancer", "Help with {}", "{} specialist for a project")
#: Kinds of broken rows, each with the reason ingestion must give it.
MESSY_KINDS = {
    "bad_date": "unparseable_posted_at",
    "future_date": "posted_at_in_future",
    "rate_outlier": "rate_out_of_range",
    "rate_text": "rate_not_a_number",
    "unknown_level": "unknown_experience_level",
    "no_skill": "no_skill",
    "duplicate": "duplicate_posting_id",
}


@dataclass(frozen=True)
class Outage:
    """Days on which collection stopped: the market went on, the export holds nothing of them."""

    start: date
    days: int

    def covers(self) -> pl.Expr:
        """Whether a posting's ``posted_at`` text falls on one of the outage's days."""
        day = pl.col("posted_at").str.slice(0, 10)
        last = self.start + timedelta(days=self.days - 1)
        return day.is_between(pl.lit(self.start.isoformat()), pl.lit(last.isoformat()))


class ShiftError(ValueError):
    """A regime shift the market cannot hold: a factor that is not positive, an unknown skill, a
    week outside the market."""


@dataclass(frozen=True)
class RegimeShift:
    """From the week of ``start`` on, ``skills`` change: expected demand × ``level`` × ``growth`` **
    years since ``start``, and their base hourly rate × ``rate``."""

    start: date  # any day: the shift holds from its Monday
    skills: tuple[str, ...]  # skill ids of the market
    level: float = 1.0
    growth: float = 1.0
    rate: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", monday_of(self.start))
        if isinstance(self.skills, str) or not self.skills:
            raise ShiftError("a shift names a tuple of one skill id or more")
        for name in ("level", "growth", "rate"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ShiftError(f"a shift's {name} must be positive and finite, not {value}")
        if len(set(self.skills)) < len(self.skills):
            raise ShiftError(f"a shift names a skill twice: {', '.join(self.skills)}")

    def multipliers(self, week_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weekly multipliers of expected demand and of base rate: 1 before the shift's week."""
        after = week_starts >= np.datetime64(self.start)
        years = np.maximum((week_starts - np.datetime64(self.start)).astype(int), 0) / 7 / WEEKS_PER_YEAR
        demand: np.ndarray = np.where(after, self.level * self.growth**years, 1.0)
        rate: np.ndarray = np.where(after, self.rate, 1.0)
        return demand, rate


@dataclass(frozen=True)
class Market:
    postings: pl.DataFrame  # as an export would hold them: timestamps and rates as text
    truth: pl.DataFrame  # skill, week_start, expected_postings, median_rate
    facts: dict[str, object] = field(default_factory=dict)  # multipliers, growth, messy rows


def last_complete_week_end(today: date | None = None) -> date:
    """The Sunday that closes the last full week before ``today``."""
    return monday_of(today or date.today()) - timedelta(days=1)


def seasonality(day_of_year: np.ndarray) -> np.ndarray:
    """Multiplier of postings by day of year."""

    def bump(centre: float, width: float, height: float) -> np.ndarray:
        distance = np.minimum(np.abs(day_of_year - centre), 365 - np.abs(day_of_year - centre))
        curve: np.ndarray = height * np.exp(-0.5 * (distance / width) ** 2)
        return curve

    multiplier: np.ndarray = (
        1 - bump(5, 10, 0.04) + bump(160, 25, 0.065) + bump(275, 25, 0.07) - bump(358, 4, 0.25)
    )
    return multiplier


def substitution(weeks: np.ndarray, lost: float) -> np.ndarray:
    """Demand kept by a substitutable skill: falls by ``lost`` over the months after ChatGPT."""
    since = (weeks - np.datetime64(CHATGPT_RELEASE)).astype(int) / 7
    return 1 - lost * np.clip(since / SUBSTITUTION_WEEKS, 0, 1)


def pick_skills(taxonomy: Taxonomy, count: int) -> list[SkillInfo]:
    """``count`` skills of the taxonomy, round-robin over the categories with a market profile
    first, then the others, the ``COMMON_SKILLS`` it holds after the first round; beyond the
    taxonomy, its skills specialised for an industry."""
    by_category: dict[str, list[SkillInfo]] = {}
    for skill in taxonomy.skills:
        by_category.setdefault(skill.category, []).append(skill)
    profiled = [c for c in by_category if c in CATEGORIES]
    order: list[SkillInfo] = []
    for group in (profiled, [c for c in by_category if c not in CATEGORIES]):
        queues = [list(by_category[c]) for c in group]
        while any(queues):
            order += [queue.pop(0) for queue in queues if queue]
    first, rest = order[: len(profiled)], order[len(profiled) :]
    common = [s for s in rest if s.id in COMMON_SKILLS]
    picked = [*first, *common, *(s for s in rest if s.id not in COMMON_SKILLS)][:count]
    for industry in INDUSTRIES:
        for skill in taxonomy.skills[: count - len(picked)]:
            picked.append(
                SkillInfo(
                    f"{skill.id}-for-{slugify(industry)}",
                    f"{skill.display_name} for {industry}",
                    skill.category,
                )
            )
    if len(picked) < count:
        raise ValueError(
            f"a market of {count} skills needs a taxonomy of {count // (len(INDUSTRIES) + 1) + 1} or more"
        )
    return picked


def market_median_factor(*, seed: int = 0, draws: int = 400_000) -> float:
    """Median over levels, countries and noise of the rate multiplier against (intermediate, US)."""
    rng = np.random.default_rng(seed)
    level = rng.choice(list(LEVEL_MULTIPLIER.values()), draws, p=list(LEVEL_SHARE.values()))
    shares = np.array([s for s, _ in COUNTRIES.values()])
    country = rng.choice([m for _, m in COUNTRIES.values()], draws, p=shares / shares.sum())
    return float(np.median(level * country * rng.lognormal(0.0, RATE_SIGMA, draws)))


def synthesize(
    *,
    skills: int = 100,
    weeks: int = 156,
    end: date | None = None,
    seed: int = 7,
    messy: float = 0.01,
    outages: Sequence[Outage] = (),
    shifts: Sequence[RegimeShift] = (),
    taxonomy: Taxonomy | None = None,
    launches: float = LATE_SKILL_SHARE,
) -> Market:
    """Postings of ``skills`` skills over ``weeks`` weeks ending on the Sunday ``end``.

    ``outages`` leave out the postings of their days, as a collector that stopped would.
    ``shifts`` change skills from a week on; every posting before that week is as without them.
    ``launches`` is the share of AI skills launched in the last fifth of the weeks: young series.
    """
    rng = np.random.default_rng(seed)
    end = end or last_complete_week_end()
    first_monday = monday_of(end) - timedelta(weeks=weeks - 1)
    chosen = pick_skills(taxonomy or load_taxonomy(), skills)
    _check_shifts(shifts, chosen, first_monday, monday_of(end))
    week_starts = np.array([first_monday + timedelta(weeks=w) for w in range(weeks)], dtype="datetime64[D]")
    years = np.arange(weeks) / WEEKS_PER_YEAR
    season = seasonality((week_starts - week_starts.astype("datetime64[Y]")).astype(int) + 3)
    median_factor = market_median_factor()

    expected: dict[str, np.ndarray] = {}
    base_rates: dict[str, np.ndarray] = {}
    growth_of: dict[str, float] = {}
    late: set[str] = set()
    for skill in chosen:
        profile = CATEGORIES.get(skill.category, CATEGORIES[UNCATEGORISED])
        growth = SKILL_GROWTH.get(skill.id, profile.yearly_growth) * rng.uniform(0.9, 1.1)
        growth_of[skill.id] = growth
        launch = 0
        if skill.category in AI_CATEGORIES and rng.random() < launches:
            launch = int(weeks * rng.uniform(0.8, 0.97))  # a new skill: it starts small and grows
            late.add(skill.id)
        since_launch = np.maximum(years - years[launch], 0.0)
        series = profile.postings_per_week * rng.lognormal(0.0, 0.5) * growth**since_launch * season
        series *= substitution(week_starts, profile.substituted_by_ai) * (np.arange(weeks) >= launch)
        expected[skill.id] = series
        premium = AI_PREMIUM if skill.category in AI_CATEGORIES else 1.0
        trend = (1.06 if skill.category in AI_CATEGORIES else 0.98) ** years
        base_rates[skill.id] = profile.median_rate * premium * rng.lognormal(0.0, 0.2) * trend

    # A rate shift changes base rates before drawing: the draws do not depend on them. A demand
    # shift is applied to the drawn market, from a generator of its own: the Poisson draws do.
    shifted: dict[str, np.ndarray] = {}
    for shift in shifts:
        demand, rate = shift.multipliers(week_starts)
        for skill_id in shift.skills:
            base_rates[skill_id] = base_rates[skill_id] * rate
            if shift.level != 1.0 or shift.growth != 1.0:
                shifted[skill_id] = shifted.get(skill_id, expected[skill_id]) * demand

    peers = {skill.id: _peers(skill, chosen, late) for skill in chosen}
    frames = [
        _postings_of(
            rng, index, skill, peers[skill.id], expected[skill.id], base_rates[skill.id], week_starts
        )
        for index, skill in enumerate(chosen)
    ]
    postings = pl.concat([f for f in frames if f.height]).sort("posted_at", "posting_id")
    for outage in outages:
        postings = postings.filter(~outage.covers())
    postings, messy_counts = _make_messy(rng, postings.with_columns(_at=pl.col("posted_at")), messy, end)
    if shifted:
        postings = _shift_demand(
            np.random.default_rng([seed, 1]),
            postings,
            chosen=chosen,
            peers=peers,
            expected=expected,
            shifted=shifted,
            base_rates=base_rates,
            week_starts=week_starts,
            drawn=[f.height for f in frames],
            outages=outages,
        )
        expected = {**expected, **shifted}
    postings = postings.drop("_at", "_kind", "_copy")
    truth = _truth(chosen, peers, expected, base_rates, week_starts, median_factor)
    facts = {
        "seed": seed,
        "end": end.isoformat(),
        "level_multiplier": LEVEL_MULTIPLIER,
        "country_share_and_multiplier": COUNTRIES,
        "ai_premium": AI_PREMIUM,
        "market_median_factor": median_factor,
        "yearly_growth": growth_of,
        "late_skills": sorted(late),
        "outages": [{"start": o.start.isoformat(), "days": o.days} for o in outages],
        "shifts": [
            {
                "start": s.start.isoformat(),
                "skills": list(s.skills),
                "level": s.level,
                "growth": s.growth,
                "rate": s.rate,
            }
            for s in shifts
        ],
        "messy_rows": messy_counts,
        "expected_reasons": {MESSY_KINDS[k]: n for k, n in messy_counts.items()},
    }
    return Market(postings=postings, truth=truth, facts=facts)


def write_market(market: Market, out: Path) -> tuple[Path, Path]:
    """Postings to ``out`` (.parquet or .csv); truth to ``*.truth.parquet`` and ``*.truth.json``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        market.postings.write_parquet(out)
    else:
        market.postings.write_csv(out)
    truth = out.with_name(f"{out.stem}.truth.parquet")
    market.truth.write_parquet(truth)
    facts = out.with_name(f"{out.stem}.truth.json")
    facts.write_text(json.dumps(market.facts, indent=2, sort_keys=True), encoding="utf-8")
    return truth, facts


def _check_shifts(
    shifts: Sequence[RegimeShift], chosen: list[SkillInfo], first_monday: date, last_monday: date
) -> None:
    ids = {skill.id for skill in chosen}
    for shift in shifts:
        for skill_id in shift.skills:
            if skill_id not in ids:
                raise ShiftError(f"no skill {skill_id!r} among the market's {len(ids)} skills")
        if not first_monday <= shift.start <= last_monday:
            raise ShiftError(
                f"the week of {shift.start} is outside the market's, {first_monday} to {last_monday}"
            )


def _peers(skill: SkillInfo, chosen: list[SkillInfo], late: set[str]) -> list[SkillInfo]:
    """Skills a posting of ``skill`` may list second: same category, present all along."""
    return [s for s in chosen if s.category == skill.category and s.id != skill.id and s.id not in late]


def _postings_of(
    rng: np.random.Generator,
    index: int,
    skill: SkillInfo,
    peers: list[SkillInfo],
    expected: np.ndarray,
    base_rate: np.ndarray,
    week_starts: np.ndarray,
    first: int = 0,
) -> pl.DataFrame:
    """Postings of ``skill``, Poisson draws around ``expected`` each week, numbered from ``first``."""
    counts = rng.poisson(expected)
    total = int(counts.sum())
    if total == 0:
        return pl.DataFrame()  # callers skip it
    week = np.repeat(np.arange(len(counts)), counts)
    offsets = rng.integers(0, 7 * 24 * 3600 * 1000, total).astype("timedelta64[ms]")
    posted_at = week_starts[week].astype("datetime64[ms]") + offsets
    levels = rng.choice(EXPERIENCE_LEVELS, total, p=[LEVEL_SHARE[lv] for lv in EXPERIENCE_LEVELS])
    codes = list(COUNTRIES)
    shares = np.array([COUNTRIES[c][0] for c in codes])
    countries = rng.choice(codes, total, p=shares / shares.sum())
    level_mult = np.array([LEVEL_MULTIPLIER[lv] for lv in levels])
    country_mult = np.array([COUNTRIES[c][1] for c in countries])
    rates = np.maximum(
        base_rate[week] * level_mult * country_mult * rng.lognormal(0, RATE_SIGMA, total), MIN_RATE
    )
    hourly = rng.random(total) < HOURLY_SHARE
    ranged = hourly & (rng.random(total) < RANGE_SHARE)
    half_width = np.minimum(rates * rng.uniform(0.1, 0.4, total), rates - MIN_RATE)

    names = [skill.display_name, skill.id, skill.display_name.lower(), skill.display_name.upper()]
    written = np.where(rng.random(total) < SPELLING_SHARE, rng.choice(names, total), skill.display_name)
    second = rng.random(total) < SECONDARY_SHARE if peers else np.zeros(total, dtype=bool)
    peer_names = [p.display_name for p in peers]
    tags = [f"{w};{rng.choice(peer_names)}" if s else str(w) for w, s in zip(written, second, strict=True)]
    titles = [TITLES[t].format(skill.display_name) for t in rng.integers(0, len(TITLES), total)]
    return pl.DataFrame(
        {
            "posting_id": [f"s{index:05d}-{n:07d}" for n in range(first, first + total)],
            "posted_at": posted_at,
            "title": titles,
            "skills": tags,
            "category": skill.category,
            "is_hourly": hourly,
            "hourly_rate": np.where(hourly & ~ranged, np.round(rates, 2), np.nan),
            "hourly_rate_min": np.where(ranged, np.round(rates - half_width, 2), np.nan),
            "hourly_rate_max": np.where(ranged, np.round(rates + half_width, 2), np.nan),
            "budget_usd": np.where(
                hourly, np.nan, np.maximum(np.round(rates * rng.lognormal(3, 0.8, total), -1), 5)
            ),
            "experience_level": levels,
            "country": countries,
        }
    ).with_columns(
        pl.col("posted_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        *(
            pl.col(c).fill_nan(None).cast(pl.String)
            for c in ("hourly_rate", "hourly_rate_min", "hourly_rate_max")
        ),
        pl.col("budget_usd").fill_nan(None),
    )


def _make_messy(
    rng: np.random.Generator, postings: pl.DataFrame, share: float, end: date
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Break ``share`` of the rows in the ways real exports are broken, one known way each.

    ``_kind`` names each broken row's way (both rows of a duplicated pair: ``_copy`` marks the later),
    for the caller to drop.
    """
    count = int(postings.height * share)
    if count == 0:
        return postings.with_columns(_kind=pl.lit(None, pl.String), _copy=pl.lit(False)), {}
    rows = rng.choice(postings.height, count, replace=False)
    kinds = rng.choice(list(MESSY_KINDS), count)
    broken = postings.with_row_index("_row").with_columns(
        _kind=pl.col("_row").replace_strict(
            dict(zip(rows.tolist(), kinds.tolist(), strict=True)), default=None
        )
    )
    kind = pl.col("_kind")
    future = (end + timedelta(days=400)).isoformat() + "T12:00:00Z"
    broken = broken.with_columns(
        posted_at=pl.when(kind == "bad_date")
        .then(pl.lit("31/02/2026 25:61"))
        .when(kind == "future_date")
        .then(pl.lit(future))
        .otherwise("posted_at"),
        hourly_rate=pl.when(kind == "rate_outlier")
        .then(pl.lit("2500"))
        .when(kind == "rate_text")
        .then(pl.lit("negotiable"))
        .otherwise("hourly_rate"),
        hourly_rate_min=pl.when(kind.is_in(["rate_outlier", "rate_text"]))
        .then(None)
        .otherwise("hourly_rate_min"),
        hourly_rate_max=pl.when(kind.is_in(["rate_outlier", "rate_text"]))
        .then(None)
        .otherwise("hourly_rate_max"),
        experience_level=pl.when(kind == "unknown_level").then(pl.lit("guru")).otherwise("experience_level"),
        skills=pl.when(kind == "no_skill").then(pl.lit("")).otherwise("skills"),
        title=pl.when(kind == "no_skill").then(pl.lit("Quick task, details in chat")).otherwise("title"),
    )
    copies = broken.filter(kind == "duplicate")  # a later copy of a clean row: the copy is quarantined
    combined = pl.concat([broken.with_columns(_copy=False), copies.with_columns(_copy=True)]).drop("_row")
    counts = dict(zip(*np.unique(kinds, return_counts=True), strict=True))
    return combined, {str(k): int(v) for k, v in counts.items()}


def _shift_demand(
    rng: np.random.Generator,
    postings: pl.DataFrame,
    *,
    chosen: list[SkillInfo],
    peers: dict[str, list[SkillInfo]],
    expected: dict[str, np.ndarray],
    shifted: dict[str, np.ndarray],
    base_rates: dict[str, np.ndarray],
    week_starts: np.ndarray,
    drawn: list[int],
    outages: Sequence[Outage],
) -> pl.DataFrame:
    """Each shifted skill's own postings as Poisson draws around ``shifted``: where it is below
    ``expected``, each kept with probability shifted / expected; where above, the difference drawn
    anew. Broken rows and duplicated pairs are all kept, so their reasons still hold."""
    index_of = {skill.id: index for index, skill in enumerate(chosen)}
    keep = pl.concat(
        pl.DataFrame(
            {
                "_own": f"s{index_of[skill_id]:05d}-",  # as _postings_of numbers them
                "_week": np.arange(len(week_starts)),
                "_keep": np.divide(
                    series, expected[skill_id], out=np.ones(len(series)), where=series < expected[skill_id]
                ),
            }
        )
        for skill_id, series in shifted.items()
    )
    first_monday = pl.lit(week_starts[0].item())
    week = (pl.col("_at").str.slice(0, 10).str.to_date() - first_monday).dt.total_days() // 7
    kept = (
        postings.with_columns(
            _own=pl.col("posting_id").str.slice(0, 7), _week=week, _draw=rng.random(postings.height)
        )
        .join(keep, on=["_own", "_week"], how="left")
        .filter(pl.col("_kind").is_not_null() | (pl.col("_draw") < pl.col("_keep").fill_null(1.0)))
        .select(postings.columns)
    )
    added = []
    for skill_id, series in shifted.items():
        index = index_of[skill_id]
        more = _postings_of(
            rng,
            index,
            chosen[index],
            peers[skill_id],
            np.maximum(series - expected[skill_id], 0.0),
            base_rates[skill_id],
            week_starts,
            first=drawn[index],
        )
        if more.is_empty():
            continue
        for outage in outages:
            more = more.filter(~outage.covers())
        added.append(more.with_columns(_at=pl.col("posted_at"), _kind=pl.lit(None, pl.String), _copy=False))
    # as before: by the time first posted, duplicated copies last
    return pl.concat([kept, *(a.select(postings.columns) for a in added)]).sort(
        "_copy", "_at", "posting_id", maintain_order=True
    )


def _truth(
    chosen: list[SkillInfo],
    peers: dict[str, list[SkillInfo]],
    expected: dict[str, np.ndarray],
    base_rates: dict[str, np.ndarray],
    week_starts: np.ndarray,
    median_factor: float,
) -> pl.DataFrame:
    """Expected weekly postings of each skill (its own and as a secondary tag) and market median."""
    listed = {skill.id: expected[skill.id].copy() for skill in chosen}
    for skill in chosen:
        for peer in peers[skill.id]:
            listed[peer.id] += expected[skill.id] * SECONDARY_SHARE / len(peers[skill.id])
    return pl.concat(
        pl.DataFrame(
            {
                "skill": skill.id,
                "week_start": week_starts,
                "expected_postings": listed[skill.id],
                "median_rate": base_rates[skill.id] * median_factor,
            }
        )
        for skill in chosen
    ).with_columns(pl.col("week_start").cast(pl.Date))
