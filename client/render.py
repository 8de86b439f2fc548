"""Responses as rich renderables, failures as lines and JSON objects: pure functions, printed by the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

import grpc
import typer
from google.protobuf import any_pb2
from rich.console import Group
from rich.table import Column, Table
from rich.text import Text

from gigcast.v1 import forecast_pb2 as pb

if TYPE_CHECKING:
    from client.channel import Connection

BASIS_NAMES = {
    pb.BASIS_SOURCE_SKILL_LEVEL_COUNTRY: "skill, level and country",
    pb.BASIS_SOURCE_SKILL_LEVEL: "skill and level",
    pb.BASIS_SOURCE_SKILL_COUNTRY: "skill and country",
    pb.BASIS_SOURCE_SKILL: "skill",
    pb.BASIS_SOURCE_CATEGORY: "category",
    pb.BASIS_SOURCE_SKILL_LEVEL_REGION: "skill, level and the country's region",
    pb.BASIS_SOURCE_SKILL_REGION: "skill and the country's region",
}
SPARKS = "▁▂▃▄▅▆▇█"
TRENDS = {
    pb.DEMAND_TREND_RISING: ("rising", "green"),
    pb.DEMAND_TREND_STABLE: ("stable", "yellow"),
    pb.DEMAND_TREND_COOLING: ("cooling", "red"),
}


def rate(response: pb.EstimateRateResponse, ahead: pb.ForecastRateResponse) -> Group:
    level = pb.ExperienceLevel.Name(response.experience_level).removeprefix("EXPERIENCE_LEVEL_").lower()
    where = response.country or "all markets"
    level = "all levels" if level == "unspecified" else level
    heading = Text(f"{response.skill} · {level} · {where} · week of {response.week_start}", style="bold")
    table = Table()
    for name in ("p10", "p25", "p50", "p75", "p90"):
        table.add_column(name, justify="right", style="bold" if name == "p50" else None)
    table.add_row(*(f"${getattr(response, name):,.0f}/h" for name in ("p10", "p25", "p50", "p75", "p90")))
    interval = response.median_interval
    medians = [point.p50 for point in ahead.points]
    return Group(
        heading,
        table,
        Text(
            f"median forecast ${response.p50:,.2f}/h, {interval.coverage:.0%} interval "
            f"${interval.lower:,.2f}–${interval.upper:,.2f}"
        ),
        Text.assemble(
            f"next {len(medians)} weeks: ${medians[0]:,.2f} → ${medians[-1]:,.2f}/h ",
            _change(medians[0], medians[-1]),
            f"  {sparkline(medians)}",
        ),
        _footer(response.basis, response.model),
    )


def demand(response: pb.ForecastDemandResponse) -> Group:
    where = response.country or "all markets"
    heading = f"{response.skill} · {where} · postings per week"
    return _demand(heading, response.points, _footer(response.basis, response.model))


def category_demand(response: pb.ForecastCategoryDemandResponse) -> Group:
    what = f"category {response.category}" if response.category else "the whole market"
    heading = f"{what} · the sum of {response.skills} skills · postings per week"
    return _demand(heading, response.points, _model(response.model))


def postings(value: float) -> str:
    """Postings a week to one decimal; under one, to two significant digits, so that the top of a
    skill's interval that the data never saw reads as what it is: ``0.018``, not ``0.0``."""
    return f"{value:.2g}" if 0 < value < 1 else f"{value:,.1f}"


def _demand(heading: str, points: Sequence[pb.DemandPoint], footer: Text) -> Group:
    table = Table()
    table.add_column("week")
    table.add_column("p10", justify="right")
    table.add_column("p50", justify="right", style="bold")
    table.add_column("p90", justify="right")
    table.add_column("p10 ▓ p50 ░ p90")
    top = max((p.p90 for p in points), default=0.0) or 1.0
    for point in points:
        table.add_row(
            point.week_start,
            postings(point.p10),
            postings(point.p50),
            postings(point.p90),
            interval_bar(point.p10 / top, point.p50 / top, point.p90 / top),
        )
    medians = [point.p50 for point in points]
    start, end = medians[0], medians[-1]
    trend = Text.assemble(f"{start:,.1f} → {end:,.1f} a week ", _change(start, end), f" {sparkline(medians)}")
    return Group(Text(heading, style="bold"), table, trend, footer)


def quote(response: pb.QuoteGigResponse) -> Group:
    word, colour = TRENDS.get(response.demand_trend, ("unknown", "dim"))
    heading = Text.assemble(
        (f"${response.low_usd:,.0f} – ${response.high_usd:,.0f}", "bold"),
        f"  (median ${response.mid_usd:,.0f}) · demand ",
        (word, colour),
    )
    columns = (Column(name, justify="right") for name in ("p25", "p50", "p75", "rates"))
    table = Table("skill", *columns, "demand")
    for item in response.skills:
        word, colour = TRENDS.get(item.demand_trend, ("unknown", "dim"))
        table.add_row(
            item.skill,
            f"${item.hourly_p25:,.0f}/h",
            f"${item.hourly_p50:,.0f}/h",
            f"${item.hourly_p75:,.0f}/h",
            f"{item.basis.observations:,}",
            Text(word, style=colour),
        )
    as_of = Text(f"data to {response.skills[0].basis.data_as_of}", style="dim") if response.skills else Text()
    return Group(heading, table, Text(response.explanation), as_of, _model(response.model))


def skills(response: pb.ListSkillsResponse) -> Group:
    table = Table()
    for name in ("id", "name", "category", "weeks", "also"):
        table.add_column(name, justify="right" if name == "weeks" else "left")
    for skill in response.skills:
        weeks = str(skill.weeks_of_history)
        table.add_row(skill.id, skill.display_name, skill.category, weeks, ", ".join(skill.aliases))
    count = response.total_size
    return Group(table, Text(f"{count} skill{'' if count == 1 else 's'}", style="dim"))


def movers(response: pb.ListMoversResponse) -> Group:
    unit = "USD/h" if response.metric == pb.MOVER_METRIC_RATE else "postings a week"
    parts: list[Table | Text] = []
    for title, rows in (("rising", response.rising), ("falling", response.falling)):
        table = Table(title=f"{title} ({unit})", title_justify="left")
        for name in ("skill", "now", "then", "change"):
            table.add_column(name, justify="left" if name == "skill" else "right")
        for mover in rows:
            table.add_row(
                mover.display_name or mover.skill,
                f"{mover.current:,.1f}",
                f"{mover.forecast:,.1f}",
                _change(mover.current, mover.forecast),
            )
        parts.append(table)
    return Group(*parts, _model(response.model))


def info(response: pb.GetModelInfoResponse) -> Group:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    trained = response.trained_at.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M UTC")
    for name, value in (
        ("model", f"{response.name} v{response.version} (@{response.alias})"),
        ("trained", trained),
        ("data", f"{response.data_start} to {response.data_end}"),
        ("skills", str(response.skill_count)),
        ("run", response.run_id),
    ):
        table.add_row(name, value)
    metrics = Table("metric", Column("value", justify="right"))
    for name in sorted(response.metrics):
        metrics.add_row(name, f"{response.metrics[name]:.3f}")
    return Group(table, metrics)


def failure(error: grpc.RpcError, connection: Connection, details: Sequence[any_pb2.Any]) -> str:
    """A failed call as its line on stderr (a line per field for a bad request), saying what to do."""
    from google.rpc import error_details_pb2

    code, message = error.code(), error.details() or ""
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and "model" not in message:
        why = code.name.lower()
        return f"no answer from the gigcast server at {connection.target} ({why}); is it running?"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        given = "the token given was refused" if connection.token else "it needs a token"
        return f"{connection.target}: {given}; pass --token or set $GIGCAST_TOKEN"
    for detail in details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return "\n".join(f"{v.field}: {v.description}" for v in bad.field_violations)
    return message or code.name


def error(code: grpc.StatusCode, message: str, details: Sequence[any_pb2.Any] = ()) -> dict[str, Any]:
    """A failure as ``--json`` prints it: the status code's name, the line shown on stderr, and the
    details the server sent (``google.rpc`` messages) in protobuf's JSON mapping, each with its ``@type``.
    """
    body: dict[str, Any] = {"code": code.name, "message": message}
    if details:
        body["details"] = [_detail(packed) for packed in details]
    return {"error": body}


def usage_error(exc: typer.TyperException) -> dict[str, Any]:
    """A usage error as ``--json`` prints it: INVALID_ARGUMENT, as the server says of a bad field,
    with a ``google.rpc.BadRequest`` naming the option or argument at fault when click knows it."""
    from google.rpc import error_details_pb2

    details = []
    if isinstance(exc, typer.BadParameter) and (field := _parameter(exc)):
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=field, description=exc.message or exc.format_message()
        )
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.BadRequest(field_violations=[violation]))
        details.append(packed)
    usage = exc.exit_code == 2  # click's usage errors exit 2
    code = grpc.StatusCode.INVALID_ARGUMENT if usage else grpc.StatusCode.UNKNOWN
    return error(code, exc.format_message(), details)


def _detail(packed: any_pb2.Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict
    from google.rpc import error_details_pb2  # noqa: F401  the types the mapping looks up by URL

    try:
        data: dict[str, Any] = MessageToDict(packed)
    except TypeError:  # a type this client does not know: its name at least
        return {"@type": packed.type_url}
    return data


def _parameter(exc: typer.BadParameter) -> str | None:
    """``--timeout`` or ``SKILL``: the parameter a bad value was given for."""
    if exc.param is not None:
        return exc.param.opts[0] if exc.param.param_type_name == "option" else exc.param.human_readable_name
    return exc.param_hint if isinstance(exc.param_hint, str) else None


def sparkline(values: list[float]) -> str:
    """Values as block heights, lowest to highest; a flat line when they do not move."""
    low, high = min(values, default=0.0), max(values, default=0.0)
    if high - low <= 1e-9 * max(abs(high), 1.0):
        return SPARKS[3] * len(values)
    return "".join(SPARKS[round((v - low) / (high - low) * (len(SPARKS) - 1))] for v in values)


def _change(start: float, end: float) -> Text:
    if start <= 0:
        return Text("")
    change = end / start - 1
    return Text(f"{change:+.1%}", style="green" if change > 0 else "red" if change < 0 else "")


def interval_bar(low: float, mid: float, high: float, width: int = 24) -> str:
    """An 80% interval as a bar on a 0–1 scale: blank to p10, ▓ to the median, ░ to p90."""

    def cells(share: float) -> int:
        return round(max(0.0, min(1.0, share)) * width)

    start, middle, end = cells(low), cells(mid), cells(high)
    return " " * start + "▓" * (middle - start) + "░" * (end - middle)


def _footer(basis: pb.Basis, model: pb.ModelRef) -> Text:
    source = BASIS_NAMES.get(basis.source, "unknown")
    return Text(
        f"basis: {source} ({basis.description}) · {basis.observations:,} observations · "
        f"data to {basis.data_as_of} · model {model.name} v{model.version}",
        style="dim",
    )


def _model(model: pb.ModelRef) -> Text:
    return Text(f"model {model.name} v{model.version}", style="dim")
