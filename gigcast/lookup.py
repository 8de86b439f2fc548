"""Answers from a forecast bundle, held in plain dicts so that each one costs microseconds.

The service wraps these in protobuf; notebooks reach them through the pyfunc model. Nothing
here fits or reads files: an index is built once from a checked bundle.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist

import polars as pl

from gigcast.bundle import MARKET, Bundle
from gigcast.names import NameResolver
from gigcast.weeks import monday_of


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


@dataclass(slots=True)
class Basis:
    """Which slice of the data answered: ``skill_level_country`` ... ``category``, and how fresh."""

    source: str
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
    level: str | None
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
    slice: str  # "country", or "region" when pooled from the country's region
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
        self._countries = {
            key: _country_premium(key, log_premium, observations)
            for kind, key, log_premium, observations in bundle.premiums.iter_rows()
            if kind == "country"
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
        self, entry: SkillEntry, *, level: str | None, country: str | None, offset: int
    ) -> RateEstimate:
        """Market percentiles: the skill's forecast median moved by its level's cell and the
        country's premium, spread as that cell's rates spread."""
        p50, lower, upper = self._rates[entry.skill][offset]
        cell = self._cells[(entry.skill, level or "")]
        own = entry.rate_basis != "category"
        slices = ["skill" if own else "category"]
        notes = [f"{self._rate_history[entry.skill]}, {entry.rate_observations:,} rates"]
        observations = entry.rate_observations
        if level:
            if own and cell.observations >= MIN_CELL_OBSERVATIONS:
                slices.append("level")
                observations = cell.observations
            notes.append(f"{level} ×{cell.factor:.2f} from {cell.observations:,} rates")
        factor = cell.factor
        country_premium = self._countries.get(country) if country else None
        if country_premium is not None:
            factor *= country_premium.factor
            slices.append(country_premium.slice)
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
                "_".join(slices) if own else "category",
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
            source, what = "category", f"category {entry.category}, scaled to the skill"
        elif country and (entry.skill, country) not in self._share:
            source, what = "skill_country", f"own history; no {country} postings in the data"
        elif country:
            source, what = "skill_country", f"own history, {country} share"
        else:
            source, what = "skill", "own history"
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
