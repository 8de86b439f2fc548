from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from gigcast.lookup import ForecastIndex
from gigcast.names import name_key
from gigcast.taxonomy import Taxonomy
from gigcast.v1 import forecast_pb2 as pb
from service import handlers
from service.store import LoadedModel
from tests.conftest import SHARED_REAL
from training.data.ingest import ingest
from training.pipeline import TrainConfig, Trained, train

CONFIG = TrainConfig(horizon=8, workers=1)


def accepted(rows: list[tuple[str, date, float]]) -> pl.DataFrame:
    """Postings as ingestion accepts them: one skill each, rated, expert, US, at noon UTC."""
    return pl.DataFrame(
        {
            "posting_id": [str(i) for i in range(len(rows))],
            "posted_at": [datetime(d.year, d.month, d.day, 12, tzinfo=UTC) for _, d, _ in rows],
            "skills": [[skill] for skill, _, _ in rows],
            "hourly_rate": [rate for _, _, rate in rows],
            "experience_level": ["expert"] * len(rows),
            "country": ["US"] * len(rows),
            "category": [None] * len(rows),
        },
        schema_overrides={"category": pl.String},
    )


def test_a_young_skill_borrows_its_categorys_demand(taxonomy: Taxonomy) -> None:
    rng = np.random.default_rng(5)
    start = date(2025, 6, 2)
    rows = []
    for week in range(40):
        monday = start + timedelta(weeks=week)
        rows += [("prompt-engineering", monday + timedelta(days=k % 7), 40.0) for k in range(rng.poisson(30))]
        if week >= 37:  # three weeks old: too young to forecast alone
            rows += [("rag-development", monday + timedelta(days=k % 7), 60.0) for k in range(10)]
    frame = accepted(rows)
    trained = train(frame, taxonomy=taxonomy, config=CONFIG)
    skills = {row["skill"]: row for row in trained.bundle.skills.iter_rows(named=True)}
    assert skills["rag-development"]["demand_basis"] == "category"
    assert skills["prompt-engineering"]["demand_basis"] == "skill"
    young = trained.bundle.demand.filter(pl.col("skill") == "rag-development")["p50"]
    lender = trained.bundle.demand.filter(pl.col("skill") == "prompt-engineering")["p50"]
    share = 10 / (10 + 30)  # its share of the category's postings while it existed
    # the category's forecast sits near its long-lived skill's level: most of its history
    assert young.mean() == pytest.approx(share * lender.mean(), rel=0.3)


@pytest.mark.skipif(not SHARED_REAL.is_dir(), reason="../shared/data/real is not here")
def test_one_week_of_real_postings_answers_every_label_level_and_country_it_holds(taxonomy: Taxonomy) -> None:
    export = SHARED_REAL / "upwork-2023-01-01-sample.csv"
    read = ingest([export], taxonomy=taxonomy)
    trained = train(read.accepted, taxonomy=read.taxonomy, config=CONFIG)
    index = ForecastIndex(trained.bundle)
    served = LoadedModel(name="gigcast", version="1", alias="champion", run_id="run", index=index)
    labels = pl.read_csv(export, infer_schema=False)["occupations_oservice_pref_label"].drop_nulls().unique()
    for label in labels:  # as a user would ask the service: the export's own words, in any case or spacing
        answer = handlers.estimate_rate(served, pb.EstimateRateRequest(skill=label))
        again = handlers.estimate_rate(served, pb.EstimateRateRequest(skill=label.lower().replace("-", " ")))
        assert answer.skill == again.skill and answer.p50 > 0, label
    label = "Email, Phone & Chat Support"  # one label, not split on its comma
    support = index.find_skill(label)
    assert support is not None
    assert name_key(label) in {name_key(name) for name in (support.display_name, *support.aliases)}
    unknown = read.taxonomy.get(read.taxonomy.canonical("Other Blockchain, NFT & Cryptocurrency"))
    assert unknown.display_name == "Other Blockchain, NFT & Cryptocurrency"  # as the data names it
    accepted = read.accepted
    rated = accepted.filter(pl.col("hourly_rate").is_not_null()).explode("skills")
    for skill, level, country in rated.select("skills", "experience_level", "country").unique().iter_rows():
        entry = index.find_skill(skill)
        assert entry is not None, skill
        answer = index.estimate_rate(entry, level=level, country=country, offset=0)
        assert 0 < answer.p10 <= answer.p50 <= answer.p90, (skill, level, country)
        assert answer.lower < answer.p50 < answer.upper


def test_a_skill_seen_only_in_a_collection_gap_does_not_break_training(taxonomy: Taxonomy) -> None:
    start = date(2025, 9, 1)
    rows = [("sql", start + timedelta(weeks=w, days=d % 7), 30.0) for w in range(15) for d in range(40)]
    rows += [("zzz-new", start + timedelta(weeks=15, days=6), 50.0)] * 2  # a whole last week, all but silent
    frame = accepted(rows)
    trained = train(frame, taxonomy=taxonomy, config=CONFIG)
    assert trained.bundle.skills["skill"].to_list() == ["sql"]
    assert trained.metrics["collection_gap_weeks"] == 1.0


def test_postings_without_rates_train_demand_and_refuse_rate_calls(taxonomy: Taxonomy) -> None:
    import grpc

    from gigcast.v1 import forecast_pb2 as pb
    from service import handlers
    from service.errors import RequestError
    from service.store import LoadedModel

    start = date(2025, 6, 2)
    rows = [
        ("prompt-engineering", start + timedelta(weeks=w, days=k % 7), None)
        for w in range(30)
        for k in range(20)
    ]
    postings = accepted(rows).with_columns(pl.col("hourly_rate").cast(pl.Float64))  # type: ignore[arg-type]
    trained = train(postings, taxonomy=taxonomy, config=CONFIG)
    bundle = trained.bundle
    assert bundle.manifest.targets == ["demand"]
    assert bundle.rates.is_empty() and bundle.demand.height == bundle.manifest.horizon_weeks
    model = LoadedModel("gigcast", "1", "champion", "run", ForecastIndex(bundle))
    demand = handlers.forecast_demand(
        model, pb.ForecastDemandRequest(skill="prompt engineering", horizon_weeks=4)
    )
    assert len(demand.points) == 4 and demand.points[0].p50 > 0
    with pytest.raises(RequestError) as refused:
        handlers.estimate_rate(model, pb.EstimateRateRequest(skill="prompt engineering"))
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "holds no rate forecasts" in refused.value.message
    info = handlers.get_model_info(model, pb.GetModelInfoRequest())
    assert list(info.targets) == [pb.TARGET_DEMAND] and info.horizon_weeks == bundle.manifest.horizon_weeks


def test_rates_alone_train_and_demand_calls_are_refused(taxonomy: Taxonomy) -> None:
    import grpc

    from gigcast.bundle import Target
    from gigcast.v1 import forecast_pb2 as pb
    from service import handlers
    from service.errors import RequestError
    from service.store import LoadedModel

    rng = np.random.default_rng(2)
    start = date(2025, 6, 2)
    rows = [
        ("prompt-engineering", start + timedelta(weeks=w, days=k % 7), float(rng.lognormal(4, 0.3)))
        for w in range(30)
        for k in range(20)
    ]
    trained = train(
        accepted(rows), taxonomy=taxonomy, config=TrainConfig(horizon=8, workers=1, targets=(Target.RATE,))
    )
    bundle = trained.bundle
    assert bundle.manifest.targets == [Target.RATE] and trained.reconciliation is None
    assert bundle.demand.is_empty() and bundle.demand_totals.is_empty()
    model = LoadedModel("gigcast", "1", "champion", "run", ForecastIndex(bundle))
    answer = handlers.estimate_rate(model, pb.EstimateRateRequest(skill="prompt engineering"))
    assert 30 < answer.p50 < 90  # around e**4, about 55 USD/h
    for call, request in (
        (handlers.forecast_demand, pb.ForecastDemandRequest(skill="prompt engineering", horizon_weeks=4)),
        (handlers.forecast_category_demand, pb.ForecastCategoryDemandRequest(horizon_weeks=4)),
    ):
        with pytest.raises(RequestError) as refused:
            call(model, request)  # type: ignore[operator]
        assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "holds no demand forecasts" in refused.value.message


def test_skills_answer_under_every_spelling_and_keep_the_datas_names(
    taxonomy: Taxonomy, tmp_path: Path
) -> None:
    labels = [
        "Python",
        "Front-End Development",
        "Email, Phone & Chat Support",
        "Other Blockchain, NFT & Crypto",
    ]
    start = date(2025, 9, 1)
    rows = [
        (f"{label[:3]}{week}-{n}", start + timedelta(weeks=week, days=n % 7), label, 20.0 + n)
        for label in labels
        for week in range(8)
        for n in range(12)
    ]
    export = tmp_path / "export.csv"
    pl.DataFrame(
        rows, schema=["uid", "published_on", "occupations_oservice_pref_label", "hourly_rate"], orient="row"
    ).with_columns(pl.col("published_on").cast(pl.String)).write_csv(export)
    read = ingest([export], taxonomy=taxonomy)
    assert read.separators == {str(export): "none"}  # a label per row: commas are part of the name
    index = ForecastIndex(train(read.accepted, taxonomy=read.taxonomy, config=CONFIG).bundle)
    assert len(index.skills) == len(labels)
    for spelling in (
        "python",
        "PYTHON",
        "Front-End Development",
        "front end development",
        "frontend development",
    ):
        entry = index.find_skill(spelling)
        assert entry is not None, spelling
        assert index.estimate_rate(entry, level=None, country=None, offset=0).p50 > 0
    crypto = index.find_skill("other blockchain nft and crypto")
    assert crypto is not None and crypto.display_name == "Other Blockchain, NFT & Crypto"


def test_the_manifest_counts_the_postings_of_each_week_trained_on(
    trained: Trained, small_market: pl.DataFrame, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    path = tmp_path / "market.parquet"
    small_market.write_parquet(path)
    manifest = trained.bundle.manifest
    expected: dict[str, int] = {}
    for posted in ingest([path], taxonomy=taxonomy).accepted["posted_at"]:
        monday = posted.date() - timedelta(days=posted.weekday())
        if manifest.data_start <= monday <= manifest.data_end:
            expected[monday.isoformat()] = expected.get(monday.isoformat(), 0) + 1
    assert manifest.postings_per_week == expected
