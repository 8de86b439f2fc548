"""The forecast bundle: the one artefact the trainer writes and the service reads.

A bundle is a folder holding ``manifest.json`` and one Parquet file per table. Its layout and
schema version live here and nowhere else; reading needs only polars and the standard library,
so the service never imports Prophet or the training code.

Rates are in USD per hour, demand in postings per week, weeks start on Monday. The forecast
tables hold ``horizon_weeks`` weeks per skill, starting the week after ``data_end``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import polars as pl

from gigcast.taxonomy import EXPERIENCE_LEVELS

__all__ = [
    "BUNDLE_ARTIFACT",
    "INTERVAL_COVERAGE",
    "MANIFEST_FILE",
    "MARKET",
    "SCHEMAS",
    "SCHEMA_VERSION",
    "Bundle",
    "BundleError",
    "History",
    "Manifest",
    "PremiumKind",
    "Target",
    "check_bundle",
    "read_bundle",
    "write_bundle",
]

SCHEMA_VERSION = 6
#: Schemas a bundle may have been written at and still be read: 5 differs only in holding no
#: skill without postings, and no skill whose basis is the whole market.
READABLE_SCHEMAS = (5, SCHEMA_VERSION)
MANIFEST_FILE = "manifest.json"
#: Name of the bundle folder among a registered model version's artifacts.
BUNDLE_ARTIFACT = "bundle"


class Target(StrEnum):
    """A kind of forecast: postings per week, or the median hourly rate."""

    DEMAND = "demand"
    RATE = "rate"


class History(StrEnum):
    """Whose history a skill's forecast of a target rests on: the ``*_basis`` of the skills table.

    A skill short of history, or without postings, borrows its category's forecast; the whole
    market's when its category has none of that target's data either.
    """

    SKILL = "skill"
    CATEGORY = "category"
    MARKET = "market"


class PremiumKind(StrEnum):
    """What a row of the premiums table moves rates by: an experience level or a country."""

    LEVEL = "level"
    COUNTRY = "country"


#: The ``category`` of the whole market's row in the demand totals.
MARKET = "*"

#: The share of outcomes every forecast's interval (p10 to p90) is meant to hold.
INTERVAL_COVERAGE = 0.8

#: The table holding each target's weekly forecast, and its interval's columns.
FORECAST_TABLES = {Target.DEMAND: ("demand", "p10", "p90"), Target.RATE: ("rates", "lower", "upper")}

#: Column names and types of every table, in file order.
SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    # One row per skill the data or the taxonomy names: a skill without postings in the data has
    # 0 weeks of history, 0 postings and 0 rate observations, and answers all the same. ``*_basis``
    # is a History: "skill" when its own history was fitted, "category" when it borrows its
    # category's, "market" the whole market's; ``*_model`` names the model that forecast it ("" for
    # a target the bundle lacks).
    "skills": {
        "skill": pl.String(),
        "display_name": pl.String(),
        "category": pl.String(),
        "aliases": pl.List(pl.String()),
        "weeks_of_history": pl.Int32(),
        "postings": pl.Int64(),
        "rate_observations": pl.Int64(),
        "demand_basis": pl.String(),
        "rate_basis": pl.String(),
        "demand_model": pl.String(),
        "rate_model": pl.String(),
    },
    # Weekly postings forecast: median and 80% interval. Empty when demand is not a target.
    "demand": {
        "skill": pl.String(),
        "week_start": pl.Date(),
        "p10": pl.Float64(),
        "p50": pl.Float64(),
        "p90": pl.Float64(),
    },
    # Weekly postings forecast of each category (all its skills) and of the whole market (category
    # MARKET). Each week's p50 is the sum of its skills' p50 (the market's, of its categories').
    "demand_totals": {
        "category": pl.String(),
        "week_start": pl.Date(),
        "p10": pl.Float64(),
        "p50": pl.Float64(),
        "p90": pl.Float64(),
    },
    # Weekly median hourly rate forecast, all levels and markets, with its 80% interval. Empty, as
    # are rate_cells and premiums, when rate is not a target.
    "rates": {
        "skill": pl.String(),
        "week_start": pl.Date(),
        "p50": pl.Float64(),
        "lower": pl.Float64(),
        "upper": pl.Float64(),
    },
    # Per skill and level ("" for any level): the log premium of the level's median over the
    # skill's, and the standard deviation of a posting's log rate around that median (its
    # uncertainty included). ``observations`` are the rates behind the cell.
    "rate_cells": {
        "skill": pl.String(),
        "level": pl.String(),
        "log_premium": pl.Float64(),
        "log_sd": pl.Float64(),
        "observations": pl.Int64(),
    },
    # Log-rate premium of a level ("entry", ...) or a country ("US", ...) over the median. ``kind``
    # is a PremiumKind: "level" or "country".
    "premiums": {
        "kind": pl.String(),
        "key": pl.String(),
        "log_premium": pl.Float64(),
        "observations": pl.Int64(),
    },
    # Share of a skill's postings that come from a country.
    "country_share": {
        "skill": pl.String(),
        "country": pl.String(),
        "share": pl.Float64(),
    },
}


class BundleError(ValueError):
    """A bundle that cannot be served: wrong version, missing table, bad values."""


@dataclass(frozen=True)
class Manifest:
    trained_at: datetime
    data_start: date
    data_end: date
    horizon_weeks: int  # weeks ahead forecast: as far as the backtest reached
    targets: list[Target] = field(default_factory=lambda: list(Target))
    interval_coverage: float = INTERVAL_COVERAGE
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    #: SHA-256 of each table's file, set when the bundle is written and checked when it is read.
    digests: dict[str, str] = field(default_factory=dict)
    #: Accepted postings per week of the data (its Monday, ISO), gaps included: what it was
    #: trained on, so that two versions' backtests are compared only on alike data.
    postings_per_week: dict[str, int] = field(default_factory=dict)

    @property
    def first_forecast_week(self) -> date:
        return self.data_end + timedelta(weeks=1)

    @property
    def data_as_of(self) -> date:
        """The last day of the data: the Sunday of its last complete week."""
        return self.data_end + timedelta(days=6)

    def to_json(self) -> str:
        values = asdict(self)
        for key in ("trained_at", "data_start", "data_end"):
            values[key] = values[key].isoformat()
        return json.dumps(values, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        values = json.loads(text)
        values["trained_at"] = datetime.fromisoformat(values["trained_at"])
        values["data_start"] = date.fromisoformat(values["data_start"])
        values["data_end"] = date.fromisoformat(values["data_end"])
        values["targets"] = [Target(t) for t in values["targets"]]
        # a key a later gigcast adds to the manifest is left out: the schema version guards the tables
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclass(frozen=True)
class Bundle:
    manifest: Manifest
    skills: pl.DataFrame
    demand: pl.DataFrame
    demand_totals: pl.DataFrame
    rates: pl.DataFrame
    rate_cells: pl.DataFrame
    premiums: pl.DataFrame
    country_share: pl.DataFrame

    def table(self, name: str) -> pl.DataFrame:
        frame: pl.DataFrame = getattr(self, name)
        return frame


def write_bundle(bundle: Bundle, path: Path) -> Path:
    """Check the bundle, then write it to a new folder ``path``, with each table's digest."""
    check_bundle(bundle)
    path.mkdir(parents=True, exist_ok=False)
    for name in SCHEMAS:
        bundle.table(name).write_parquet(path / f"{name}.parquet")
    digests = {name: _digest(path / f"{name}.parquet") for name in SCHEMAS}
    (path / MANIFEST_FILE).write_text(replace(bundle.manifest, digests=digests).to_json(), encoding="utf-8")
    return path


def read_bundle(path: Path) -> Bundle:
    """Read and check a bundle folder; BundleError says what is wrong with it."""
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise BundleError(f"{path} is not a forecast bundle: {MANIFEST_FILE} is missing")
    try:
        manifest = Manifest.from_json(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError) as exc:
        raise BundleError(f"unreadable {MANIFEST_FILE}: {exc}") from exc
    if manifest.schema_version not in READABLE_SCHEMAS:
        raise BundleError(
            f"bundle schema {manifest.schema_version} is not one of the supported {list(READABLE_SCHEMAS)}"
        )
    tables: dict[str, pl.DataFrame] = {}
    for name in SCHEMAS:
        file = path / f"{name}.parquet"
        if not file.is_file():
            raise BundleError(f"bundle table {name}.parquet is missing")
        if _digest(file) != manifest.digests.get(name):
            raise BundleError(f"bundle table {name}.parquet is damaged: its digest is not the manifest's")
        tables[name] = pl.read_parquet(file)
    bundle = Bundle(manifest=manifest, **tables)
    check_bundle(bundle)
    return bundle


def _digest(file: Path) -> str:
    with file.open("rb") as table:
        return hashlib.file_digest(table, "sha256").hexdigest()


def check_bundle(bundle: Bundle) -> None:
    """Raise BundleError unless every table has its schema and the forecasts are whole."""
    for name, schema in SCHEMAS.items():
        frame = bundle.table(name)
        if dict(frame.schema) != schema:
            raise BundleError(f"table {name} has schema {dict(frame.schema)}, expected {schema}")
    skills = bundle.skills["skill"]
    if skills.is_empty():
        raise BundleError("bundle holds no skills")
    if skills.is_duplicated().any():
        raise BundleError("bundle lists a skill twice")
    horizon = bundle.manifest.horizon_weeks
    first = bundle.manifest.first_forecast_week
    for target, (name, low, high) in FORECAST_TABLES.items():
        frame = bundle.table(name)
        if target not in bundle.manifest.targets:
            if frame.height:
                raise BundleError(f"table {name} holds forecasts, but {target} is not a target of the bundle")
            continue
        per_skill = frame.group_by("skill").agg(weeks=pl.len(), first=pl.col("week_start").min())
        whole = per_skill.filter((pl.col("weeks") == horizon) & (pl.col("first") == first))
        if not whole["skill"].sort().equals(skills.sort()):
            raise BundleError(f"table {name} lacks {horizon} weeks from {first} for every skill")
        quantiles = pl.col(low, "p50", high)
        ordered = (pl.col(low) >= 0) & (pl.col(low) <= pl.col("p50")) & (pl.col("p50") <= pl.col(high))
        bad = frame.filter(pl.any_horizontal(quantiles.is_null() | quantiles.is_nan()) | ~ordered)
        if bad.height:
            raise BundleError(
                f"table {name} has {bad.height} rows with missing, negative or unordered "
                f"quantiles, the first for skill {bad['skill'][0]!r}"
            )
    _check_totals(bundle)
    _check_cells(bundle)
    _check_premiums(bundle)
    _check_bases(bundle)


def _check_bases(bundle: Bundle) -> None:
    """Every skill's basis is a History."""
    histories = [history.value for history in History]
    for column in ("demand_basis", "rate_basis"):
        unknown = (
            bundle.skills.filter(~pl.col(column).is_in(histories).fill_null(False))[column].unique().sort()
        )
        if unknown.len():
            raise BundleError(f"table skills has {column} {unknown.to_list()}, expected one of {histories}")


def _check_premiums(bundle: Bundle) -> None:
    """Every premium is of a level or a country."""
    kinds = [kind.value for kind in PremiumKind]
    unknown = bundle.premiums.filter(~pl.col("kind").is_in(kinds).fill_null(False))["kind"].unique().sort()
    if unknown.len():
        raise BundleError(f"table premiums has kinds {unknown.to_list()}, expected one of {kinds}")


def _check_cells(bundle: Bundle) -> None:
    """With rates, every skill has a cell for every level and for none, each with a spread."""
    if Target.RATE not in bundle.manifest.targets:
        return
    cells = bundle.rate_cells
    levels = pl.DataFrame({"level": ["", *EXPERIENCE_LEVELS]})
    wanted = bundle.skills.select("skill").join(levels, how="cross")
    if wanted.join(cells, on=["skill", "level"], how="anti").height:
        raise BundleError("table rate_cells lacks a level of some skill")
    if cells.filter(~(pl.col("log_sd") > 0) | ~pl.col("log_premium").is_finite()).height:
        raise BundleError(
            "table rate_cells has a spread that is not positive or a premium that is not finite"
        )


def _check_totals(bundle: Bundle) -> None:
    """Each category's demand is the sum of its skills', the market's the sum of the categories'."""
    totals = bundle.demand_totals
    if Target.DEMAND not in bundle.manifest.targets:
        if totals.height:
            raise BundleError("table demand_totals holds forecasts, but demand is not a target of the bundle")
        return
    by_category = (
        bundle.demand.join(bundle.skills.select("skill", "category"), on="skill")
        .group_by("category", "week_start")
        .agg(pl.col("p50").sum())
    )
    whole = (
        by_category.group_by("week_start")
        .agg(pl.col("p50").sum())
        .select(category=pl.lit(MARKET), week_start="week_start", p50="p50")
    )
    sums = pl.concat([by_category, whole])
    compared = sums.join(totals, on=["category", "week_start"], how="full", suffix="_total")
    adds_up = (
        ((pl.col("p50") - pl.col("p50_total")).abs() <= 1e-6 * (1 + pl.col("p50").abs()))
        & pl.col("p10").is_between(0, pl.col("p50_total"))
        & (pl.col("p90") >= pl.col("p50_total"))
    )
    apart = compared.filter(~adds_up.fill_null(False))
    if apart.height:
        row = apart.row(0, named=True)
        raise BundleError(
            f"table demand_totals does not add up: {row['category'] or row['category_total']!r} "
            f"in the week of {row['week_start'] or row['week_start_total']} has p50 {row['p50_total']}, "
            f"its parts {row['p50']}"
        )
