"""Two tags that the taxonomy's aliases name as one skill, trained and answered apart."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from client.cli import app
from gigcast.lookup import ForecastIndex
from gigcast.taxonomy import Taxonomy
from service.store import LoadedModel
from tests.conftest import skills_with_postings
from tests.serving import LOOPBACK, started
from training.data.ingest import ingest
from training.pipeline import TrainConfig, train

#: Postings a week of each tag: both are aliases of the taxonomy's "sql".
VOLUMES = {"MySQL": 120, "PostgreSQL": 35}
WEEKS = 20
#: The last weeks, whose mean is the level a forecast starts from.
RECENT = 8


def postings(path: Path) -> dict[str, list[int]]:
    """Poisson counts of each tag, a week at a time, spread over its days; the weekly counts."""
    rng = np.random.default_rng(4)
    first = date(2026, 6, 1)  # a Monday
    rows, counts = [], {tag: [int(n) for n in rng.poisson(volume, WEEKS)] for tag, volume in VOLUMES.items()}
    for tag, weekly in counts.items():
        for week, count in enumerate(weekly):
            for n in range(count):
                day = first + timedelta(weeks=week, days=n % 7)
                rows.append({"posting_id": f"{tag}-{week}-{n}", "posted_at": day.isoformat(), "skills": tag})
    pl.DataFrame(rows).write_csv(path)
    return counts


def test_two_tags_one_alias_would_merge_are_forecast_apart(tmp_path: Path, taxonomy: Taxonomy) -> None:
    assert {taxonomy.resolve(tag) for tag in VOLUMES} == {"sql"}
    counts = postings(tmp_path / "postings.csv")
    read = ingest([tmp_path / "postings.csv"], taxonomy=taxonomy)
    trained = train(read.accepted, taxonomy=read.taxonomy, config=TrainConfig(horizon=4, workers=1))
    index = ForecastIndex(trained.bundle)
    assert set(skills_with_postings(index)) == {"mysql", "postgresql"}
    assert {index.skills[s].category for s in skills_with_postings(index)} == {taxonomy.get("sql").category}
    both = np.mean([sum(week) for week in zip(*counts.values(), strict=True)][-RECENT:])
    model = LoadedModel(name="gigcast", version="1", alias="champion", run_id="run", index=index)
    with started(LOOPBACK) as server:
        server.store.swap(model)
        for tag, weekly in counts.items():
            own = np.mean(weekly[-RECENT:])
            for asked in (tag, tag.lower(), f" {tag.upper()} "):  # the data's label, in any spelling
                result = CliRunner().invoke(
                    app, ["--target", f"127.0.0.1:{server.port}", "demand", asked, "--weeks", "4", "--json"]
                )
                assert result.exit_code == 0, result.output
                answer = json.loads(result.output)
                assert answer["skill"] == tag.lower()
                level = np.mean([point["p50"] for point in answer["points"]])
                # near its own level, not the two tags' sum
                assert level == pytest.approx(own, rel=0.15) != both, (asked, level, own, both)
