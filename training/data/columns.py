"""Canonical posting columns, and how an export's own column names map onto them.

A column is found by, in order: an explicit ``CANONICAL=SOURCE`` mapping (flag or mapping
file), the canonical name itself, then the names common exports use (any case).
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path

CANONICAL = (
    "posting_id",
    "posted_at",
    "skills",
    "hourly_rate",
    "is_hourly",
    "budget_usd",
    "experience_level",
    "country",
    "category",
    "title",
    "description",
    "hourly_rate_min",
    "hourly_rate_max",
)
#: Read only to work out other columns: skills from the text, an hourly rate from its range.
READ_FOR_OTHERS = ("title", "description", "hourly_rate_min", "hourly_rate_max")
#: The columns of accepted postings.
KEPT = tuple(column for column in CANONICAL if column not in READ_FOR_OTHERS)

#: Names that exports (Upwork's API and RSS, Kaggle dumps, scrapers) give the same thing.
KNOWN_NAMES: dict[str, tuple[str, ...]] = {
    "posting_id": ("uid", "id", "job_id", "posting_uid", "ciphertext", "link", "url", "job_url"),
    "posted_at": (
        "published_on",
        "published_date",
        "published_at",
        "posted_date",
        "posted_on",
        "date_posted",
        "created_on",
        "created_at",
        "publish_time",
    ),
    "skills": ("skill", "tags", "skill_tags", "attrs", "occupations_oservice_pref_label"),
    "title": ("job_title", "name"),
    "description": ("raw_description", "job_description", "snippet", "body"),
    "category": ("occupations_category_pref_label", "job_category", "category_name", "category2"),
    "hourly_rate": ("rate", "hourly", "contract_rate"),
    "hourly_rate_min": ("hourly_low", "min_rate", "rate_min", "hourly_budget_min", "min_hourly_rate"),
    "hourly_rate_max": ("hourly_high", "max_rate", "rate_max", "hourly_budget_max", "max_hourly_rate"),
    "is_hourly": ("hourly_job", "type", "job_type", "budget_type", "payment_type"),
    "budget_usd": ("amount_amount", "fixed_budget", "budget", "amount", "fixed_price"),
    "experience_level": ("tier", "contractor_tier", "level", "experience", "expertise"),
    "country": ("client_location_country", "client_country", "location", "country_name"),
}


class Separator(StrEnum):
    """How one skills column lists a posting's skills."""

    AUTO = "auto"  # decided from the column's first rows (``separator_of``)
    NONE = "none"  # one label per row, commas and all: "Email, Phone & Chat Support"
    COMMA = "comma"
    SEMICOLON = "semicolon"
    PIPE = "pipe"
    LITERAL = "literal"  # a list written as text: "['Power BI', 'SQL']"

    @property
    def character(self) -> str:
        return {"comma": ",", "semicolon": ";", "pipe": "|"}.get(self.value, "")


class ColumnError(ValueError):
    """A mapping that names no canonical column, or a source column a file lacks."""


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """``["posted_at=published_on", ...]`` -> ``{"posted_at": "published_on"}``."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        canonical, sep, source = pair.partition("=")
        canonical, source = canonical.strip(), source.strip()
        if not sep or not source:
            raise ColumnError(f"--column {pair!r}: write it as CANONICAL=SOURCE, e.g. posted_at=published_on")
        mapping[_checked(canonical)] = source
    return mapping


def load_mapping(path: Path) -> dict[str, str]:
    """A saved profile: a TOML file with a ``[columns]`` table of ``canonical = "source"``."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("columns", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ColumnError(f"mapping file {path}: {exc}") from None
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ColumnError(f'mapping file {path}: expected a [columns] table of name = "source" lines')
    return {_checked(k): v for k, v in table.items()}


def resolve(available: list[str], mapping: dict[str, str], *, where: str) -> dict[str, str]:
    """Canonical name -> the file's column holding it, for every column found."""
    by_lower = {name.lower(): name for name in reversed(available)}
    found: dict[str, str] = {}
    for canonical in CANONICAL:
        if canonical in mapping:
            source = mapping[canonical]
            if source not in available:
                raise ColumnError(f"{where}: no column {source!r} (mapped to {canonical})")
            found[canonical] = source
            continue
        taken = set(found.values()) | set(mapping.values())
        for name in (canonical, *KNOWN_NAMES[canonical]):
            known = by_lower.get(name.lower())
            if known is not None and known not in taken:
                found[canonical] = known
                break
    return found


def _checked(canonical: str) -> str:
    if canonical not in CANONICAL:
        raise ColumnError(f"{canonical!r} is not a posting column; use one of {', '.join(CANONICAL)}")
    return canonical
