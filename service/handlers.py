"""RPC handlers as plain functions: validate the request, look up, build the response.

Nothing here touches grpc's context: errors are raised as RequestError and the servicer turns
them into statuses, so the same functions serve tests, batches and any server model.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from gigcast.bundle import Target
from gigcast.lookup import Basis, BasisSource, DemandPoint, RateEstimate, SkillEntry, WeekOutOfRangeError
from gigcast.query import (
    DEFAULT_HORIZON_WEEKS,
    MAX_TEXT,
    ExperienceLevel,
    QueryError,
    read_country,
    read_horizon,
    read_level,
    read_skill,
    read_text,
    read_week,
)
from gigcast.v1 import forecast_pb2 as pb
from service.errors import (
    RequestError,
    category_not_found,
    invalid,
    invalid_query,
    lacks_target,
    skill_not_found,
)
from service.store import LoadedModel

#: Every basis source as the wire numbers it: the member of the same name, so that a source the
#: protocol lacks fails here, at import, and never on a request.
BASIS_SOURCES = {source: pb.BasisSource.Value(f"BASIS_SOURCE_{source.name}") for source in BasisSource}
MAX_HOURS = 100_000.0  # hours of one gig
MAX_BATCH = 1000
MAX_QUOTE_SKILLS = 20
TREND_WEEKS = DEFAULT_HORIZON_WEEKS  # how far ahead "rising" and "cooling" look: a default forecast
STABLE_BAND = 0.05  # a change of demand within 5% either way is "stable"
DEFAULT_MOVERS, MAX_MOVERS = 10, 100
MOVER_METRICS = {
    pb.MOVER_METRIC_UNSPECIFIED: "demand",
    pb.MOVER_METRIC_DEMAND: "demand",
    pb.MOVER_METRIC_RATE: "rate",
}
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
PAGE_DIGITS = 9  # digits of an offset in a page token
T = TypeVar("T")
# The targets as members read once: reading an enum's member costs about as much as a call.
DEMAND, RATE = Target.DEMAND, Target.RATE


def estimate_rate(model: LoadedModel, request: pb.EstimateRateRequest) -> pb.EstimateRateResponse:
    _require(model, RATE)
    return _estimate(model, request, pb.EstimateRateResponse, model=_model_ref(model))


def batch_estimate_rates(
    model: LoadedModel, request: pb.BatchEstimateRatesRequest
) -> pb.BatchEstimateRatesResponse:
    """Every estimate of the batch, in order; a bad item fails alone, with its own status.

    The model is named once, on the batch, not on every item.
    """
    _require(model, RATE)
    if len(request.requests) > MAX_BATCH:
        raise invalid("requests", f"at most {MAX_BATCH} estimates in one call, got {len(request.requests)}")
    results = []
    for item in request.requests:
        try:
            results.append(pb.EstimateRateResult(estimate=_estimate(model, item, dict)))
        except RequestError as error:
            results.append(pb.EstimateRateResult(error=_item_error(error)))
    return pb.BatchEstimateRatesResponse(results=results, model=_model_ref(model))


def _estimate(
    model: LoadedModel, request: pb.EstimateRateRequest, make: Callable[..., T], /, **more: Any
) -> T:
    """``make`` called with the fields of an EstimateRateResponse and ``more``: the response
    itself, or the fields as a dict for a batch item.

    Nested messages come as dicts (``_basis``, ``_model_ref``): protobuf fills them in place,
    where a message would be copied.
    """
    entry = _skill(model, request.skill)
    level_number = request.experience_level
    level = _level(level_number)
    country = _country(request.country)
    offset = _week(model, request.week)
    e = model.index.estimate_rate(entry, level=level, country=country, offset=offset)
    return make(
        skill=e.skill,
        week_start=_iso(e.week_start),
        country=country or "",
        experience_level=level_number,
        p10=e.p10,
        p25=e.p25,
        p50=e.p50,
        p75=e.p75,
        p90=e.p90,
        median_interval={"lower": e.lower, "upper": e.upper, "coverage": e.coverage},
        basis=_basis(e.basis),
        **more,
    )


def forecast_rate(model: LoadedModel, request: pb.ForecastRateRequest) -> pb.ForecastRateResponse:
    _require(model, RATE)
    entry = _skill(model, request.skill)
    level = _level(request.experience_level)
    country = _country(request.country)
    horizon = _horizon(model, request.horizon_weeks)
    estimates = [
        model.index.estimate_rate(entry, level=level, country=country, offset=i) for i in range(horizon)
    ]
    return pb.ForecastRateResponse(
        skill=entry.skill,
        country=country or "",
        experience_level=request.experience_level,
        points=[
            pb.RatePoint(
                week_start=_iso(e.week_start),
                p10=e.p10,
                p25=e.p25,
                p50=e.p50,
                p75=e.p75,
                p90=e.p90,
                median_interval=_interval(e),
            )
            for e in estimates
        ],
        basis=_basis(estimates[0].basis),
        model=_model_ref(model),
    )


def quote_gig(model: LoadedModel, request: pb.QuoteGigRequest) -> pb.QuoteGigResponse:
    """A price range for the hours at the dearest skill's rates, and where demand is heading."""
    _require(model, RATE)
    if not request.skills:
        raise invalid("skills", "name at least one skill")
    if len(request.skills) > MAX_QUOTE_SKILLS:
        raise invalid("skills", f"at most {MAX_QUOTE_SKILLS} skills, got {len(request.skills)}")
    if not (0 < request.estimated_hours <= MAX_HOURS):
        raise invalid(
            "estimated_hours",
            f"must be more than 0 and at most {MAX_HOURS:,.0f}, got {request.estimated_hours:g}",
        )
    entries = [_skill(model, text) for text in request.skills]
    level, country = _level(request.experience_level), _country(request.country)
    offset = _week(model, request.week)
    estimates = [model.index.estimate_rate(e, level=level, country=country, offset=offset) for e in entries]
    has_demand = DEMAND in model.index.targets
    changes = [_change(model.index.path(e, "demand"), TREND_WEEKS) if has_demand else 0.0 for e in entries]
    dearest = max(estimates, key=lambda e: e.p50)
    hours = request.estimated_hours
    trend = _trend(sum(changes) / len(changes))
    where = f"{level or 'any level'}, {country or 'all markets'}"
    return pb.QuoteGigResponse(
        low_usd=hours * dearest.p25,
        mid_usd=hours * dearest.p50,
        high_usd=hours * dearest.p75,
        skills=[
            pb.SkillQuote(
                skill=e.skill,
                hourly_p25=e.p25,
                hourly_p50=e.p50,
                hourly_p75=e.p75,
                demand_trend=_trend(change),
                basis=_basis(e.basis),
            )
            for e, change in zip(estimates, changes, strict=True)
        ],
        demand_trend=trend,
        explanation=(
            f"{hours:g} hours at the {dearest.skill} rate ({where}): "
            f"${dearest.p25:,.0f} to ${dearest.p75:,.0f} an hour, median ${dearest.p50:,.0f}. "
            "Demand for these skills is "
            f"{TREND_WORDS[trend]} over the next {TREND_WEEKS} weeks."
        ),
        model=_model_ref(model),
    )


def list_movers(model: LoadedModel, request: pb.ListMoversRequest) -> pb.ListMoversResponse:
    """Skills ranked by the forecast change of their demand or rate from now to the horizon.

    A skill without postings in the data is no mover: it has no demand, and its category's rate.
    """
    if request.metric not in MOVER_METRICS:
        raise invalid("metric", f"unknown value {request.metric}")
    if request.limit < 0:
        raise invalid("limit", "must not be negative")
    metric = MOVER_METRICS[request.metric]
    _require(model, Target(metric))
    weeks = _horizon(model, request.horizon_weeks)
    limit = min(request.limit or DEFAULT_MOVERS, MAX_MOVERS)
    category = _text("category", request.category).lower()
    movers = []
    for entry in model.index.skills.values():
        if (category and entry.category != category) or not entry.weeks_of_history:
            continue
        path = model.index.path(entry, metric)
        movers.append(
            pb.Mover(
                skill=entry.skill,
                display_name=entry.display_name,
                current=path[0],
                forecast=path[weeks - 1],
                change=_change(path, weeks),
            )
        )
    movers.sort(key=lambda m: m.change)
    return pb.ListMoversResponse(
        metric=pb.MOVER_METRIC_RATE if metric == "rate" else pb.MOVER_METRIC_DEMAND,
        rising=[m for m in reversed(movers) if m.change > 0][:limit],
        falling=[m for m in movers if m.change < 0][:limit],
        model=_model_ref(model),
    )


def forecast_demand(model: LoadedModel, request: pb.ForecastDemandRequest) -> pb.ForecastDemandResponse:
    _require(model, DEMAND)
    entry = _skill(model, request.skill)
    horizon = _horizon(model, request.horizon_weeks)
    country = _country(request.country)
    points = model.index.demand(entry, country=country, horizon=horizon)
    return pb.ForecastDemandResponse(
        skill=entry.skill,
        country=country or "",
        points=_demand_points(points),
        basis=_basis(model.index.demand_basis(entry, country)),
        model=_model_ref(model),
    )


def forecast_category_demand(
    model: LoadedModel, request: pb.ForecastCategoryDemandRequest
) -> pb.ForecastCategoryDemandResponse:
    _require(model, DEMAND)
    category = _text("category", request.category).lower()
    sizes = model.index.category_sizes
    if category and category not in sizes:
        raise category_not_found(request.category, list(sizes))
    horizon = _horizon(model, request.horizon_weeks)
    points = model.index.category_demand(category or None, horizon=horizon)
    return pb.ForecastCategoryDemandResponse(
        category=category,
        points=_demand_points(points),
        skills=sizes[category] if category else len(model.index.skills),
        model=_model_ref(model),
    )


def list_skills(model: LoadedModel, request: pb.ListSkillsRequest) -> pb.ListSkillsResponse:
    if request.page_size < 0:
        raise invalid("page_size", "must not be negative")
    size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    query = _text("query", request.query).lower()
    category = _text("category", request.category).lower()
    offset = _page_offset(request.page_token, query, category)
    matching = [
        entry
        for entry in model.index.skills.values()
        if (not category or entry.category == category)
        and (
            not query
            or any(query in name.lower() for name in (entry.skill, entry.display_name, *entry.aliases))
        )
    ]
    page = matching[offset : offset + size]
    following = offset + size
    return pb.ListSkillsResponse(
        skills=[
            pb.Skill(
                id=e.skill,
                display_name=e.display_name,
                category=e.category,
                weeks_of_history=e.weeks_of_history,
                aliases=e.aliases,
            )
            for e in page
        ],
        next_page_token=_page_token(following, query, category) if following < len(matching) else "",
        total_size=len(matching),
        model=_model_ref(model),
    )


def get_model_info(model: LoadedModel, request: pb.GetModelInfoRequest) -> pb.GetModelInfoResponse:
    manifest = model.index.manifest
    trained_at = Timestamp()
    trained_at.FromDatetime(manifest.trained_at)
    return pb.GetModelInfoResponse(
        name=model.name,
        version=model.version,
        alias=model.alias,
        run_id=model.run_id,
        trained_at=trained_at,
        data_start=manifest.data_start.isoformat(),
        data_end=manifest.data_end.isoformat(),
        skill_count=len(model.index.skills),
        metrics=manifest.metrics,
        bundle_schema_version=manifest.schema_version,
        targets=[TARGETS[t] for t in manifest.targets],
        horizon_weeks=manifest.horizon_weeks,
    )


TARGETS = {Target.DEMAND: pb.TARGET_DEMAND, Target.RATE: pb.TARGET_RATE}


def _demand_points(points: list[DemandPoint]) -> list[pb.DemandPoint]:
    return [pb.DemandPoint(week_start=_iso(p.week_start), p10=p.p10, p50=p.p50, p90=p.p90) for p in points]


def _require(model: LoadedModel, target: Target) -> None:
    if target not in model.index.targets:
        raise lacks_target(target)


def _text(field_name: str, text: str) -> str:
    """A text field stripped, refused past ``MAX_TEXT`` characters before anything reads it."""
    try:
        return read_text(field_name, text)
    except QueryError as error:
        raise invalid_query(error) from None


def _skill(model: LoadedModel, text: str) -> SkillEntry:
    """The skill ``text`` names. Text past ``MAX_TEXT`` characters is never read; text that names
    no skill is refused as ``read_skill`` refuses it (INVALID_ARGUMENT), else it is NOT_FOUND."""
    entry = model.index.find_skill(text) if len(text) <= MAX_TEXT else None
    if entry is not None:
        return entry
    try:
        read_skill(text)
    except QueryError as error:
        raise invalid_query(error) from None
    raise skill_not_found(text, model.index.suggest(text))


def _level(value: int) -> ExperienceLevel | None:
    try:
        return read_level(value)
    except QueryError as error:
        raise invalid_query(error) from None


def _country(text: str) -> str | None:
    try:
        return read_country(text)
    except QueryError as error:
        raise invalid_query(error) from None


def _week(model: LoadedModel, text: str) -> int:
    """The offset of the forecast week asked for; no week is the first."""
    if not text:  # most calls ask for no week: nothing to read
        return 0
    try:
        return model.index.week_offset(read_week(text))
    except QueryError as error:
        raise invalid_query(error) from None
    except WeekOutOfRangeError as exc:
        raise invalid("week", str(exc)) from None


def _horizon(model: LoadedModel, weeks: int) -> int:
    """Weeks asked for; 0 asks for the default, or the model's horizon when that is shorter."""
    try:
        return read_horizon(weeks, forecast_weeks=len(model.index.weeks))
    except QueryError as error:
        raise invalid_query(error) from None


def _page_token(offset: int, query: str, category: str) -> str:
    """``offset.filters``: where the next page starts, and a digest of the filters it belongs to."""
    return base64.urlsafe_b64encode(f"{offset}.{_filters(query, category)}".encode()).decode()


def _page_offset(token: str, query: str, category: str) -> int:
    """The offset a token stands for; it must come from a request with the same filters."""
    if not token:
        return 0
    try:
        offset, _, filters = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii").partition(".")
    except (ValueError, binascii.Error):  # not ASCII, not base64
        raise invalid("page_token", "not a token this service issued") from None
    if not (offset.isdigit() and len(offset) <= PAGE_DIGITS and len(filters) == len(_filters("", ""))):
        raise invalid("page_token", "not a token this service issued")
    if filters != _filters(query, category):
        raise invalid("page_token", "belongs to a request with other filters")
    return int(offset)


def _filters(query: str, category: str) -> str:
    return hashlib.blake2b(f"{query}\0{category}".encode(), digest_size=8).hexdigest()


TREND_WORDS = {
    pb.DEMAND_TREND_RISING: "rising",
    pb.DEMAND_TREND_STABLE: "stable",
    pb.DEMAND_TREND_COOLING: "cooling",
}


def _change(path: list[float], weeks: int) -> float:
    """Relative change of a forecast path from its first week to week ``weeks`` (or its end)."""
    start, end = path[0], path[min(weeks, len(path)) - 1]
    return end / start - 1 if start > 0 else 0.0


def _trend(change: float) -> pb.DemandTrend:
    if change > STABLE_BAND:
        return pb.DEMAND_TREND_RISING
    if change < -STABLE_BAND:
        return pb.DEMAND_TREND_COOLING
    return pb.DEMAND_TREND_STABLE


def _item_error(error: RequestError) -> pb.ItemError:
    suggestions = error.metadata.get("suggestions", "")
    return pb.ItemError(
        code=error.code.value[0],
        message=error.message,
        field=error.field_name,
        suggestions=[s for s in suggestions.split(",") if s],
    )


#: A day as an ISO date, each day formatted once: formatting costs more than a whole rate lookup.
_iso = functools.lru_cache(maxsize=1024)(date.isoformat)


def _interval(estimate: RateEstimate) -> dict[str, float]:
    return {"lower": estimate.lower, "upper": estimate.upper, "coverage": estimate.coverage}


def _basis(basis: Basis) -> dict[str, Any]:
    return {
        "source": BASIS_SOURCES[basis.source],
        "weeks_of_history": basis.weeks_of_history,
        "observations": basis.observations,
        "description": basis.description,
        "model": basis.model,
        "data_as_of": _iso(basis.data_as_of),
    }


def _model_ref(model: LoadedModel) -> dict[str, str]:
    return {"name": model.name, "version": model.version}
