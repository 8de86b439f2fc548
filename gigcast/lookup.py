"""Answers from a forecast bundle, held in plain dicts so that each one costs microseconds.

The service wraps these in protobuf; notebooks reach them through the pyfunc model. Nothing
here fits or reads files: an index is built once from a checked bundle.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from statistics import NormalDist
from typing import Literal

import polars as pl

from gigcast.bundle import MARKET, Bundle, PremiumKind
from gigcast.names import NameResolver
from gigcast.query import ExperienceLevel
from gigcast.weeks import monday_of

__all__ = [
    "Basis",
    "BasisSource",
    "DemandPoint",
    "ForecastIndex",
    "RateEstimate",
    "SkillEntry",
    "WeekOutOfRangeError",
]


@dataclass(frozen=True, slots=True)
class SkillEntry:
    skill: str
    display_name: str
    category: str
    aliases: list[str]
    weeks_of_history: int
    postings: int
    rate_observations: int
    demand_basis: str
    rate_basis: str
    demand_model: str
    rate_model: str


# Values made on every request are plain slotted dataclasses: a frozen one costs a microsecond more.
#: Rates a skill, or a skill at a level, needs before its basis names it as what answered. Below
#: that its estimate still counts, as much as its observations allow, but mostly follows the cell above.
MIN_CELL_OBSERVATIONS = 5
#: Standard normal quantiles of the percentiles answered, for spreads on the log scale.
Z = {q: NormalDist().inv_cdf(q / 100) for q in (10, 25, 75, 90)}


#: Where a country's premium comes from: its own rates, or its region's when it has none.
PremiumSlice = Literal["country", "region"]


class BasisSource(StrEnum):
    """The slice of the data that answered: the skill's own history, moved by the level's cell
    and by the country's premium (or its region's), or its category's history scaled to the skill.
    """

    SKILL_LEVEL_COUNTRY = "skill_level_country"
    SKILL_LEVEL_REGION = "skill_level_region"
    SKILL_LEVEL = "skill_level"
    SKILL_COUNTRY = "skill_country"
    SKILL_REGION = "skill_region"
    SKILL = "skill"
    CATEGORY = "category"

    @classmethod
    def of_skill(cls, *, level: bool, place: PremiumSlice | None) -> BasisSource:
        """The skill's own history, moved by a level's cell when ``level``, and by a country's
        or region's premium when ``place`` names one."""
        return _SKILL_SOURCES[level, place]


_SKILL_SOURCES: dict[tuple[bool, PremiumSlice | None], BasisSource] = {
    (True, "country"): BasisSource.SKILL_LEVEL_COUNTRY,
    (True, "region"): BasisSource.SKILL_LEVEL_REGION,
    (True, None): BasisSource.SKILL_LEVEL,
    (False, "country"): BasisSource.SKILL_COUNTRY,
    (False, "region"): BasisSource.SKILL_REGION,
    (False, None): BasisSource.SKILL,
}


@dataclass(slots=True)
class Basis:
    """Which slice of the data answered, how much data it holds, and how fresh it is."""

    source: BasisSource
    weeks_of_history: int
    observations: int
    description: str
    data_as_of: date
    model: str = ""


@dataclass(frozen=True, slots=True)
class Cell:
    """A skill at a level (or any level): its median over the skill's, and the spread around it."""

    factor: float
    log_sd: float
    observations: int


@dataclass(slots=True)
class RateEstimate:
    skill: str
    week_start: date
    level: ExperienceLevel | None
    country: str | None
    p10: float
    p25: float
    p50: float
    p75: float
    p90: float
    lower: float
    upper: float
    coverage: float
    basis: Basis


@dataclass(slots=True)
class DemandPoint:
    week_start: date
    p10: float
    p50: float
    p90: float


@dataclass(frozen=True, slots=True)
class Premium:
    """A country's factor on the market median, the slice it comes from, and how a basis reads it."""

    factor: float
    slice: PremiumSlice
    note: str


class WeekOutOfRangeError(ValueError):
    """A week outside the forecast horizon."""


class ForecastIndex:
    """Every table of a bundle, keyed for direct lookup."""

    def __init__(self, bundle: Bundle) -> None:
        manifest = bundle.manifest
        self.manifest = manifest
        self.targets = frozenset(manifest.targets)
        self.coverage = manifest.interval_coverage
        self.weeks = tuple(
            manifest.first_forecast_week + timedelta(weeks=i) for i in range(manifest.horizon_weeks)
        )
        self._week_index = {week: i for i, week in enumerate(self.weeks)}
        self.skills = {
            row["skill"]: SkillEntry(**row) for row in bundle.skills.sort("skill").iter_rows(named=True)
        }
        self.names = NameResolver((e.skill, (e.display_name, *e.aliases)) for e in self.skills.values())
        self._demand = _series(bundle.demand, ("p10", "p50", "p90"))
        self._totals = _series(bundle.demand_totals.rename({"category": "skill"}), ("p10", "p50", "p90"))
        #: Skills per category id, categories in order.
        self.category_sizes = dict(sorted(Counter(e.category for e in self.skills.values()).items()))
        self._rates = _series(bundle.rates, ("p50", "lower", "upper"))
        self._cells = {
            (skill, level): Cell(math.exp(log_premium), log_sd, observations)
            for skill, level, log_premium, log_sd, observations in bundle.rate_cells.iter_rows()
        }
        countries = bundle.premiums.filter(pl.col("kind") == PremiumKind.COUNTRY.value)
        self._countries = {
            key: _country_premium(key, log_premium, observations)
            for key, log_premium, observations in countries.select(
                "key", "log_premium", "observations"
            ).iter_rows()
        }
        self._rate_history = {
            entry.skill: (
                f"category {entry.category}, scaled to the skill"
                if entry.rate_basis == "category"
                else "own history"
            )
            + f", {entry.weeks_of_history} weeks"
            for entry in self.skills.values()
        }
        self._share = {(skill, country): share for skill, country, share in bundle.country_share.iter_rows()}

    def find_skill(self, text: str) -> SkillEntry | None:
        """The skill named by an id, display name or alias, in any spelling ``gigcast.names`` reads."""
        skill = self.names.resolve(text)
        return None if skill is None else self.skills[skill]

    def suggest(self, text: str, limit: int = 3) -> list[str]:
        """Skill ids whose names are closest to ``text``, for "did you mean" answers."""
        return self.names.suggest(text, limit=limit)

    def week_offset(self, week: date | None) -> int:
        """Index of the forecast week holding ``week``; None means the first week after the data."""
        if week is None:
            return 0
        index = self._week_index.get(monday_of(week))
        if index is None:
            raise WeekOutOfRangeError(
                f"week {week} is outside the forecast, {self.weeks[0]} to {self.weeks[-1]}"
            )
        return index

    def estimate_rate(
        self, entry: SkillEntry, *, level: ExperienceLevel | None, country: str | None, offset: int
    ) -> RateEstimate:
        """Market percentiles: the skill's forecast median moved by its level's cell and the
        country's premium, spread as that cell's rates spread."""
        p50, lower, upper = self._rates[entry.skill][offset]
        cell = self._cells[(entry.skill, level or "")]
        own = entry.rate_basis != "category"
        notes = [f"{self._rate_history[entry.skill]}, {entry.rate_observations:,} rates"]
        observations = entry.rate_observations
        by_level = False
        if level:
            if own and cell.observations >= MIN_CELL_OBSERVATIONS:
                by_level = True
                observations = cell.observations
            notes.append(f"{level} ×{cell.factor:.2f} from {cell.observations:,} rates")
        factor = cell.factor
        country_premium = self._countries.get(country) if country else None
        if country_premium is not None:
            factor *= country_premium.factor
            notes.append(country_premium.note)
        elif country:
            notes.append(f"no {country} data, all markets")
        median = p50 * factor
        p10, p25, p75, p90 = (median * math.exp(z * cell.log_sd) for z in Z.values())
        return RateEstimate(
            skill=entry.skill,
            week_start=self.weeks[offset],
            level=level,
            country=country,
            p10=p10,
            p25=p25,
            p50=median,
            p75=p75,
            p90=p90,
            lower=lower * factor,
            upper=upper * factor,
            coverage=self.coverage,
            basis=Basis(
                BasisSource.of_skill(level=by_level, place=country_premium.slice if country_premium else None)
                if own
                else BasisSource.CATEGORY,
                entry.weeks_of_history,
                observations,
                "; ".join(notes),
                self.manifest.data_as_of,
                entry.rate_model,
            ),
        )

    def demand(self, entry: SkillEntry, *, country: str | None, horizon: int) -> list[DemandPoint]:
        """Weekly postings ahead; a country gets the skill's share of its postings."""
        share = 1.0 if country is None else self._share.get((entry.skill, country), 0.0)
        return self._points(self._demand[entry.skill], horizon, share)

    def category_demand(self, category: str | None, *, horizon: int) -> list[DemandPoint]:
        """Weekly postings ahead of a category (None: the whole market), the sum of its skills'."""
        return self._points(self._totals[category or MARKET], horizon)

    def _points(self, rows: list[tuple[float, ...]], horizon: int, share: float = 1.0) -> list[DemandPoint]:
        return [
            DemandPoint(week, p10 * share, p50 * share, p90 * share)
            for week, (p10, p50, p90) in zip(self.weeks[:horizon], rows[:horizon], strict=True)
        ]

    def path(self, entry: SkillEntry, metric: str) -> list[float]:
        """The forecast median week by week: postings ("demand") or USD/h ("rate")."""
        if metric == "demand":
            return [p50 for _, p50, _ in self._demand[entry.skill]]
        return [p50 for p50, _, _ in self._rates[entry.skill]]

    def demand_basis(self, entry: SkillEntry, country: str | None) -> Basis:
        if entry.demand_basis == "category":
            source, what = BasisSource.CATEGORY, f"category {entry.category}, scaled to the skill"
        elif country and (entry.skill, country) not in self._share:
            source, what = BasisSource.SKILL_COUNTRY, f"own history; no {country} postings in the data"
        elif country:
            source, what = BasisSource.SKILL_COUNTRY, f"own history, {country} share"
        else:
            source, what = BasisSource.SKILL, "own history"
        return Basis(
            source,
            entry.weeks_of_history,
            entry.postings,
            f"{what}, {entry.weeks_of_history} weeks",
            self.manifest.data_as_of,
            entry.demand_model,
        )


def _country_premium(key: str, log_premium: float, observations: int) -> Premium:
    """A country premium without observations of its own is its region's."""
    factor = math.exp(log_premium)
    if observations:
        return Premium(factor, "country", f"{key} ×{factor:.2f}")
    return Premium(factor, "region", f"{key} ×{factor:.2f} from its region")


def _series(frame: pl.DataFrame, columns: tuple[str, ...]) -> dict[str, list[tuple[float, ...]]]:
    """Per skill, the rows of ``columns`` in week order."""
    ordered = frame.sort("skill", "week_start")
    series: dict[str, list[tuple[float, ...]]] = {}
    for skill, *values in ordered.select("skill", *columns).iter_rows():
        series.setdefault(skill, []).append(tuple(values))
    return series
