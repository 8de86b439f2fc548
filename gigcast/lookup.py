"""Answers from a forecast bundle, held in plain dicts so that each one costs microseconds.

The service wraps these in protobuf; notebooks reach them through the pyfunc model. Nothing
here fits or reads files: an index is built once from a checked bundle.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from gigcast.bundle import MARKET, Bundle
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
@dataclass(slots=True)
class Basis:
    """Which slice of the data answered: ``skill_level_country`` ... ``category``."""

    source: str
    weeks_of_history: int
    observations: int
    description: str
    model: str = ""


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
    """A factor on the market median, the slice it comes from, and how a basis reads it."""

    factor: float
    slice: str  # "level", "country", or "region" when pooled from the country's region
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
        self._names: dict[str, str] = {}
        for entry in self.skills.values():
            for name in (entry.skill, entry.display_name, *entry.aliases):
                self._names.setdefault(name.strip().lower(), entry.skill)
        self._demand = _series(bundle.demand, ("p10", "p50", "p90"))
        self._totals = _series(bundle.demand_totals.rename({"category": "skill"}), ("p10", "p50", "p90"))
        #: Skills per category id, categories in order.
        self.category_sizes = dict(sorted(Counter(e.category for e in self.skills.values()).items()))
        self._rates = _series(bundle.rates, ("p50", "lower", "upper"))
        self._spread = {
            row[0]: tuple(math.exp(q) for q in row[1:5])
            for row in bundle.spread.select("skill", "q10", "q25", "q75", "q90").iter_rows()
        }
        self._premiums = {
            (kind, key): _premium(kind, key, log_premium, observations)
            for kind, key, log_premium, observations in bundle.premiums.iter_rows()
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
        """The skill named by an id, display name or alias, any case."""
        skill = self._names.get(text.strip().lower())
        return None if skill is None else self.skills[skill]

    def suggest(self, text: str, limit: int = 3) -> list[str]:
        """Skill ids whose names are closest to ``text``, for "did you mean" answers."""
        close = difflib.get_close_matches(text.strip().lower(), self._names, n=limit * 3, cutoff=0.5)
        return list(dict.fromkeys(self._names[name] for name in close))[:limit]

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
        """Market percentiles: the forecast median, moved by premiums, spread by the market."""
        p50, lower, upper = self._rates[entry.skill][offset]
        factor, slices, notes = 1.0, ["skill"], [self._rate_history[entry.skill]]
        level_premium = self._premiums.get(("level", level)) if level else None
        country_premium = self._premiums.get(("country", country)) if country else None
        for premium in (level_premium, country_premium):
            if premium is not None:
                factor *= premium.factor
                slices.append(premium.slice)
                notes.append(premium.note)
        if country and country_premium is None:
            notes.append(f"no {country} data, all markets")
        source = "category" if entry.rate_basis == "category" else "_".join(slices)
        q10, q25, q75, q90 = self._spread[entry.skill]
        median = p50 * factor
        return RateEstimate(
            skill=entry.skill,
            week_start=self.weeks[offset],
            level=level,
            country=country,
            p10=median * q10,
            p25=median * q25,
            p50=median,
            p75=median * q75,
            p90=median * q90,
            lower=lower * factor,
            upper=upper * factor,
            coverage=self.coverage,
            basis=Basis(
                source, entry.weeks_of_history, entry.rate_observations, "; ".join(notes), entry.rate_model
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
            entry.demand_model,
        )


def _premium(kind: str, key: str, log_premium: float, observations: int) -> Premium:
    """A country premium without observations of its own is its region's."""
    factor = math.exp(log_premium)
    if kind == "level":
        return Premium(factor, "level", f"{key} ×{factor:.2f}")
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
