"""Real Upwork exports from ../shared/data/real; skipped where that folder is absent."""

from __future__ import annotations

import polars as pl
import pytest

from gigcast.taxonomy import Taxonomy
from tests.conftest import SHARED_REAL
from training.data.ingest import ingest

SAMPLE_2023 = SHARED_REAL / "upwork-2023-01-01-sample.csv"
POWER_BI_2024 = SHARED_REAL / "upwork-powerbi-rss-2024.csv"

pytestmark = pytest.mark.skipif(not SHARED_REAL.is_dir(), reason="../shared/data/real is not here")


def test_2023_sample_needs_no_flags(taxonomy: Taxonomy) -> None:
    result = ingest([SAMPLE_2023], taxonomy=taxonomy)
    raw = pl.read_csv(SAMPLE_2023, infer_schema=False)
    assert result.rows == raw.height
    assert result.accepted.height >= 0.9 * raw.height
    assert result.accepted["country"].drop_nulls().is_in(["US", "IN", "GB", "AU", "CA"]).sum() > 2500
    assert set(result.accepted["experience_level"].drop_nulls()) == {"entry", "intermediate", "expert"}
    hourly = raw.filter(pl.col("type") == "hourly").height
    assert result.accepted["hourly_rate"].is_not_null().sum() >= 0.99 * hourly


def test_power_bi_feed_parses_list_literals_and_country_names(taxonomy: Taxonomy) -> None:
    result = ingest([POWER_BI_2024], taxonomy=taxonomy)
    assert result.rows == pl.read_csv(POWER_BI_2024, infer_schema=False).height
    skills = result.accepted["skills"].explode()
    assert (skills == "microsoft-power-bi").sum() > 0.5 * result.accepted.height
    assert not skills.str.contains("[\\[\\]']").any()
    assert {"GB", "PH", "US", "AU"} <= set(result.accepted["country"].drop_nulls())
    assert result.reasons() == {"duplicate_posting_id": 18}  # the feed's repeated snapshots
    ranged = result.accepted.filter(pl.col("hourly_rate").is_not_null())
    assert ranged["hourly_rate"].is_between(3, 1000).all()


def test_the_whole_folder_together(taxonomy: Taxonomy) -> None:
    files = sorted(SHARED_REAL.glob("*.csv"))
    result = ingest([SHARED_REAL], taxonomy=taxonomy)
    assert result.rows == sum(pl.read_csv(p, infer_schema=False).height for p in files)
    assert len(result.columns) == len(files)  # each file mapped on its own
