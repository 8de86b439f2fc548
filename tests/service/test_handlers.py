from __future__ import annotations

import base64
import math
from datetime import timedelta

import grpc
import pytest

from gigcast.lookup import BasisSource
from gigcast.v1 import forecast_pb2 as pb
from service import handlers
from service.errors import RequestError
from service.store import LoadedModel
from tests.conftest import skills_with_postings


def first_skill(model: LoadedModel) -> str:
    return skills_with_postings(model.index)[0]


def refused(call, model: LoadedModel, request) -> RequestError:  # type: ignore[no-untyped-def]
    with pytest.raises(RequestError) as caught:
        call(model, request)
    return caught.value


def test_estimate_rate_answers_by_display_name_in_any_case(model: LoadedModel) -> None:
    skill = model.index.skills[first_skill(model)]
    response = handlers.estimate_rate(
        model,
        pb.EstimateRateRequest(
            skill=skill.display_name.upper(),
            experience_level=pb.EXPERIENCE_LEVEL_EXPERT,
            country="united states",
        ),
    )
    assert response.skill == skill.skill
    assert response.country == "US"
    assert response.week_start == model.index.weeks[0].isoformat()
    assert 0 < response.p10 <= response.p25 <= response.p50 <= response.p75 <= response.p90
    assert response.median_interval.lower <= response.p50 <= response.median_interval.upper
    assert response.basis.source == pb.BASIS_SOURCE_SKILL_LEVEL_COUNTRY
    assert response.basis.observations > 0
    assert response.basis.data_as_of == model.index.manifest.data_as_of.isoformat()
    assert (response.model.name, response.model.version) == ("gigcast", "1")


def test_week_picks_the_forecast_week(model: LoadedModel) -> None:
    week = model.index.weeks[3] + timedelta(days=2)
    response = handlers.estimate_rate(
        model, pb.EstimateRateRequest(skill=first_skill(model), week=week.isoformat())
    )
    assert response.week_start == model.index.weeks[3].isoformat()


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.EstimateRateRequest(skill=""), "skill"),
        (pb.EstimateRateRequest(skill="{skill}", experience_level=9), "experience_level"),
        (pb.EstimateRateRequest(skill="{skill}", country="Narnia"), "country"),
        (pb.EstimateRateRequest(skill="{skill}", week="soon"), "week"),
        (pb.EstimateRateRequest(skill="{skill}", week="1999-01-04"), "week"),
    ],
)
def test_bad_fields_are_invalid_argument_naming_the_field(
    model: LoadedModel, request_: pb.EstimateRateRequest, field: str
) -> None:
    request_.skill = request_.skill.format(skill=first_skill(model))
    error = refused(handlers.estimate_rate, model, request_)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in error.violations] == [field]


def test_unknown_skill_is_not_found_with_suggestions(model: LoadedModel) -> None:
    skill = first_skill(model)
    error = refused(handlers.estimate_rate, model, pb.EstimateRateRequest(skill=skill[:-1] + "x"))
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert skill in error.metadata["suggestions"].split(",")
    assert skill in error.message


@pytest.mark.parametrize("weeks", [53, -1, 2**31 - 1])
def test_demand_horizon_past_52_or_negative_is_refused(model: LoadedModel, weeks: int) -> None:
    error = refused(
        handlers.forecast_demand,
        model,
        pb.ForecastDemandRequest(skill=first_skill(model), horizon_weeks=weeks),
    )
    assert error.violations[0][0] == "horizon_weeks"


def test_demand_gives_one_monday_per_week(model: LoadedModel) -> None:
    response = handlers.forecast_demand(
        model, pb.ForecastDemandRequest(skill=first_skill(model), horizon_weeks=8)
    )
    assert [p.week_start for p in response.points] == [w.isoformat() for w in model.index.weeks[:8]]
    assert all(0 <= p.p10 <= p.p50 <= p.p90 for p in response.points)


def test_list_skills_pages_through_everything_once(model: LoadedModel) -> None:
    seen, token = [], ""
    while True:
        page = handlers.list_skills(model, pb.ListSkillsRequest(page_size=2, page_token=token))
        seen += [s.id for s in page.skills]
        assert page.total_size == len(model.index.skills)
        token = page.next_page_token
        if not token:
            break
    assert seen == sorted(model.index.skills)


def test_list_skills_filters_and_refuses_foreign_tokens(model: LoadedModel) -> None:
    entry = model.index.skills[first_skill(model)]
    filtered = handlers.list_skills(model, pb.ListSkillsRequest(category=entry.category.upper()))
    assert {s.category for s in filtered.skills} == {entry.category}
    token = handlers.list_skills(model, pb.ListSkillsRequest(page_size=1)).next_page_token
    for request in (
        pb.ListSkillsRequest(page_token=token, query="x"),
        pb.ListSkillsRequest(page_token="!!!"),
        pb.ListSkillsRequest(page_size=-1),
    ):
        assert refused(handlers.list_skills, model, request).code == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(b'{"offset": 1e400, "query": "", "category": ""}').decode(),
        base64.urlsafe_b64encode(b"Infinity").decode(),
        base64.urlsafe_b64encode(b"[" * 100_000).decode(),
        base64.urlsafe_b64encode(b"99999999999999999999.0123456789abcdef").decode(),
        base64.urlsafe_b64encode("1.é".encode()).decode(),
        "1e400",
        "é",
        "[" * 100_000,
    ],
)
def test_crafted_page_tokens_are_invalid_arguments(model: LoadedModel, token: str) -> None:
    error = refused(handlers.list_skills, model, pb.ListSkillsRequest(page_token=token))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and error.field_name == "page_token"


def test_quote_hours_are_bounded(model: LoadedModel) -> None:
    skills = list(model.index.skills)[:1]
    for hours in (1e308, math.inf, math.nan, 0.0, -1.0):
        request = pb.QuoteGigRequest(skills=skills, estimated_hours=hours)
        assert refused(handlers.quote_gig, model, request).field_name == "estimated_hours"
    most = handlers.quote_gig(model, pb.QuoteGigRequest(skills=skills, estimated_hours=handlers.MAX_HOURS))
    assert math.isfinite(most.high_usd)


def test_defaults_never_ask_past_a_short_models_horizon(model: LoadedModel, short_model: LoadedModel) -> None:
    short = short_model
    skill = first_skill(model)
    movers = handlers.list_movers(short, pb.ListMoversRequest())
    for mover in [*movers.rising, *movers.falling]:  # measured to the model's last week, its 4th
        assert mover.forecast == short.index.path(short.index.skills[mover.skill], "demand")[3]
    assert len(movers.rising) + len(movers.falling) > 0
    assert len(handlers.forecast_demand(short, pb.ForecastDemandRequest(skill=skill)).points) == 4
    assert len(handlers.forecast_rate(short, pb.ForecastRateRequest(skill=skill)).points) == 4
    assert len(handlers.forecast_category_demand(short, pb.ForecastCategoryDemandRequest()).points) == 4
    assert (
        len(handlers.forecast_demand(model, pb.ForecastDemandRequest(skill=skill)).points)
        == handlers.TREND_WEEKS
    )
    asked = pb.ForecastDemandRequest(skill=skill, horizon_weeks=5)
    assert refused(handlers.forecast_demand, short, asked).field_name == "horizon_weeks"


def test_skills_without_postings_are_no_movers(model: LoadedModel) -> None:
    for metric in (pb.MOVER_METRIC_DEMAND, pb.MOVER_METRIC_RATE):
        movers = handlers.list_movers(model, pb.ListMoversRequest(metric=metric, limit=100))
        listed = {mover.skill for mover in [*movers.rising, *movers.falling]}
        assert listed and listed <= set(skills_with_postings(model.index))  # the taxonomy's others borrow


def test_model_info_describes_the_bundle(model: LoadedModel) -> None:
    info = handlers.get_model_info(model, pb.GetModelInfoRequest())
    manifest = model.index.manifest
    assert (info.name, info.version, info.alias) == ("gigcast", "1", "champion")
    assert info.skill_count == len(model.index.skills)
    assert info.data_end == manifest.data_end.isoformat()
    assert info.trained_at.ToDatetime().date() == manifest.trained_at.date()
    assert set(info.metrics) == set(manifest.metrics) and "demand_mase" in info.metrics


def test_a_horizon_beyond_what_the_model_holds_is_refused(model: LoadedModel) -> None:
    held = len(model.index.weeks)  # the fixture's model forecasts 12 weeks
    ok = handlers.forecast_demand(
        model, pb.ForecastDemandRequest(skill=first_skill(model), horizon_weeks=held)
    )
    assert len(ok.points) == held
    error = refused(
        handlers.forecast_demand,
        model,
        pb.ForecastDemandRequest(skill=first_skill(model), horizon_weeks=held + 1),
    )
    assert error.violations == [
        ("horizon_weeks", f"must be between 1 and {held} (as far as the model was tested), got {held + 1}")
    ]


def test_demand_in_a_country_without_postings_says_so(model: LoadedModel) -> None:
    response = handlers.forecast_demand(
        model, pb.ForecastDemandRequest(skill=first_skill(model), horizon_weeks=2, country="Iceland")
    )
    assert all(point.p50 == 0 for point in response.points)
    assert "no IS postings in the data" in response.basis.description


def test_forecast_rate_gives_a_week_by_week_path_with_premiums(model: LoadedModel) -> None:
    skill = first_skill(model)
    request = pb.ForecastRateRequest(
        skill=skill, experience_level=pb.EXPERIENCE_LEVEL_EXPERT, country="US", horizon_weeks=6
    )
    response = handlers.forecast_rate(model, request)
    assert [p.week_start for p in response.points] == [w.isoformat() for w in model.index.weeks[:6]]
    first = response.points[0]
    single = handlers.estimate_rate(
        model, pb.EstimateRateRequest(skill=skill, experience_level=3, country="US")
    )
    assert (first.p10, first.p50, first.p90) == (single.p10, single.p50, single.p90)
    assert all(p.p10 <= p.p25 <= p.p50 <= p.p75 <= p.p90 for p in response.points)
    assert response.basis.source == pb.BASIS_SOURCE_SKILL_LEVEL_COUNTRY


def test_batch_answers_each_item_with_its_own_status(model: LoadedModel) -> None:
    skill = first_skill(model)
    request = pb.BatchEstimateRatesRequest(
        requests=[
            pb.EstimateRateRequest(skill=skill),
            pb.EstimateRateRequest(skill=skill[:-1] + "x"),
            pb.EstimateRateRequest(skill=skill, country="Narnia"),
        ]
    )
    results = handlers.batch_estimate_rates(model, request).results
    assert [r.WhichOneof("result") for r in results] == ["estimate", "error", "error"]
    assert results[0].estimate.skill == skill
    assert (results[1].error.code, results[1].error.field) == (grpc.StatusCode.NOT_FOUND.value[0], "skill")
    assert skill in results[1].error.suggestions
    assert (results[2].error.code, results[2].error.field) == (
        grpc.StatusCode.INVALID_ARGUMENT.value[0],
        "country",
    )


def test_a_batch_over_a_thousand_is_refused_whole(model: LoadedModel) -> None:
    request = pb.BatchEstimateRatesRequest(requests=[pb.EstimateRateRequest(skill=first_skill(model))] * 1001)
    error = refused(handlers.batch_estimate_rates, model, request)
    assert error.violations[0][0] == "requests"
    assert (
        len(
            handlers.batch_estimate_rates(
                model, pb.BatchEstimateRatesRequest(requests=request.requests[:1000])
            ).results
        )
        == 1000
    )


def test_a_quote_prices_the_hours_at_the_dearest_skill(model: LoadedModel) -> None:
    skills = list(model.index.skills)[:3]
    request = pb.QuoteGigRequest(skills=skills, estimated_hours=40, experience_level=3, country="US")
    quote = handlers.quote_gig(model, request)
    single = {
        s: handlers.estimate_rate(model, pb.EstimateRateRequest(skill=s, experience_level=3, country="US"))
        for s in skills
    }
    dearest = max(single.values(), key=lambda e: e.p50)
    assert (quote.low_usd, quote.mid_usd, quote.high_usd) == (
        40 * dearest.p25,
        40 * dearest.p50,
        40 * dearest.p75,
    )
    assert [q.skill for q in quote.skills] == skills
    assert all(q.demand_trend != pb.DEMAND_TREND_UNSPECIFIED for q in quote.skills)
    assert [q.basis.observations for q in quote.skills] == [single[s].basis.observations for s in skills]
    assert {q.basis.data_as_of for q in quote.skills} == {model.index.manifest.data_as_of.isoformat()}
    assert dearest.skill in quote.explanation and "40 hours" in quote.explanation


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.QuoteGigRequest(estimated_hours=10), "skills"),
        (pb.QuoteGigRequest(skills=["{skill}"], estimated_hours=0), "estimated_hours"),
        (pb.QuoteGigRequest(skills=["{skill}"], estimated_hours=float("nan")), "estimated_hours"),
        (pb.QuoteGigRequest(skills=["{skill}"] * 21, estimated_hours=10), "skills"),
    ],
)
def test_bad_quotes_name_the_field(model: LoadedModel, request_: pb.QuoteGigRequest, field: str) -> None:
    request_.skills[:] = [s.format(skill=first_skill(model)) for s in request_.skills]
    assert refused(handlers.quote_gig, model, request_).violations[0][0] == field


def test_movers_rank_skills_by_forecast_change(model: LoadedModel) -> None:
    movers = handlers.list_movers(model, pb.ListMoversRequest(metric=pb.MOVER_METRIC_DEMAND, horizon_weeks=8))
    rising = [m.change for m in movers.rising]
    falling = [m.change for m in movers.falling]
    assert rising == sorted(rising, reverse=True) and all(c > 0 for c in rising)
    assert falling == sorted(falling) and all(c < 0 for c in falling)
    assert len(rising) + len(falling) <= len(model.index.skills)
    for mover in [*movers.rising, *movers.falling]:
        assert mover.change == pytest.approx(mover.forecast / mover.current - 1)
    one = handlers.list_movers(model, pb.ListMoversRequest(metric=pb.MOVER_METRIC_RATE, limit=1))
    assert len(one.rising) <= 1 and len(one.falling) <= 1 and one.metric == pb.MOVER_METRIC_RATE
    assert refused(handlers.list_movers, model, pb.ListMoversRequest(limit=-1)).violations[0][0] == "limit"


def test_category_and_market_demand_are_the_sums_of_their_skills_answers(model: LoadedModel) -> None:
    weeks = 8
    by_category: dict[str, list[float]] = {}
    for entry in model.index.skills.values():
        answer = handlers.forecast_demand(
            model, pb.ForecastDemandRequest(skill=entry.skill, horizon_weeks=weeks)
        )
        sums = by_category.setdefault(entry.category, [0.0] * weeks)
        for k, point in enumerate(answer.points):
            sums[k] += point.p50
    for category, sums in [
        *by_category.items(),
        ("", [sum(w) for w in zip(*by_category.values(), strict=True)]),
    ]:
        request = pb.ForecastCategoryDemandRequest(category=category.upper(), horizon_weeks=weeks)
        answer = handlers.forecast_category_demand(model, request)
        assert answer.category == category
        assert [p.p50 for p in answer.points] == pytest.approx(sums, rel=1e-9)
        assert all(0 <= p.p10 <= p.p50 <= p.p90 for p in answer.points)
        members = [e for e in model.index.skills.values() if not category or e.category == category]
        assert answer.skills == len(members)


def test_an_unknown_category_is_not_found_and_names_the_known_ones(model: LoadedModel) -> None:
    request = pb.ForecastCategoryDemandRequest(category="knitting", horizon_weeks=4)
    error = refused(handlers.forecast_category_demand, model, request)
    assert error.code == grpc.StatusCode.NOT_FOUND
    assert set(error.metadata["categories"].split(",")) == {e.category for e in model.index.skills.values()}


@pytest.mark.parametrize(
    ("request_", "violation"),
    [
        (pb.EstimateRateRequest(skill="  "), ("skill", "must not be empty")),
        (
            pb.EstimateRateRequest(skill="{skill}", experience_level=9),
            ("experience_level", "unknown value 9"),
        ),
        (
            pb.EstimateRateRequest(skill="{skill}", country="Narnia"),
            ("country", "'Narnia' is not an ISO 3166-1 country code or English name"),
        ),
        (
            pb.EstimateRateRequest(skill="{skill}", week="soon"),
            ("week", "'soon' is not an ISO date (YYYY-MM-DD)"),
        ),
        (
            pb.EstimateRateRequest(skill="{skill}", country="x" * 201),
            ("country", "at most 200 characters, got 201"),
        ),
    ],
)
def test_bad_fields_are_described_in_the_message_and_the_violation(
    model: LoadedModel, request_: pb.EstimateRateRequest, violation: tuple[str, str]
) -> None:
    request_.skill = request_.skill.format(skill=first_skill(model))
    error = refused(handlers.estimate_rate, model, request_)
    assert error.violations == [violation]
    assert (error.message, error.field_name) == (f"{violation[0]}: {violation[1]}", violation[0])


def test_a_week_outside_the_forecast_names_the_forecast_weeks(model: LoadedModel) -> None:
    weeks = model.index.weeks
    request = pb.EstimateRateRequest(skill=first_skill(model), week="1999-01-04")
    assert refused(handlers.estimate_rate, model, request).violations == [
        ("week", f"week 1999-01-04 is outside the forecast, {weeks[0]} to {weeks[-1]}")
    ]


def test_an_unknown_skill_is_found_before_other_fields_are_read(model: LoadedModel) -> None:
    request = pb.EstimateRateRequest(skill="basket weaving", experience_level=9, country="Narnia")
    assert refused(handlers.estimate_rate, model, request).code == grpc.StatusCode.NOT_FOUND
    demand = pb.ForecastDemandRequest(skill=first_skill(model), horizon_weeks=99, country="Narnia")
    assert refused(handlers.forecast_demand, model, demand).field_name == "horizon_weeks"


def test_every_basis_source_has_its_own_value_on_the_wire() -> None:
    assert set(handlers.BASIS_SOURCES) == set(BasisSource)
    wire = set(pb.BasisSource.values()) - {pb.BASIS_SOURCE_UNSPECIFIED}
    assert sorted(handlers.BASIS_SOURCES.values()) == sorted(wire)
    assert handlers.BASIS_SOURCES[BasisSource.SKILL_LEVEL_REGION] == pb.BASIS_SOURCE_SKILL_LEVEL_REGION
