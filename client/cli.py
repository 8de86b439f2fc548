"""``gigcast``: ask a gigcast server what AI freelance work pays and where demand is heading.

Start-up is most of a command's time, so this module imports only grpc, typer, rich, the
generated stubs and ``gigcast.query`` (standard library only) for the fields it checks itself;
JSON output and error details are imported when they are needed. ``python bench/cli.py`` shows
where the time of a command goes.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Protocol

import grpc
import typer
from google.protobuf.message import Message
from rich.console import Console, RenderableType
from rich.text import Text
from typer.core import TyperGroup

from client import render
from client.channel import Connection, check, check_authority, check_token, open_channel
from gigcast.query import DEFAULT_HORIZON_WEEKS, MAX_HORIZON_WEEKS, ExperienceLevel
from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from typer._click import Context  # the click that typer ships inside itself since 0.26

DEFAULT_TARGET = "localhost:50051"
PAGE_SIZE = 200
MAX_TIMEOUT = 86_400.0  # a day; a deadline much further off overflows gRPC's clock and passes at once
JSON_FLAG = "--json"


class Commands(TyperGroup):
    """gigcast's commands: given --json, a usage error is a JSON error object on stdout as well."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        # Every argument, the command's too: whether --json was asked cannot wait for the parse.
        ctx.meta[JSON_FLAG] = JSON_FLAG in (args[: args.index("--")] if "--" in args else args)
        with _usage_errors_as_json(ctx):
            return super().parse_args(ctx, args)

    def invoke(self, ctx: Context) -> Any:
        with _usage_errors_as_json(ctx):
            return super().invoke(ctx)


@contextmanager
def _usage_errors_as_json(ctx: Context) -> Iterator[None]:
    try:
        yield
    except typer.TyperException as error:  # click's errors: a bad flag, a bad value, a missing argument
        if ctx.meta.get(JSON_FLAG):
            _print_json(render.usage_error(error))
        raise  # click prints it on stderr and exits with its code


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
    cls=Commands,
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


def _finite(value: float) -> float:
    """Refuse NaN, which passes every range check."""
    if not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number")
    return value


def _token(value: str | None) -> str | None:
    """A token as HTTP/2 can send it; the whitespace a file or a shell leaves around it is dropped."""
    token = (value or "").strip()
    try:
        check_token(token)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return token or None


def _authority(value: Path | None) -> Path | None:
    """Refuse a file gRPC cannot read certificates from: it would only fail to connect."""
    if value is not None:
        try:
            check_authority(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


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
    timeout: Annotated[
        float, typer.Option(min=0.1, max=MAX_TIMEOUT, callback=_finite, help="Seconds to wait for an answer.")
    ] = 5.0,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="GIGCAST_TOKEN",
            callback=_token,
            help="Bearer token for a server that asks for one; sent over TLS or to this machine only.",
        ),
    ] = None,
    tls: Annotated[bool, typer.Option(help="Use TLS, trusting the system's authorities.")] = False,
    ca_cert: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            callback=_authority,
            help="Use TLS, trusting this PEM certificate authority.",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    target = target or os.environ.get("GIGCAST_TARGET") or DEFAULT_TARGET
    connection = Connection(target, timeout, token, tls or ca_cert is not None, ca_cert)
    try:
        check(connection)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--token") from None
    ctx.obj = connection


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
    with _session(ctx.obj, as_json=as_json) as call:
        answer = call("EstimateRate", estimate)
        ahead = call("ForecastRate", path)
    if as_json:
        from google.protobuf.json_format import MessageToDict

        _print_json({"estimate": MessageToDict(answer), "forecast": MessageToDict(ahead)})
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
    with _session(ctx.obj, as_json=as_json) as call:
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
    with _session(ctx.obj, as_json=as_json) as call:
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
    with _session(ctx.obj, as_json=as_json) as call:
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
    with _session(ctx.obj, as_json=as_json) as call:
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
    with _session(ctx.obj, as_json=as_json) as call:
        _show(call("ListMovers", request), as_json, render.movers)


@app.command()
def info(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The model answering: version, when it was trained, its data and its backtest metrics.

    Example: gigcast info
    """
    with _session(ctx.obj, as_json=as_json) as call:
        _show(call("GetModelInfo", pb.GetModelInfoRequest()), as_json, render.info)


class Call(Protocol):
    def __call__(self, method: str, request: Message) -> Any: ...


@contextmanager
def _session(connection: Connection, *, as_json: bool) -> Iterator[Call]:
    """One channel for a command's calls; a failed call becomes a short message and an exit code."""
    channel = open_channel(connection)
    stub = pb_grpc.ForecastServiceStub(channel)

    def call(method: str, request: Message) -> Any:
        try:
            return getattr(stub, method)(request, timeout=connection.timeout)
        except grpc.RpcError as error:
            _failed(error, connection, as_json=as_json)

    with channel:
        yield call


def _failed(error: grpc.RpcError, connection: Connection, *, as_json: bool) -> NoReturn:
    """The error's line on stderr, with ``as_json`` its JSON object on stdout too, and its exit code."""
    from grpc_status import rpc_status

    try:
        status = rpc_status.from_call(error)
    except ValueError:  # details that disagree with the call's status: the status is what counts
        status = None
    details = list(status.details) if status else []
    message = render.failure(error, connection, details)
    err.print(Text.assemble(("error:", "red"), " ", message))
    if as_json:
        _print_json(render.error(error.code(), message, details))
    raise typer.Exit(EXIT_CODES.get(error.code(), 1))


def _show(response: Message, as_json: bool, renderer: Callable[[Any], RenderableType]) -> None:
    if as_json:
        from google.protobuf.json_format import MessageToDict

        _print_json(MessageToDict(response))
    else:
        out.print(renderer(response))


def _print_json(data: Any) -> None:
    out.print_json(data=data)
