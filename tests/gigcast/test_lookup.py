from __future__ import annotations

import math
import tracemalloc
from dataclasses import replace
from datetime import timedelta

import polars as pl
import pytest

from gigcast.bundle import Bundle
from gigcast.lookup import BasisSource, ForecastIndex, WeekOutOfRangeError, Z
from service.store import LoadedModel
from tests.conftest import skills_with_postings
from training.pipeline import Trained


def test_every_skill_answers_ordered_quantiles(model: LoadedModel) -> None:
    index = model.index
    for entry in index.skills.values():
        for level in (None, "entry", "intermediate", "expert"):
            e = index.estimate_rate(entry, level=level, country="US", offset=0)
            assert 0 < e.p10 <= e.p25 <= e.p50 <= e.p75 <= e.p90
            assert e.lower <= e.p50 <= e.upper


def test_premiums_move_the_median_by_their_factor(model: LoadedModel) -> None:
    index = model.index
    entry = index.skills[skills_with_postings(index)[0]]
    base = index.estimate_rate(entry, level=None, country=None, offset=0)
    expert = index.estimate_rate(entry, level="expert", country=None, offset=0)
    entry_level = index.estimate_rate(entry, level="entry", country=None, offset=0)
    assert entry_level.p50 < base.p50 < expert.p50
    cell = model.index.cell(entry, "expert")
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
    entry = model.index.skills[skills_with_postings(model.index)[0]]
    iceland = model.index.estimate_rate(entry, level="expert", country="IS", offset=0)  # never seen
    britain = model.index.estimate_rate(entry, level="expert", country="GB", offset=0)  # same region
    assert iceland.basis.source == "skill_level_region" and "IS ×" in iceland.basis.description
    assert "from its region" in iceland.basis.description
    assert britain.basis.source == "skill_level_country"
    antarctica = model.index.estimate_rate(entry, level=None, country="AQ", offset=0)  # no region with data
    assert antarctica.basis.source == "skill" and "no AQ data" in antarctica.basis.description


def test_names_are_read_in_any_spelling_and_suggestions_are_close(model: LoadedModel) -> None:
    skill = model.index.skills[skills_with_postings(model.index)[0]]
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
    entry = model.index.skills[skills_with_postings(model.index)[0]]
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


def test_answers_hold_the_bundles_values_week_by_week(trained: Trained, model: LoadedModel) -> None:
    index, weeks = model.index, len(model.index.weeks)
    for skill, week_start, p50, lower, upper in trained.bundle.rates.iter_rows():
        entry = index.skills[skill]
        expert = index.cell(entry, "expert")
        offset = index.week_offset(week_start)
        answer = index.estimate_rate(entry, level="expert", country=None, offset=offset)
        assert answer.week_start == week_start
        assert [answer.p50, answer.lower, answer.upper] == [v * expert.factor for v in (p50, lower, upper)]
        assert math.isclose(answer.p90 / answer.p50, math.exp(Z[90] * expert.log_sd))
        assert math.isclose(answer.p10 / answer.p50, math.exp(Z[10] * expert.log_sd))
    for skill, week_start, p10, p50, p90 in trained.bundle.demand.iter_rows():
        entry = index.skills[skill]
        point = index.demand(entry, country=None, horizon=weeks)[index.week_offset(week_start)]
        assert (point.week_start, point.p10, point.p50, point.p90) == (week_start, p10, p50, p90)
        assert index.path(entry, "demand")[index.week_offset(week_start)] == p50


def _index_bytes(bundle: Bundle) -> int:
    """What an index of ``bundle`` holds, as tracemalloc counts it."""
    ForecastIndex(bundle)  # once untraced, so that what any first index makes once is not counted
    tracemalloc.start()
    try:
        index = ForecastIndex(bundle)
        held = tracemalloc.get_traced_memory()[0]
        assert index.skills
        return held
    finally:
        tracemalloc.stop()


def test_a_week_of_forecasts_costs_little_more_than_eight_bytes_a_value(trained: Trained) -> None:
    """Forecasts are held as flat floats: a Python float object alone would take 24 bytes."""
    bundle = trained.bundle
    first = bundle.manifest.first_forecast_week
    cut = {
        name: bundle.table(name).filter(pl.col("week_start") < first + timedelta(weeks=4))
        for name in ("demand", "demand_totals", "rates")
    }
    short = replace(bundle, manifest=replace(bundle.manifest, horizon_weeks=4), **cut)
    values = sum(bundle.table(name).height - cut[name].height for name in cut) * 3  # three quantiles a row
    per_value = (_index_bytes(bundle) - _index_bytes(short)) / values
    assert 0 < per_value < 16  # a float object and its place in a tuple of three took about 30
