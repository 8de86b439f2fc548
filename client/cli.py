"""``gigcast``: ask a gigcast server what AI freelance work pays and where demand is heading.

Start-up is most of a command's time, so this module imports only grpc, typer, rich, the
generated stubs and ``gigcast.query`` (standard library only) for the fields it checks itself;
JSON output and error details are imported when they are needed. ``python bench/cli.py`` shows
where the time of a command goes.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Protocol

import grpc
import typer
from google.protobuf.message import Message
from rich.console import Console, RenderableType

from client import render
from gigcast.query import DEFAULT_HORIZON_WEEKS, MAX_HORIZON_WEEKS, ExperienceLevel
from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc

DEFAULT_TARGET = "localhost:50051"
PAGE_SIZE = 200


class Gigcast(typer.Typer):
    """The Typer app; run as the ``gigcast`` command, it keeps the garbage collector out of the way."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # A command lives for a moment, so collecting during it only costs time; frozen, the objects
        # the imports made are skipped by the interpreter's collections at exit too: ~20 ms less.
        # Typer's test runner does not call the app this way, so a test process keeps its collector.
        gc.disable()
        gc.freeze()
        return super().__call__(*args, **kwargs)


app = Gigcast(
    help="Rates and demand for AI freelance skills, from a gigcast server.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)


class Metric(StrEnum):
    demand = "demand"
    rate = "rate"


LEVELS = {
    None: pb.EXPERIENCE_LEVEL_UNSPECIFIED,
    ExperienceLevel.ENTRY: pb.EXPERIENCE_LEVEL_ENTRY,
    ExperienceLevel.INTERMEDIATE: pb.EXPERIENCE_LEVEL_INTERMEDIATE,
    ExperienceLevel.EXPERT: pb.EXPERIENCE_LEVEL_EXPERT,
}
METRICS = {Metric.demand: pb.MOVER_METRIC_DEMAND, Metric.rate: pb.MOVER_METRIC_RATE}
#: Exit codes scripts can rely on; any other failure is 1.
EXIT_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT: 2,
    grpc.StatusCode.UNAVAILABLE: 3,
    grpc.StatusCode.DEADLINE_EXCEEDED: 3,
    grpc.StatusCode.NOT_FOUND: 4,
    grpc.StatusCode.UNAUTHENTICATED: 5,
    grpc.StatusCode.FAILED_PRECONDITION: 6,
}


def _utf8(value: Any) -> Any:
    """Text the server can be sent: a terminal can pass bytes that are not UTF-8."""
    for text in value if isinstance(value, list) else [value]:
        if isinstance(text, str) and not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                raise typer.BadParameter(f"'{shown}' is not UTF-8 text") from None
    return value


SkillArgument = Annotated[str, typer.Argument(help="Skill id, name or alias, any case.", callback=_utf8)]
LevelOption = Annotated[ExperienceLevel | None, typer.Option(help="Experience level; default all levels.")]
CountryOption = Annotated[
    str, typer.Option(help="Country code or name; default all markets.", callback=_utf8)
]
CategoryOption = Annotated[
    str, typer.Option(help="Only this category, for example llm-apps.", callback=_utf8)
]
WeekOption = Annotated[
    str,
    typer.Option(
        help="A date in the week asked about; default the first week after the model's data.", callback=_utf8
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print protobuf's JSON mapping.")]
WeeksOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=MAX_HORIZON_WEEKS,
        help=f"Weeks to forecast; default {DEFAULT_HORIZON_WEEKS} or the model's horizon.",
    ),
]


@dataclass(frozen=True)
class Connection:
    target: str
    timeout: float
    token: str | None
    tls: bool
    ca_cert: Path | None


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"gigcast {version('gigcast')}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Option(help=f"Server HOST:PORT; default $GIGCAST_TARGET, else {DEFAULT_TARGET}.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for an answer.")] = 5.0,
    token: Annotated[
        str | None, typer.Option(envvar="GIGCAST_TOKEN", help="Bearer token for a server that asks for one.")
    ] = None,
    tls: Annotated[bool, typer.Option(help="Use TLS, trusting the system's authorities.")] = False,
    ca_cert: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Use TLS, trusting this PEM certificate authority."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    target = target or os.environ.get("GIGCAST_TARGET") or DEFAULT_TARGET
    ctx.obj = Connection(target, timeout, token, tls or ca_cert is not None, ca_cert)


@app.command()
def rate(
    ctx: typer.Context,
    skill: SkillArgument,
    level: LevelOption = None,
    country: CountryOption = "",
    week: WeekOption = "",
    as_json: JsonOption = False,
) -> None:
    """What a skill pays per hour: market percentiles, the median's forecast, the trend ahead.

    Example: gigcast rate "llm fine-tuning" --level expert --country PL
    """
    estimate = pb.EstimateRateRequest(skill=skill, experience_level=LEVELS[level], country=country, week=week)
    path = pb.ForecastRateRequest(skill=skill, experience_level=LEVELS[level], country=country)
    with _session(ctx.obj) as call:
        answer = call("EstimateRate", estimate)
        ahead = call("ForecastRate", path)
    if as_json:
        from google.protobuf.json_format import MessageToDict

        out.print_json(data={"estimate": MessageToDict(answer), "forecast": MessageToDict(ahead)})
    else:
        out.print(render.rate(answer, ahead))


@app.command()
def demand(
    ctx: typer.Context,
    skill: SkillArgument,
    weeks: WeeksOption = None,
    country: CountryOption = "",
    as_json: JsonOption = False,
) -> None:
    """Postings per week ahead for a skill, with an 80% interval.

    Example: gigcast demand "prompt engineering" --weeks 8
    """
    request = pb.ForecastDemandRequest(skill=skill, horizon_weeks=weeks or 0, country=country)
    with _session(ctx.obj) as call:
        _show(call("ForecastDemand", request), as_json, render.demand)


@app.command()
def market(
    ctx: typer.Context,
    category: CategoryOption = "",
    weeks: WeeksOption = None,
    as_json: JsonOption = False,
) -> None:
    """Postings per week ahead for the whole market or one category: the sum of its skills'.

    Example: gigcast market --category llm-apps --weeks 8
    """
    request = pb.ForecastCategoryDemandRequest(category=category, horizon_weeks=weeks or 0)
    with _session(ctx.obj) as call:
        _show(call("ForecastCategoryDemand", request), as_json, render.category_demand)


@app.command()
def quote(
    ctx: typer.Context,
    skills: Annotated[
        list[str], typer.Option("--skill", help="A skill the gig needs; repeat for more.", callback=_utf8)
    ],
    hours: Annotated[float, typer.Option(help="Estimated hours of work.")],
    level: LevelOption = None,
    country: CountryOption = "",
    week: WeekOption = "",
    as_json: JsonOption = False,
) -> None:
    """A price range for a gig: hours at the market rate of its dearest skill.

    Example: gigcast quote --skill "rag" --skill "vector databases" --hours 40 --level expert
    """
    request = pb.QuoteGigRequest(
        skills=skills, estimated_hours=hours, experience_level=LEVELS[level], country=country, week=week
    )
    with _session(ctx.obj) as call:
        _show(call("QuoteGig", request), as_json, render.quote)


@app.command()
def skills(
    ctx: typer.Context,
    category: CategoryOption = "",
    search: Annotated[
        str, typer.Option(help="Only skills whose id, name or alias holds this text.", callback=_utf8)
    ] = "",
    as_json: JsonOption = False,
) -> None:
    """The skills the model knows, with their categories and weeks of history.

    Example: gigcast skills --search vision
    """
    request = pb.ListSkillsRequest(page_size=PAGE_SIZE, category=category, query=search)
    found = pb.ListSkillsResponse()
    with _session(ctx.obj) as call:
        while True:  # every page, in order
            page = call("ListSkills", request)
            found.skills.extend(page.skills)
            found.total_size = page.total_size
            if not page.next_page_token:
                break
            request.page_token = page.next_page_token
    _show(found, as_json, render.skills)


@app.command()
def movers(
    ctx: typer.Context,
    by: Annotated[Metric, typer.Option(help="Rank by the change of demand or of the median rate.")] = (
        Metric.demand
    ),
    weeks: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_HORIZON_WEEKS,
            help=(
                f"Weeks ahead to measure the change; default {DEFAULT_HORIZON_WEEKS} or the model's horizon."
            ),
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Skills on each side.")] = 10,
    category: CategoryOption = "",
    as_json: JsonOption = False,
) -> None:
    """Skills whose forecast rises or falls most over the coming weeks.

    Example: gigcast movers --by rate --weeks 26
    """
    request = pb.ListMoversRequest(
        metric=METRICS[by], horizon_weeks=weeks or 0, limit=limit, category=category
    )
    with _session(ctx.obj) as call:
        _show(call("ListMovers", request), as_json, render.movers)


@app.command()
def info(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The model answering: version, when it was trained, its data and its backtest metrics.

    Example: gigcast info
    """
    with _session(ctx.obj) as call:
        _show(call("GetModelInfo", pb.GetModelInfoRequest()), as_json, render.info)


class Call(Protocol):
    def __call__(self, method: str, request: Message) -> Any: ...


@contextmanager
def _session(connection: Connection) -> Iterator[Call]:
    """One channel for a command's calls; a failed call becomes a short message and an exit code."""
    if connection.tls:
        roots = connection.ca_cert.read_bytes() if connection.ca_cert else None
        channel = grpc.secure_channel(connection.target, grpc.ssl_channel_credentials(roots))
    else:
        channel = grpc.insecure_channel(connection.target)
    metadata = (("authorization", f"Bearer {connection.token}"),) if connection.token else None
    stub = pb_grpc.ForecastServiceStub(channel)

    def call(method: str, request: Message) -> Any:
        try:
            return getattr(stub, method)(request, timeout=connection.timeout, metadata=metadata)
        except grpc.RpcError as error:
            err.print(f"[red]error:[/] {_explain(error, connection)}", highlight=False, markup=True)
            raise typer.Exit(EXIT_CODES.get(error.code(), 1)) from None

    with channel:
        yield call


def _explain(error: grpc.RpcError, connection: Connection) -> str:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    code, message = error.code(), error.details() or ""
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and "model" not in message:
        why = code.name.lower()
        return f"no answer from the gigcast server at {connection.target} ({why}); is it running?"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        given = "the token given was refused" if connection.token else "it needs a token"
        return f"{connection.target}: {given}; pass --token or set $GIGCAST_TOKEN"
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return "\n".join(f"{v.field}: {v.description}" for v in bad.field_violations)
    return message or code.name


def _show(response: Message, as_json: bool, renderer: Callable[[Any], RenderableType]) -> None:
    if as_json:
        from google.protobuf.json_format import MessageToDict

        out.print_json(data=MessageToDict(response))
    else:
        out.print(renderer(response))
