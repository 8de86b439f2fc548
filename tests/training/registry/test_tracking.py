"""Training runs in a real MLflow registry (SQLite): how they are listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gigcast.lookup import ForecastIndex
from tests.conftest import register, skills_with_postings
from training.pipeline import Trained
from training.registry import tracking
from training.registry.tracking import RegistryError, recent_runs


def test_runs_are_listed_newest_first_a_page_at_a_time(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    versions = [register(uri, trained, tmp_path / f"v{i}") for i in range(3)]
    listed = recent_runs(tracking_uri=uri, model_name="gigcast", limit=100_000)  # MLflow takes 50,000
    assert listed["version"].to_list() == versions[::-1]
    monkeypatch.setattr(tracking, "RUNS_PAGE", 2)  # three runs: two pages
    assert recent_runs(tracking_uri=uri, model_name="gigcast", limit=100_000).equals(listed)
    newest = recent_runs(tracking_uri=uri, model_name="gigcast", limit=2)
    assert newest["version"].to_list() == versions[:0:-1]

    skill = skills_with_postings(ForecastIndex(trained.bundle))[0]
    of_skill = recent_runs(tracking_uri=uri, model_name="gigcast", limit=3, skill=skill)
    assert of_skill["demand_mase"].is_not_null().all()
    wanted = f"none of the 3 newest runs of gigcast has figures of it; did you mean {skill}"
    with pytest.raises(RegistryError, match=wanted):  # an UnknownSkillError
        recent_runs(tracking_uri=uri, model_name="gigcast", limit=3, skill=skill[:-1] + "x")
