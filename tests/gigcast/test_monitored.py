"""A monitoring run's figures kept as tags on a model version, and the age of a model's data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from mlflow import MlflowClient

from gigcast.bundle import Target
from gigcast.monitored import TAG_PREFIX, Monitored, data_age_weeks
from gigcast.registry import version_by_alias

FOUND = Monitored(
    run_id="0123456789abcdef",
    through=date(2026, 12, 7),
    drifted=True,
    coverage={Target.DEMAND: 0.55, Target.RATE: 0.8125},
    mase_ratio={Target.DEMAND: 1.7320508075688772, Target.RATE: 0.9},
)


def test_the_figures_read_back_from_their_tags_as_they_were() -> None:
    assert Monitored.from_tags(FOUND.tags()) == FOUND
    calm = Monitored(
        run_id="r", through=date(2026, 12, 7), drifted=False, coverage={Target.RATE: 0.1}, mase_ratio={}
    )
    assert Monitored.from_tags(calm.tags()) == calm
    assert all(key.startswith(TAG_PREFIX) for key in FOUND.tags())


def test_the_figures_read_back_from_a_version_in_the_registry(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    client.create_registered_model("gigcast")
    version = client.create_model_version("gigcast", source=tmp_path.as_uri()).version
    client.set_registered_model_alias("gigcast", "champion", version)
    for key, value in FOUND.tags().items():  # as gigcast-train monitor tags it
        client.set_model_version_tag("gigcast", version, key, value)
    client.set_model_version_tag("gigcast", version, "owner", "pricing team")  # not ours: ignored
    found = version_by_alias(tracking_uri=uri, name="gigcast", alias="champion")
    assert found is not None and found.tags["owner"] == "pricing team"
    assert Monitored.from_tags(found.tags) == FOUND


def test_a_version_never_monitored_has_no_figures() -> None:
    assert Monitored.from_tags({}) is None
    assert Monitored.from_tags({"owner": "pricing team", "run_id": "r"}) is None  # not gigcast's


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("through", "last monday"),
        ("through", ""),
        ("demand_coverage_80", "most"),
        ("rate_mase_ratio", "1,2"),
    ],
)
def test_unreadable_figures_are_none(key: str, value: str) -> None:
    assert Monitored.from_tags(FOUND.tags() | {TAG_PREFIX + key: value}) is None


@pytest.mark.parametrize("key", ["run_id", "through", "drifted"])
def test_figures_missing_their_run_are_none(key: str) -> None:
    tags = FOUND.tags()
    del tags[TAG_PREFIX + key]
    assert Monitored.from_tags(tags) is None


def test_a_figure_that_is_not_a_number_is_left_out() -> None:
    tags = FOUND.tags() | {TAG_PREFIX + "demand_coverage_80": "nan", TAG_PREFIX + "rate_mase_ratio": "inf"}
    found = Monitored.from_tags(tags)
    assert found is not None
    assert found.coverage == {Target.RATE: 0.8125} and found.mase_ratio == {Target.DEMAND: 1.7320508075688772}


# Data ending in the week of Monday 2026-11-09: that week itself ends on Sunday 2026-11-15.
@pytest.mark.parametrize(
    ("today", "weeks"),
    [
        (date(2026, 11, 1), 0),  # before the data ends: nothing has ended since
        (date(2026, 11, 9), 0),  # the data's own week
        (date(2026, 11, 15), 0),  # its last day
        (date(2026, 11, 16), 0),  # the next week has only begun
        (date(2026, 11, 22), 0),  # the next week's Sunday: not over yet
        (date(2026, 11, 23), 1),  # 2026-11-16 to 22 has ended
        (date(2026, 12, 9), 3),  # a Wednesday: the weeks of 16, 23 and 30 November have ended
        (date(2027, 1, 4), 7),  # a Monday across the year: 16 Nov to 27 Dec, seven weeks
    ],
)
def test_the_data_ages_by_complete_weeks(today: date, weeks: int) -> None:
    assert data_age_weeks(date(2026, 11, 9), today=today) == weeks
