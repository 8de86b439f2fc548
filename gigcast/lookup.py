"""Answers from a forecast bundle, held in flat arrays by skill so that each one costs microseconds.

The service wraps these in protobuf; notebooks reach them through the pyfunc model. Nothing
here fits or reads files: an index is built once from a checked bundle, and what every answer
of a skill shares (its cells' spreads, the words of its basis) is worked out then.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from statistics import NormalDist
from typing import Any, Literal

import polars as pl

from gigcast.bundle import MARKET, Bundle, History, PremiumKind, Target
from gigcast.names import NameResolver
from gigcast.query import ExperienceLevel
from gigcast.taxonomy import EXPERIENCE_LEVELS
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

# The flat arrays of a skill's tables: the values of a forecast week at ``width * offset``, those of
# a level's cell at ``CELL_FIELDS * LEVEL_COLUMNS[level]``.
DEMAND_COLUMNS = ("p10", "p50", "p90")
RATE_COLUMNS = ("p50", "lower", "upper")
DEMAND_WIDTH, RATE_WIDTH = len(DEMAND_COLUMNS), len(RATE_COLUMNS)
P50_OF_DEMAND = DEMAND_COLUMNS.index("p50")
P50, LOWER, UPPER = range(RATE_WIDTH)
#: A cell: its factor on the skill's median, its log_sd and observations, then its p10, p25, p75
#: and p90 as factors of its median (its spread, worked out once).
FACTOR, LOG_SD, OBSERVATIONS, SPREAD = range(4)
CELL_FIELDS = SPREAD + len(Z)
#: The column of each level's cell: any level (None, or "" as the bundle names it), then the levels.
CELL_COLUMNS = 1 + len(EXPERIENCE_LEVELS)
LEVEL_COLUMNS: dict[str | None, int] = {
    None: 0,
    "": 0,
    **{level: column for column, level in enumerate(EXPERIENCE_LEVELS, start=1)},
}


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
_CATEGORY = BasisSource.CATEGORY  # an enum's member read once: each read costs as much as a call
_OWN = History.SKILL.value


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


@dataclass(frozen=True, slots=True)
class _SkillTables:
    """One skill's forecasts and rate cells, each in one flat array (see ``CELL_FIELDS``)."""

    row: int  # the skill's place in ``ForecastIndex.skills``, and in each country's shares
    demand: array[float]  # p10, p50 and p90 of each forecast week; empty without demand
    rates: array[float]  # p50, lower and upper of each forecast week; empty without rates
    cells: array[float]  # a cell per level column; empty without rates
    descriptions: tuple[str, ...]  # per level column: the history and cell that answer, in words


class WeekOutOfRangeError(ValueError):
    """A week outside the forecast horizon."""


class ForecastIndex:
    """Every table of a bundle, keyed for direct lookup.

    The forecasts and rate cells are held in flat arrays of floats, one set per skill, indexed by
    week offset and level: a few kilobytes a skill, where a float object per value would take
    several times that.
    """

    def __init__(self, bundle: Bundle) -> None:
        manifest = bundle.manifest
        self.manifest = manifest
        self.targets = frozenset(manifest.targets)
        self.coverage = manifest.interval_coverage
        self.weeks = tuple(
            manifest.first_forecast_week + timedelta(weeks=i) for i in range(manifest.horizon_weeks)
        )
        self.data_as_of = manifest.data_as_of
        self._week_index = {week: i for i, week in enumerate(self.weeks)}
        self.skills = {
            row["skill"]: SkillEntry(**_interned(row))
            for row in bundle.skills.sort("skill").iter_rows(named=True)
        }
        self.names = NameResolver((e.skill, (e.display_name, *e.aliases)) for e in self.skills.values())
        #: Skills per category id, categories in order.
        self.category_sizes = dict(sorted(Counter(e.category for e in self.skills.values()).items()))
        self._totals = _weekly(bundle.demand_totals.rename({"category": "skill"}), DEMAND_COLUMNS)
        self._tables = _skill_tables(bundle, self.skills)
        countries = bundle.premiums.filter(pl.col("kind") == PremiumKind.COUNTRY.value)
        self._countries = {
            key: _country_premium(key, log_premium, observations)
            for key, log_premium, observations in countries.select(
                "key", "log_premium", "observations"
            ).iter_rows()
        }
        self._shares = _shares(bundle.country_share, self._tables)

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
        tables = self._tables[entry.skill]
        column = LEVEL_COLUMNS[level]
        cells, at = tables.cells, CELL_FIELDS * column
        factor = cells[at + FACTOR]
        observations = entry.rate_observations
        by_level = False
        own = entry.rate_basis == _OWN
        if column and own and cells[at + OBSERVATIONS] >= MIN_CELL_OBSERVATIONS:
            by_level = True
            observations = int(cells[at + OBSERVATIONS])
        description = tables.descriptions[column]
        place: PremiumSlice | None = None
        premium = self._countries.get(country) if country else None
        if premium is not None:
            factor *= premium.factor
            description = f"{description}; {premium.note}"
            place = premium.slice
        elif country:
            description = f"{description}; no {country} data, all markets"
        week = RATE_WIDTH * offset
        rates = tables.rates
        median = rates[week + P50] * factor
        return RateEstimate(
            entry.skill,
            self.weeks[offset],
            level,
            country,
            median * cells[at + SPREAD],
            median * cells[at + SPREAD + 1],
            median,
            median * cells[at + SPREAD + 2],
            median * cells[at + SPREAD + 3],
            rates[week + LOWER] * factor,
            rates[week + UPPER] * factor,
            self.coverage,
            Basis(
                _SKILL_SOURCES[by_level, place] if own else _CATEGORY,
                entry.weeks_of_history,
                observations,
                description,
                self.data_as_of,
                entry.rate_model,
            ),
        )

    def cell(self, entry: SkillEntry, level: ExperienceLevel | None) -> Cell:
        """The skill's cell at ``level`` (None: any level), as the bundle holds it."""
        cells, at = self._tables[entry.skill].cells, CELL_FIELDS * LEVEL_COLUMNS[level]
        return Cell(cells[at + FACTOR], cells[at + LOG_SD], int(cells[at + OBSERVATIONS]))

    def demand(self, entry: SkillEntry, *, country: str | None, horizon: int) -> list[DemandPoint]:
        """Weekly postings ahead; a country gets the skill's share of its postings."""
        tables = self._tables[entry.skill]
        share = 1.0 if country is None else self._share(tables, country)
        return self._points(tables.demand, horizon, 0.0 if math.isnan(share) else share)

    def category_demand(self, category: str | None, *, horizon: int) -> list[DemandPoint]:
        """Weekly postings ahead of a category (None: the whole market), the sum of its skills'."""
        return self._points(self._totals[category or MARKET], horizon)

    def _points(self, values: array[float], horizon: int, share: float = 1.0) -> list[DemandPoint]:
        return [
            DemandPoint(week, values[at] * share, values[at + 1] * share, values[at + 2] * share)
            for week, at in zip(
                self.weeks[:horizon], range(0, DEMAND_WIDTH * horizon, DEMAND_WIDTH), strict=True
            )
        ]

    def path(self, entry: SkillEntry, metric: str) -> list[float]:
        """The forecast median week by week: postings ("demand") or USD/h ("rate")."""
        tables = self._tables[entry.skill]
        if metric == "demand":
            return tables.demand[P50_OF_DEMAND::DEMAND_WIDTH].tolist()
        return tables.rates[P50::RATE_WIDTH].tolist()

    def _share(self, tables: _SkillTables, country: str) -> float:
        """The skill's share of postings from ``country``; NaN when it has none from there."""
        shares = self._shares.get(country)
        return math.nan if shares is None else shares[tables.row]

    def demand_basis(self, entry: SkillEntry, country: str | None) -> Basis:
        if not entry.weeks_of_history:
            source, what = BasisSource.CATEGORY, _unseen(entry, Target.DEMAND)
            what += "; none expected, p90 the most that could go unseen"
        elif entry.demand_basis != _OWN:
            source, what = BasisSource.CATEGORY, _borrowed(entry, Target.DEMAND)
        elif country and math.isnan(self._share(self._tables[entry.skill], country)):
            source, what = BasisSource.SKILL_COUNTRY, f"own history; no {country} postings in the data"
        elif country:
            source, what = BasisSource.SKILL_COUNTRY, f"own history, {country} share"
        else:
            source, what = BasisSource.SKILL, "own history"
        return Basis(
            source,
            entry.weeks_of_history,
            entry.postings,
            f"{what}, {entry.weeks_of_history} weeks" if entry.weeks_of_history else what,
            self.data_as_of,
            entry.demand_model,
        )


#: What a category may lack of a target, in words.
_DATA = {Target.DEMAND: "postings", Target.RATE: "rates"}


def _history(entry: SkillEntry, target: Target) -> str:
    return entry.demand_basis if target == Target.DEMAND else entry.rate_basis


def _borrowed(entry: SkillEntry, target: Target) -> str:
    """In words, the series a skill short of history borrows for ``target``, scaled to it: its
    category's, or the whole market's when its category has none of the target's data."""
    if _history(entry, target) == History.MARKET:
        return f"the whole market, scaled to the skill: no {_DATA[target]} in category {entry.category}"
    return f"category {entry.category}, scaled to the skill"


def _unseen(entry: SkillEntry, target: Target) -> str:
    """In words, the series a skill without postings borrows for ``target``: its category's, or
    the whole market's when its category has none of the target's data."""
    if _history(entry, target) != History.MARKET:
        return f"borrowed from category {entry.category}: no postings of the skill in the data"
    if target == Target.DEMAND:
        return f"borrowed from the whole market: no postings of the skill or of category {entry.category}"
    return f"borrowed from the whole market: no postings of the skill, no rates in category {entry.category}"


def _country_premium(key: str, log_premium: float, observations: int) -> Premium:
    """A country premium without observations of its own is its region's."""
    factor = math.exp(log_premium)
    if observations:
        return Premium(factor, "country", f"{key} ×{factor:.2f}")
    return Premium(factor, "region", f"{key} ×{factor:.2f} from its region")


def _interned(row: dict[str, Any]) -> dict[str, Any]:
    """A skills row whose texts are shared with every other row holding the same: categories,
    bases and model names repeat across skills."""
    return {key: sys.intern(value) if isinstance(value, str) else value for key, value in row.items()}


def _weekly(frame: pl.DataFrame, columns: tuple[str, ...]) -> dict[str, array[float]]:
    """Per skill, the values of ``columns`` week after week, in one flat array."""
    ordered = frame.sort("skill", "week_start").select("skill", *columns)
    weekly: dict[str, array[float]] = {}
    for skill, *values in ordered.iter_rows():
        weekly.setdefault(skill, array("d")).extend(values)
    return weekly


def _skill_tables(bundle: Bundle, skills: dict[str, SkillEntry]) -> dict[str, _SkillTables]:
    demand = _weekly(bundle.demand, DEMAND_COLUMNS)
    rates = _weekly(bundle.rates, RATE_COLUMNS)
    cells: dict[str, array[float]] = {}
    for skill, level, log_premium, log_sd, observations in bundle.rate_cells.iter_rows():
        at = CELL_FIELDS * LEVEL_COLUMNS[level]
        held = cells.setdefault(skill, array("d", [math.nan]) * (CELL_FIELDS * CELL_COLUMNS))
        spread = [math.exp(z * log_sd) for z in Z.values()]
        held[at : at + CELL_FIELDS] = array("d", [math.exp(log_premium), log_sd, observations, *spread])
    return {
        skill: _SkillTables(
            row,
            demand.get(skill, array("d")),
            rates.get(skill, array("d")),
            cells.get(skill, array("d")),
            _descriptions(entry, cells.get(skill)),
        )
        for row, (skill, entry) in enumerate(skills.items())
    }


def _descriptions(entry: SkillEntry, cells: array[float] | None) -> tuple[str, ...]:
    """Which history, and which cell at each level, answer for ``entry``: a basis in words."""
    if not entry.weeks_of_history:
        skill = _unseen(entry, Target.RATE)
    elif entry.rate_basis == _OWN:
        skill = f"own history, {entry.weeks_of_history} weeks, {entry.rate_observations:,} rates"
    else:
        history = _borrowed(entry, Target.RATE)
        skill = f"{history}, {entry.weeks_of_history} weeks, {entry.rate_observations:,} rates"
    if cells is None:
        return (skill,) * CELL_COLUMNS
    described = [skill]
    for level in EXPERIENCE_LEVELS:
        at = CELL_FIELDS * LEVEL_COLUMNS[level]
        factor, observations = cells[at + FACTOR], int(cells[at + OBSERVATIONS])
        cell = f"from {observations:,} rates" if observations else "the market's"
        described.append(f"{skill}; {level} ×{factor:.2f} {cell}")
    return tuple(described)


def _shares(frame: pl.DataFrame, tables: dict[str, _SkillTables]) -> dict[str, array[float]]:
    """Per country, each skill's share of its postings by skill row; NaN where it has none."""
    shares: dict[str, array[float]] = {}
    for skill, country, share in frame.iter_rows():
        held = shares.setdefault(country, array("d", [math.nan]) * len(tables))
        held[tables[skill].row] = share
    return shares
