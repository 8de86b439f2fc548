from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest

from gigcast.bundle import History
from gigcast.lookup import BasisSource, ForecastIndex
from gigcast.names import name_key
from gigcast.taxonomy import Taxonomy
from gigcast.v1 import forecast_pb2 as pb
from service import handlers
from service.store import LoadedModel
from tests.conftest import SHARED_REAL, skills_with_postings
from training.data.ingest import ingest
from training.market.borrowing import UNSEEN_POSTINGS
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


def launched(*, weeks: int, launch_weeks: int) -> pl.DataFrame:
    """A market of ``weeks`` weeks: a long-lived skill at 30 a week, and a skill launched
    ``launch_weeks`` weeks before the end whose postings grow by one a week from 2."""
    rng = np.random.default_rng(9)
    start = date(2025, 1, 6)
    rows = []
    for week in range(weeks):
        monday = start + timedelta(weeks=week)
        rows += [("prompt-engineering", monday + timedelta(days=k % 7), 40.0) for k in range(rng.poisson(30))]
        age = week - (weeks - launch_weeks)
        if age >= 0:
            rows += [("rag-development", monday + timedelta(days=k % 7), 60.0) for k in range(2 + age)]
    return accepted(rows)


def test_a_skill_launched_in_the_datas_second_half_borrows_at_its_latest_share(taxonomy: Taxonomy) -> None:
    """16 weeks old in a 60-week market: its own weeks cannot say how it grows, so it takes its
    category's course at its share of the last weeks, not of its first small ones, with an interval
    at least as wide as its weekly counts scatter."""
    trained = train(launched(weeks=60, launch_weeks=16), taxonomy=taxonomy, config=CONFIG)
    basis = dict(trained.bundle.skills.select("skill", "demand_basis").iter_rows())
    assert basis["rag-development"] == History.CATEGORY and basis["prompt-engineering"] == History.SKILL
    young = trained.bundle.demand.filter(pl.col("skill") == "rag-development").sort("week_start").head(4)
    latest, lifetime = np.mean([2 + age for age in range(8, 16)]), np.mean([2 + age for age in range(16)])
    assert young["p50"].mean() == pytest.approx(latest, rel=0.2)
    assert young["p50"].mean() > 1.2 * lifetime
    counting = 2 * NormalDist().inv_cdf(0.9) * np.sqrt(young["p50"].to_numpy())  # Poisson p10 to p90
    assert np.all((young["p90"] - young["p10"]).to_numpy() >= counting)


def test_a_skill_as_old_as_most_of_the_data_races_on_its_own(taxonomy: Taxonomy) -> None:
    """The same 16 weeks in a 20-week market: the data's first weeks, not a launch."""
    trained = train(launched(weeks=20, launch_weeks=16), taxonomy=taxonomy, config=CONFIG)
    basis = dict(trained.bundle.skills.select("skill", "demand_basis").iter_rows())
    assert basis["rag-development"] == History.SKILL


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


@pytest.mark.skipif(not SHARED_REAL.is_dir(), reason="../shared/data/real is not here")
def test_every_label_of_a_real_export_answers_those_outside_the_weeks_trained_on_too(
    taxonomy: Taxonomy,
) -> None:
    """Open listings of one day: most labels are seen only in its week, which the data covers in part."""
    read = ingest([SHARED_REAL / "upwork-2023-01-03.csv"], taxonomy=taxonomy)
    index = ForecastIndex(train(read.accepted, taxonomy=read.taxonomy, config=CONFIG).bundle)
    outside = 0
    for label in read.accepted["skills"].explode().unique():
        entry = index.find_skill(label)
        assert entry is not None, label
        rate = index.estimate_rate(entry, level=None, country=None, offset=0)
        assert rate.p50 > 0 and rate.basis.observations <= entry.rate_observations, label
        if not entry.weeks_of_history:
            outside += 1
            assert rate.basis.description.startswith("borrowed from"), label
            assert index.demand_basis(entry, None).observations == 0
    assert outside > 100


def test_a_skill_seen_only_in_a_collection_gap_does_not_break_training(taxonomy: Taxonomy) -> None:
    start = date(2025, 9, 1)
    rows = [("sql", start + timedelta(weeks=w, days=d % 7), 30.0) for w in range(15) for d in range(40)]
    rows += [("zzz-new", start + timedelta(weeks=15, days=6), 50.0)] * 2  # a whole last week, all but silent
    frame = accepted(rows)
    trained = train(frame, taxonomy=taxonomy, config=CONFIG)
    skills = trained.bundle.skills
    assert skills.filter(pl.col("weeks_of_history") > 0)["skill"].to_list() == ["sql"]
    gap = skills.row(by_predicate=pl.col("skill") == "zzz-new", named=True)  # the data names it: it answers
    assert (gap["weeks_of_history"], gap["postings"], gap["rate_observations"]) == (0, 0, 0)
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
    assert (
        bundle.rates.is_empty()
        and bundle.demand.height == bundle.skills.height * bundle.manifest.horizon_weeks
    )
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
    assert len(skills_with_postings(index)) == len(labels)
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


def test_a_taxonomy_skill_without_postings_borrows_from_its_category_with_no_observations(
    trained: Trained,
) -> None:
    index = ForecastIndex(trained.bundle)
    langchain, own = index.find_skill("LangChain"), index.find_skill("prompt engineering")
    assert langchain is not None and own is not None  # llm-apps: only prompt engineering has postings
    assert (langchain.weeks_of_history, langchain.postings, langchain.rate_observations) == (0, 0, 0)
    rate = index.estimate_rate(langchain, level="expert", country="US", offset=0)
    assert rate.basis.source == BasisSource.CATEGORY and rate.basis.observations == 0
    assert rate.basis.description.startswith("borrowed from category llm-apps: no postings of the skill")
    assert rate.basis.model == "category:llm-apps scaled"
    category = index.estimate_rate(own, level="expert", country="US", offset=0)  # the category's rates
    assert rate.p50 == pytest.approx(category.p50, rel=0.1) and rate.p10 < rate.p50 < rate.p90

    weeks = len(index.weeks)
    demand = index.demand(langchain, country=None, horizon=weeks)
    whole = index.category_demand("llm-apps", horizon=weeks)
    basis = index.demand_basis(langchain, None)
    assert (basis.source, basis.observations, basis.weeks_of_history) == (BasisSource.CATEGORY, 0, 0)
    assert basis.description.startswith("borrowed from category llm-apps: no postings of the skill")
    assert "none expected" in basis.description
    seen = sum(e.postings for e in index.skills.values() if e.category == "llm-apps")
    for point, total in zip(demand, whole, strict=True):  # none expected, at most what could go unseen
        assert point.p10 == point.p50 == 0
        assert point.p90 == pytest.approx(total.p90 * UNSEEN_POSTINGS / seen) and 0 < point.p90 < 1

    design = index.find_skill("graphic design")  # its category has no postings: the market lends
    assert design is not None
    assert index.estimate_rate(design, level=None, country=None, offset=0).basis.description.startswith(
        "borrowed from the whole market"
    )
    assert all(point.p50 == 0 for point in index.category_demand("design", horizon=weeks))


def test_a_skill_without_hourly_rates_gets_its_categorys_rate(taxonomy: Taxonomy) -> None:
    rng = np.random.default_rng(3)
    start = date(2025, 6, 2)
    rows: list[tuple[str, date, float | None]] = []
    for week in range(20):
        days = [start + timedelta(weeks=week, days=k % 7) for k in range(20)]
        rows += [("prompt-engineering", day, float(rng.lognormal(4, 0.3))) for day in days]
        rows += [("rag-development", day, None) for day in days[:8]]  # fixed-price postings only
        rows += [("python", day, None) for day in days[:8]]  # and no rates in its category either
    postings = accepted(rows).with_columns(pl.col("hourly_rate").cast(pl.Float64))  # type: ignore[arg-type]
    index = ForecastIndex(train(postings, taxonomy=taxonomy, config=CONFIG).bundle)
    rag, own, python = (index.find_skill(name) for name in ("RAG", "prompt engineering", "python"))
    assert rag is not None and own is not None and python is not None
    category = index.estimate_rate(own, level=None, country=None, offset=0)  # llm-apps' only rates
    answer = index.estimate_rate(rag, level=None, country=None, offset=0)
    assert answer.p50 == pytest.approx(category.p50, rel=0.05)
    assert (answer.basis.source, answer.basis.observations) == (BasisSource.CATEGORY, 0)
    assert answer.basis.weeks_of_history == 20 and rag.postings == 160  # it has postings, just no rates
    assert answer.basis.description.startswith("category llm-apps, scaled to the skill")
    market = index.estimate_rate(python, level=None, country=None, offset=0)
    assert market.p50 == pytest.approx(category.p50, rel=0.05)  # the market's rates are llm-apps' here
    assert market.basis.description.startswith(
        "the whole market, scaled to the skill: no rates in category software-development"
    )
