"""What a request asks, read from its raw fields: one set of rules for the service and the pyfunc.

A skill, an experience level, a country, a week and a horizon arrive as text and numbers, from a
gRPC message or a row of a notebook's frame. ``read_query`` turns them into a ``Query`` or raises
``QueryError`` naming the field and why; each ``read_*`` function reads one field, for callers
that check their fields in an order of their own. Whether a skill exists and whether a week falls
inside the forecast is the answering model's to say (``ForecastIndex.find_skill`` and
``ForecastIndex.week_offset``). Standard library only at import, so the thin client may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from gigcast.countries import to_alpha2

__all__ = [
    "DEFAULT_HORIZON_WEEKS",
    "LEVEL_NUMBERS",
    "MAX_HORIZON_WEEKS",
    "MAX_TEXT",
    "ExperienceLevel",
    "Query",
    "QueryError",
    "quoted",
    "read_country",
    "read_horizon",
    "read_level",
    "read_query",
    "read_skill",
    "read_text",
    "read_week",
]


class ExperienceLevel(StrEnum):
    """The seniority a gig asks for, cheapest first."""

    ENTRY = "entry"
    INTERMEDIATE = "intermediate"
    EXPERT = "expert"


#: Characters of a text field; past that a field is refused, never quoted whole.
MAX_TEXT = 200
#: Characters of a caller's text an error repeats.
QUOTED_TEXT = 60
#: The most weeks ahead a forecast may be asked for, whatever the model holds.
MAX_HORIZON_WEEKS = 52
#: Weeks ahead a forecast covers when none are asked for, or the model's horizon when that is shorter.
DEFAULT_HORIZON_WEEKS = 12
#: Experience levels by their number on the wire (``gigcast.v1.ExperienceLevel``); 0 is any level.
LEVEL_NUMBERS: dict[int, ExperienceLevel | None] = {
    0: None,
    1: ExperienceLevel.ENTRY,
    2: ExperienceLevel.INTERMEDIATE,
    3: ExperienceLevel.EXPERT,
}


class QueryError(ValueError):
    """A raw field that cannot be read: ``field`` names it as requests do, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Query:
    """What a request asks about, every field read and checked."""

    skill: str  # as asked, untouched: an id, display name or alias in any spelling
    level: ExperienceLevel | None  # None: any level
    country: str | None  # ISO 3166-1 alpha-2; None: all markets
    week: date | None  # a day of the week asked about; None: the first week after the data
    horizon_weeks: int  # weeks ahead, at least 1


def read_query(
    *,
    skill: str,
    experience_level: ExperienceLevel | str | int | None = None,
    country: str = "",
    week: str = "",
    horizon_weeks: int = 0,
    forecast_weeks: int = MAX_HORIZON_WEEKS,
) -> Query:
    """Every field read in the order of the arguments; QueryError names the first that cannot be.

    Empty text and 0 leave a field unspecified; ``forecast_weeks`` is how many weeks the answering
    model forecasts, which bounds ``horizon_weeks``.
    """
    return Query(
        skill=read_skill(skill),
        level=read_level(experience_level),
        country=read_country(country),
        week=read_week(week),
        horizon_weeks=read_horizon(horizon_weeks, forecast_weeks=forecast_weeks),
    )


def read_skill(text: str) -> str:
    """The skill as asked; it must hold more than spaces."""
    if not read_text("skill", text):
        raise QueryError("skill", "must not be empty")
    return text


def read_level(value: ExperienceLevel | str | int | None) -> ExperienceLevel | None:
    """A level from its name in any case, or from its number on the wire; None, "" and 0 are any level."""
    if isinstance(value, int):  # first: the service reads every level from its number
        try:
            return LEVEL_NUMBERS[value]
        except KeyError:
            raise QueryError("experience_level", f"unknown value {value}") from None
    if isinstance(value, ExperienceLevel) or value is None:
        return value
    name = read_text("experience_level", value).lower()
    if not name:
        return None
    try:
        return ExperienceLevel(name)
    except ValueError:
        known = ", ".join(ExperienceLevel)
        raise QueryError("experience_level", f"{quoted(value)} is not one of {known}") from None


def read_country(text: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country code or English name; empty text is all markets."""
    if not read_text("country", text):
        return None
    code = to_alpha2(text)
    if code is None:
        raise QueryError("country", f"{quoted(text)} is not an ISO 3166-1 country code or English name")
    return code


def read_week(text: str) -> date | None:
    """The day of an ISO date (YYYY-MM-DD); empty text is the first week after the data."""
    day = read_text("week", text)
    if not day:
        return None
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise QueryError("week", f"{quoted(text)} is not an ISO date (YYYY-MM-DD)") from None


def read_horizon(weeks: int, *, forecast_weeks: int) -> int:
    """Weeks ahead, at most as many as the model forecasts (``forecast_weeks``) and
    ``MAX_HORIZON_WEEKS``; 0 asks for ``DEFAULT_HORIZON_WEEKS``, or all the model holds when fewer."""
    most = min(MAX_HORIZON_WEEKS, forecast_weeks)
    if weeks == 0:
        return min(DEFAULT_HORIZON_WEEKS, most)
    if not 1 <= weeks <= most:
        raise QueryError(
            "horizon_weeks", f"must be between 1 and {most} (as far as the model was tested), got {weeks}"
        )
    return weeks


def quoted(text: str) -> str:
    """A caller's text as an error repeats it: a short prefix, so that errors stay small."""
    return repr(text if len(text) <= QUOTED_TEXT else text[:QUOTED_TEXT] + "…")


def read_text(field: str, text: str) -> str:
    """A text field stripped, refused past ``MAX_TEXT`` characters before anything reads it."""
    if len(text) > MAX_TEXT:
        raise QueryError(field, f"at most {MAX_TEXT} characters, got {len(text):,}")
    return text.strip()
