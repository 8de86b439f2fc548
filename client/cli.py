"""``gigcast``: ask a gigcast server what AI freelance work pays and where demand is heading."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import grpc
import typer
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console

from client import render
from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc

DEFAULT_TARGET = "localhost:50051"

app = typer.Typer(
    help="Rates and demand for AI freelance skills, from a gigcast server.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True, soft_wrap=True)


class Level(StrEnum):
    entry = "entry"
    intermediate = "intermediate"
    expert = "expert"


LEVELS = {
    Level.entry: pb.EXPERIENCE_LEVEL_ENTRY,
    Level.intermediate: pb.EXPERIENCE_LEVEL_INTERMEDIATE,
    Level.expert: pb.EXPERIENCE_LEVEL_EXPERT,
}
#: Exit codes scripts can rely on.
EXIT_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT: 2,
    grpc.StatusCode.UNAVAILABLE: 3,
    grpc.StatusCode.DEADLINE_EXCEEDED: 3,
    grpc.StatusCode.NOT_FOUND: 4,
}


@dataclass(frozen=True)
class Connection:
    target: str
    timeout: float


@app.callback()
def main(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Option(help=f"Server HOST:PORT; default $GIGCAST_TARGET, else {DEFAULT_TARGET}.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for an answer.")] = 5.0,
) -> None:
    ctx.obj = Connection(target or os.environ.get("GIGCAST_TARGET") or DEFAULT_TARGET, timeout)


@app.command()
def rate(
    ctx: typer.Context,
    skill: Annotated[str, typer.Argument(help="Skill id, name or alias, any case.")],
    level: Annotated[Level | None, typer.Option(help="Experience level; default all levels.")] = None,
    country: Annotated[str, typer.Option(help="Country code or name; default all markets.")] = "",
    week: Annotated[
        str,
        typer.Option(help="ISO date in the week asked about; default the first week after the model's data."),
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print protobuf JSON.")] = False,
) -> None:
    """What a skill pays per hour: market percentiles and the median's forecast.

    Example: gigcast rate "prompt engineering" --level expert --country US
    """
    request = pb.EstimateRateRequest(
        skill=skill,
        experience_level=LEVELS[level] if level else pb.EXPERIENCE_LEVEL_UNSPECIFIED,
        country=country,
        week=week,
    )
    response = _call(ctx.obj, "EstimateRate", request)
    _print(response, as_json, render.rate)


@app.command()
def demand(
    ctx: typer.Context,
    skill: Annotated[str, typer.Argument(help="Skill id, name or alias, any case.")],
    weeks: Annotated[int, typer.Option(min=1, max=52, help="Weeks to forecast.")] = 12,
    country: Annotated[str, typer.Option(help="Country code or name; default all markets.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print protobuf JSON.")] = False,
) -> None:
    """Postings per week ahead for a skill, with an 80% interval.

    Example: gigcast demand "prompt engineering" --weeks 8
    """
    request = pb.ForecastDemandRequest(skill=skill, horizon_weeks=weeks, country=country)
    response = _call(ctx.obj, "ForecastDemand", request)
    _print(response, as_json, render.demand)


def _call(connection: Connection, method: str, request: Message) -> Any:
    """One unary call; a failure becomes a short message and an exit code."""
    with grpc.insecure_channel(connection.target) as channel:
        stub = pb_grpc.ForecastServiceStub(channel)
        try:
            return getattr(stub, method)(request, timeout=connection.timeout)
        except grpc.RpcError as error:
            err.print(f"[red]error:[/] {_explain(error, connection.target)}", highlight=False)
            raise typer.Exit(EXIT_CODES.get(error.code(), 1)) from None


def _explain(error: grpc.RpcError, target: str) -> str:
    code = error.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and "model" not in (
        error.details() or ""
    ):
        return f"no answer from the gigcast server at {target} ({code.name.lower()}); is it running?"
    status = rpc_status.from_call(error)
    lines = [error.details() or code.name]
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            lines = [f"{v.field}: {v.description}" for v in bad.field_violations]
    return "\n".join(lines)


def _print(response: Message, as_json: bool, renderer: Any) -> None:
    if as_json:
        out.print_json(json_format.MessageToJson(response))
    else:
        out.print(renderer(response))
