from __future__ import annotations

import dataclasses
import sys
from datetime import date

import pytest

from gigcast.query import (
    DEFAULT_HORIZON_WEEKS,
    LEVEL_NUMBERS,
    MAX_HORIZON_WEEKS,
    MAX_TEXT,
    ExperienceLevel,
    Query,
    QueryError,
    quoted,
    read_horizon,
    read_level,
    read_query,
    read_week,
)
from gigcast.taxonomy import EXPERIENCE_LEVELS
from gigcast.v1 import forecast_pb2 as pb
from tests.test_boundaries import loaded_after


def refused(**fields: object) -> QueryError:
    with pytest.raises(QueryError) as caught:
        read_query(**{"skill": "rag", **fields})  # type: ignore[arg-type]
    return caught.value


def test_every_field_is_read_into_a_typed_query() -> None:
    query = read_query(
        skill=" Prompt Engineering ",
        experience_level="Expert",
        country="united states",
        week=" 2026-11-18 ",
        horizon_weeks=8,
        forecast_weeks=12,
    )
    assert query == Query(
        skill=" Prompt Engineering ",  # as asked: the model resolves it
        level=ExperienceLevel.EXPERT,
        country="US",
        week=date(2026, 11, 18),
        horizon_weeks=8,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.country = "PL"  # type: ignore[misc]


def test_empty_fields_ask_for_any_level_all_markets_the_first_week_and_the_default_horizon() -> None:
    assert read_query(skill="rag") == Query("rag", None, None, None, DEFAULT_HORIZON_WEEKS)
    assert read_query(skill="rag", experience_level=" ", country=" ", week=" ").level is None
    assert read_query(skill="rag", experience_level=0).level is None


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"skill": "  "}, "skill", "must not be empty"),
        ({"experience_level": 9}, "experience_level", "unknown value 9"),
        ({"experience_level": -1}, "experience_level", "unknown value -1"),
        (
            {"experience_level": "senior"},
            "experience_level",
            "'senior' is not one of entry, intermediate, expert",
        ),
        ({"country": "Narnia"}, "country", "'Narnia' is not an ISO 3166-1 country code or English name"),
        ({"week": "soon"}, "week", "'soon' is not an ISO date (YYYY-MM-DD)"),
        (
            {"horizon_weeks": 53},
            "horizon_weeks",
            "must be between 1 and 52 (as far as the model was tested), got 53",
        ),
        (
            {"horizon_weeks": -1},
            "horizon_weeks",
            "must be between 1 and 52 (as far as the model was tested), got -1",
        ),
    ],
)
def test_a_field_that_cannot_be_read_is_named_with_the_reason(
    fields: dict[str, object], field: str, reason: str
) -> None:
    error = refused(**fields)
    assert (error.field, error.reason) == (field, reason)
    assert str(error) == f"{field}: {reason}"
    assert isinstance(error, ValueError)


@pytest.mark.parametrize("field", ["skill", "experience_level", "country", "week"])
def test_long_text_is_refused_before_it_is_read_and_never_quoted_whole(field: str) -> None:
    error = refused(**{field: "a" * (MAX_TEXT + 1)})
    assert (error.field, error.reason) == (field, f"at most {MAX_TEXT} characters, got {MAX_TEXT + 1}")


def test_the_first_field_that_cannot_be_read_is_the_one_named() -> None:
    assert refused(skill="", country="Narnia").field == "skill"
    assert refused(country="Narnia", week="soon", horizon_weeks=99).field == "country"
    assert refused(week="soon", horizon_weeks=99).field == "week"


def test_levels_are_read_by_name_in_any_case_or_by_their_number_on_the_wire() -> None:
    for level in ExperienceLevel:
        assert read_level(level.value.upper()) is level
        assert read_level(level) is level
    for number, level in LEVEL_NUMBERS.items():
        assert read_level(number) is level
        name = "UNSPECIFIED" if level is None else level.name
        assert pb.ExperienceLevel.Name(number) == f"EXPERIENCE_LEVEL_{name}"
    assert set(pb.ExperienceLevel.values()) == set(LEVEL_NUMBERS)
    assert EXPERIENCE_LEVELS == ("entry", "intermediate", "expert")  # the bundle's levels, as text


def test_the_horizon_stops_where_the_model_does() -> None:
    assert read_horizon(0, forecast_weeks=4) == 4  # the default, cut to what the model holds
    assert read_horizon(0, forecast_weeks=MAX_HORIZON_WEEKS + 10) == DEFAULT_HORIZON_WEEKS
    assert read_horizon(4, forecast_weeks=4) == 4
    with pytest.raises(QueryError, match=r"between 1 and 4 \(as far as the model was tested\), got 5"):
        read_horizon(5, forecast_weeks=4)
    with pytest.raises(QueryError, match="between 1 and 52"):
        read_horizon(60, forecast_weeks=104)


def test_a_week_is_any_day_of_it() -> None:
    assert read_week("2026-11-20") == date(2026, 11, 20)
    assert read_week("") is None


def test_quoted_text_is_cut_short() -> None:
    assert quoted("q" * 60) == repr("q" * 60)
    assert quoted("q" * 61) == repr("q" * 60 + "…")


def test_the_parser_imports_only_the_standard_library() -> None:
    loaded = loaded_after("import gigcast.query") - loaded_after("")
    outside = {name for name in loaded if name.split(".")[0] not in {*sys.stdlib_module_names, "gigcast"}}
    assert not outside, sorted(outside)
