"""gRPC server wiring: the servicer, health, reflection, following the champion, a graceful stop.

``create_server`` binds without starting so that tests can use port 0; ``serve`` runs the
whole life: start, load the champion, report SERVING, follow the alias, drain on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from gigcast.registry import version_by_alias
from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from service import handlers
from service.errors import RequestError, invalid, unavailable
from service.store import LoadedModel, Store, fetch, load

log = logging.getLogger("gigcast.serve")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ForecastService"].full_name

Request = TypeVar("Request", bound=Message)
Response = TypeVar("Response", bound=Message)


class ForecastServicer(pb_grpc.ForecastServiceServicer):
    """Thin: every rpc is one handler function applied to the current model."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def _answer(
        self,
        handler: Callable[[LoadedModel, Request], Response],
        request: Request,
        context: grpc.aio.ServicerContext,
    ) -> Response:
        model = self.store.current
        try:
            if isinstance(request, Undecodable):
                raise invalid("request", f"not a valid {request.type_name}: {request.error}")
            if model is None:
                raise unavailable()
            return handler(model, request)
        except RequestError as error:
            await context.abort_with_status(error.to_status())
            raise  # abort_with_status always raises; this keeps type checkers honest

    async def EstimateRate(
        self, request: pb.EstimateRateRequest, context: grpc.aio.ServicerContext
    ) -> pb.EstimateRateResponse:
        return await self._answer(handlers.estimate_rate, request, context)

    async def BatchEstimateRates(
        self, request: pb.BatchEstimateRatesRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchEstimateRatesResponse:
        return await self._answer(handlers.batch_estimate_rates, request, context)

    async def ForecastRate(
        self, request: pb.ForecastRateRequest, context: grpc.aio.ServicerContext
    ) -> pb.ForecastRateResponse:
        return await self._answer(handlers.forecast_rate, request, context)

    async def ForecastDemand(
        self, request: pb.ForecastDemandRequest, context: grpc.aio.ServicerContext
    ) -> pb.ForecastDemandResponse:
        return await self._answer(handlers.forecast_demand, request, context)

    async def QuoteGig(
        self, request: pb.QuoteGigRequest, context: grpc.aio.ServicerContext
    ) -> pb.QuoteGigResponse:
        return await self._answer(handlers.quote_gig, request, context)

    async def ListMovers(
        self, request: pb.ListMoversRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMoversResponse:
        return await self._answer(handlers.list_movers, request, context)

    async def ListSkills(
        self, request: pb.ListSkillsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSkillsResponse:
        return await self._answer(handlers.list_skills, request, context)

    async def GetModelInfo(
        self, request: pb.GetModelInfoRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetModelInfoResponse:
        return await self._answer(handlers.get_model_info, request, context)


@dataclass(frozen=True)
class Undecodable:
    """Request bytes that are not the message the rpc takes."""

    type_name: str
    error: str


def _lenient(message: type[Message]) -> Callable[[bytes], Message | Undecodable]:
    def parse(data: bytes) -> Message | Undecodable:
        try:
            return message.FromString(data)
        except DecodeError as exc:
            return Undecodable(message.DESCRIPTOR.full_name, str(exc))

    return parse


def _lenient_handlers(servicer: ForecastServicer) -> grpc.GenericRpcHandler:
    """The service's handlers, as the generated code registers them but for the deserializers:
    corrupt request bytes reach the servicer as Undecodable (INVALID_ARGUMENT), where grpcio
    itself would answer UNKNOWN.
    """
    service = pb.DESCRIPTOR.services_by_name["ForecastService"]
    handlers = {
        method.name: grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method.name),
            request_deserializer=_lenient(getattr(pb, method.input_type.name)),
            response_serializer=getattr(pb, method.output_type.name).SerializeToString,
        )
        for method in service.methods
    }
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def create_server(address: str, store: Store, health: HealthServicer) -> tuple[grpc.aio.Server, int]:
    """A server with gigcast, health and reflection, bound to ``address`` but not started."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((_lenient_handlers(ForecastServicer(store)),))
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    port = server.add_insecure_port(address)
    return server, port


async def serve(
    *,
    host: str,
    port: int,
    tracking_uri: str,
    name: str,
    alias: str,
    cache_dir: Path,
    poll_seconds: float = 30.0,
    grace: float = 5.0,
) -> None:
    """Serve until SIGTERM or SIGINT, then let in-flight calls finish for ``grace`` seconds.

    Every ``poll_seconds`` (0: never) the alias is looked up again, and a new version swapped in.
    """
    store = Store()
    health = HealthServicer()
    server, bound = create_server(f"{host}:{port}", store, health)
    for service in ("", SERVICE_NAME):
        await health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
    await server.start()
    log.info("listening on %s:%d, loading %s@%s from %s", host, bound, name, alias, tracking_uri)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    follower = None
    try:
        model = await asyncio.to_thread(
            fetch, tracking_uri=tracking_uri, name=name, alias=alias, cache_dir=cache_dir
        )
        store.swap(model)
        for service in ("", SERVICE_NAME):
            await health.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "SERVING %s version %s (%d skills) on %s:%d",
            name,
            model.version,
            len(model.index.skills),
            host,
            bound,
        )
        if poll_seconds > 0:
            follower = asyncio.create_task(
                follow(
                    store,
                    tracking_uri=tracking_uri,
                    name=name,
                    alias=alias,
                    cache_dir=cache_dir,
                    every=poll_seconds,
                )
            )
        await stop.wait()
        log.info("stopping: draining in-flight calls for up to %.0fs", grace)
    finally:
        if follower is not None:
            follower.cancel()
        await health.enter_graceful_shutdown()
        await server.stop(grace)


async def follow(
    store: Store, *, tracking_uri: str, name: str, alias: str, cache_dir: Path, every: float
) -> None:
    """Swap in the version ``name@alias`` points at whenever it changes, for promotions and rollbacks.

    The new version is downloaded, checked and indexed beside the serving one, then switched in
    one step. A registry that does not answer, or a bundle that fails to load or check, is logged
    (and counted) and the serving model stays.
    """
    while True:
        await asyncio.sleep(every)
        current = store.current
        try:
            version = await asyncio.to_thread(
                version_by_alias, tracking_uri=tracking_uri, name=name, alias=alias
            )
        except Exception as exc:  # the registry is a network service: keep serving whatever it says
            log.warning(
                "registry did not answer, still serving version %s: %s", current and current.version, exc
            )
            continue
        if version is None or (current is not None and version.version == current.version):
            continue
        try:
            model = await asyncio.to_thread(
                load, tracking_uri=tracking_uri, version=version, alias=alias, cache_dir=cache_dir
            )
        except Exception as exc:  # a bad bundle must never replace a good one
            store.refused += 1
            log.error(
                "refused %s version %s, still serving %s: %s",
                name,
                version.version,
                current and current.version,
                exc,
            )
            continue
        store.swap(model)
        log.info("swapped to %s version %s (%d skills)", name, model.version, len(model.index.skills))
