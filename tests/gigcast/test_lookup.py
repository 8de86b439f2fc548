from __future__ import annotations

import math
from datetime import timedelta

import pytest

from gigcast.lookup import BasisSource, WeekOutOfRangeError
from service.store import LoadedModel


def test_every_skill_answers_ordered_quantiles(model: LoadedModel) -> None:
    index = model.index
    for entry in index.skills.values():
        for level in (None, "entry", "intermediate", "expert"):
            e = index.estimate_rate(entry, level=level, country="US", offset=0)
            assert 0 < e.p10 <= e.p25 <= e.p50 <= e.p75 <= e.p90
            assert e.lower <= e.p50 <= e.upper


def test_premiums_move_the_median_by_their_factor(model: LoadedModel) -> None:
    index = model.index
    entry = next(iter(index.skills.values()))
    base = index.estimate_rate(entry, level=None, country=None, offset=0)
    expert = index.estimate_rate(entry, level="expert", country=None, offset=0)
    entry_level = index.estimate_rate(entry, level="entry", country=None, offset=0)
    assert entry_level.p50 < base.p50 < expert.p50
    cell = model.index._cells[(entry.skill, "expert")]
    assert math.isclose(expert.p50 / base.p50, cell.factor)
    assert expert.basis.source == "skill_level"
    assert expert.basis.observations == cell.observations >= 5  # the level's rates answered
    assert base.basis.observations == entry.rate_observations
    assert expert.basis.data_as_of == index.weeks[0] - timedelta(days=1)  # the Sunday the data ends


def test_intervals_widen_where_rates_are_few(model: LoadedModel) -> None:
    index = model.index
    rows = [
        (entry.rate_observations, index.estimate_rate(entry, level=None, country=None, offset=0))
        for entry in index.skills.values()
    ]
    fewest, most = min(rows, key=lambda row: row[0]), max(rows, key=lambda row: row[0])
    assert fewest[0] < most[0]
    assert fewest[1].p90 / fewest[1].p10 > most[1].p90 / most[1].p10


def test_country_without_data_borrows_its_region_and_says_so(model: LoadedModel) -> None:
    entry = next(iter(model.index.skills.values()))
    iceland = model.index.estimate_rate(entry, level="expert", country="IS", offset=0)  # never seen
    britain = model.index.estimate_rate(entry, level="expert", country="GB", offset=0)  # same region
    assert iceland.basis.source == "skill_level_region" and "IS ×" in iceland.basis.description
    assert "from its region" in iceland.basis.description
    assert britain.basis.source == "skill_level_country"
    antarctica = model.index.estimate_rate(entry, level=None, country="AQ", offset=0)  # no region with data
    assert antarctica.basis.source == "skill" and "no AQ data" in antarctica.basis.description


def test_names_are_read_in_any_spelling_and_suggestions_are_close(model: LoadedModel) -> None:
    skill = next(iter(model.index.skills.values()))
    assert model.index.find_skill(skill.display_name.upper()) == skill
    assert model.index.find_skill(f"  {skill.skill.replace('-', ' ')}s ") == skill
    assert model.index.find_skill("no such skill") is None
    assert model.index.suggest(skill.display_name[:-2])[0] == skill.skill


def test_weeks_snap_to_monday_inside_the_horizon(model: LoadedModel) -> None:
    first = model.index.weeks[0]
    assert model.index.week_offset(None) == 0
    assert model.index.week_offset(first + timedelta(days=3)) == 0
    assert model.index.week_offset(first + timedelta(weeks=2)) == 2
    with pytest.raises(WeekOutOfRangeError):
        model.index.week_offset(first - timedelta(days=1))


def test_country_demand_is_a_share_of_the_whole(model: LoadedModel) -> None:
    entry = next(iter(model.index.skills.values()))
    whole = model.index.demand(entry, country=None, horizon=4)
    us = model.index.demand(entry, country="US", horizon=4)
    assert len(whole) == len(us) == 4
    assert all(0 < u.p50 < w.p50 for u, w in zip(us, whole, strict=True))


def test_every_slice_a_skill_answers_from_has_a_basis_source() -> None:
    sources = {
        BasisSource.of_skill(level=level, place=place)
        for level in (False, True)
        for place in (None, "country", "region")
    }
    assert sources == set(BasisSource) - {BasisSource.CATEGORY}
    assert BasisSource.of_skill(level=True, place="region") == "skill_level_region"  # as the pyfunc says it
