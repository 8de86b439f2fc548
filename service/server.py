"""gRPC server wiring: the rpcs, health, reflection, auth, TLS, following the champion, a graceful stop.

grpc.aio; ``python bench/rpc.py`` measures a sync server with a thread pool beside it.
``create_server`` binds without starting so that tests can use port 0; ``serve`` runs the whole
life of a process.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer

from gigcast.registry import version_by_alias
from gigcast.v1 import forecast_pb2 as pb
from service import handlers, metrics
from service.answers import Answers
from service.errors import RequestError, invalid, unavailable
from service.store import LoadedModel, Store, fetch, load

log = logging.getLogger("gigcast.serve")
SERVICE = pb.DESCRIPTOR.services_by_name["ForecastService"]
SERVICE_NAME = SERVICE.full_name
HEALTH_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name

Handler = Callable[[LoadedModel, Any], Message]
RPCS: dict[str, Handler] = {
    "EstimateRate": handlers.estimate_rate,
    "BatchEstimateRates": handlers.batch_estimate_rates,
    "ForecastDemand": handlers.forecast_demand,
    "ForecastRate": handlers.forecast_rate,
    "QuoteGig": handlers.quote_gig,
    "ListMovers": handlers.list_movers,
    "ListSkills": handlers.list_skills,
    "GetModelInfo": handlers.get_model_info,
}


@dataclass(frozen=True)
class ServeConfig:
    """Everything one server process needs; plain values, so that worker processes can take it."""

    tracking_uri: str
    name: str
    alias: str
    cache_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    poll_seconds: float = 30.0
    grace: float = 5.0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    auth_tokens: frozenset[str] = frozenset()
    answer_cache_mb: float = 64.0  # answers kept to be sent again (service.answers); 0 keeps none
    reuse_port: bool = False  # only --workers shares its port, with processes of its own


Behaviour = Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]


def _behaviour(
    method: str, handler: Handler, request_type: type[Message], store: Store, answers: Answers
) -> Behaviour:
    """One rpc: the handler applied to the current model, its errors as rich statuses, all measured.

    Requests arrive as bytes and are parsed here, so that corrupt bytes get INVALID_ARGUMENT with
    the reason; grpcio, parsing them itself, would answer UNKNOWN. Responses leave as bytes, so
    that an answer already given is sent again as it is.
    """

    def respond(data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        model = store.current
        if model is None:
            raise unavailable()
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise RequestError(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before it ran")
        response = answers.get(model, method, data)
        if response is None:
            try:
                request = request_type.FromString(data)
            except DecodeError as exc:
                raise invalid("request", f"not a valid {request_type.DESCRIPTOR.full_name}: {exc}") from None
            response = handler(model, request).SerializeToString()
            answers.keep(model, method, data, response)
        return response

    # Each outcome is counted before it is sent: a client that sees an answer finds it counted.
    async def answer(data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        start = time.perf_counter()
        try:
            response = respond(data, context)
        except RequestError as error:
            metrics.observe(method, error.code, time.perf_counter() - start)
            await context.abort_with_status(error.to_status())
            raise  # abort_with_status always raises; this keeps type checkers honest
        except Exception:
            metrics.observe(method, grpc.StatusCode.INTERNAL, time.perf_counter() - start)
            log.exception("%s failed", method)
            await context.abort(grpc.StatusCode.INTERNAL, "the server failed on this request; it is logged")
            raise
        metrics.observe(method, grpc.StatusCode.OK, time.perf_counter() - start)
        return response

    return answer


def forecast_service(store: Store, answers: Answers) -> dict[str, grpc.RpcMethodHandler]:
    """gigcast.v1.ForecastService's method handlers: every rpc of the proto, answered by RPCS."""
    return {
        method.name: grpc.unary_unary_rpc_method_handler(
            _behaviour(method.name, RPCS[method.name], getattr(pb, method.input_type.name), store, answers)
        )
        for method in SERVICE.methods
    }


class BearerTokens(grpc.aio.ServerInterceptor):
    """Calls to gigcast must carry ``authorization: Bearer <token>`` with a known token.

    Health checks and reflection stay open: probes and tools need them, and they hold no data.
    """

    OPEN = (f"/{HEALTH_NAME}/", f"/{reflection.SERVICE_NAME}/")

    def __init__(self, tokens: frozenset[str]) -> None:
        self._tokens = [token.encode() for token in tokens]
        self._deny = grpc.unary_unary_rpc_method_handler(self._refuse)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        if details.method.startswith(self.OPEN) or self._known(details.invocation_metadata):
            return await continuation(details)
        metrics.observe(details.method.rsplit("/", 1)[-1], grpc.StatusCode.UNAUTHENTICATED, 0.0)
        return self._deny

    def _known(self, metadata: tuple[tuple[str, str | bytes], ...]) -> bool:
        value = dict(metadata).get("authorization", "")
        scheme, _, token = str(value).partition(" ")
        given = token.strip().encode()
        # compare with every token, so that the time taken does not tell which one nearly matched
        matches = [hmac.compare_digest(given, known) for known in self._tokens]
        return scheme.lower() == "bearer" and any(matches)

    @staticmethod
    async def _refuse(request: bytes, context: grpc.aio.ServicerContext) -> None:
        await context.abort(
            grpc.StatusCode.UNAUTHENTICATED, "send 'authorization: Bearer <token>', a known one"
        )


class GenericOnly:
    """Takes a generated ``add_*_to_server`` helper's handlers as generic handlers only.

    grpcio's aio server waits on one pending call per registered method at every call it
    accepts (grpc/grpc#43461): each registered method costs every call, so none are registered.
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: tuple[grpc.GenericRpcHandler, ...]) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        """Left unregistered: served by the generic handler added beside them."""


def read_tokens(path: Path) -> frozenset[str]:
    """One token per line; blank lines and lines starting with # are skipped."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    tokens = frozenset(line for line in lines if line and not line.startswith("#"))
    if not tokens:
        raise ValueError(f"{path} holds no tokens")
    return tokens


def create_server(config: ServeConfig, store: Store, health: HealthServicer) -> tuple[grpc.aio.Server, int]:
    """A server with gigcast, health and reflection, bound to the configured address, not started."""
    interceptors = [BearerTokens(config.auth_tokens)] if config.auth_tokens else []
    server = grpc.aio.server(
        interceptors=interceptors,
        # on only for --workers: two servers started by mistake on one port must not share it
        options=[("grpc.so_reuseport", int(config.reuse_port))],
    )
    rpcs = forecast_service(store, Answers(int(config.answer_cache_mb * 2**20)))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, rpcs),))
    generic = GenericOnly(server)
    health_pb2_grpc.add_HealthServicer_to_server(health, generic)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        ReflectionServicer((SERVICE_NAME, HEALTH_NAME, reflection.SERVICE_NAME)), generic
    )
    address = f"{config.host}:{config.port}"
    if config.tls_cert is not None and config.tls_key is not None:
        key_and_chain = (config.tls_key.read_bytes(), config.tls_cert.read_bytes())
        port = server.add_secure_port(address, grpc.ssl_server_credentials([key_and_chain]))
    else:
        port = server.add_insecure_port(address)
    return server, port


async def serve(config: ServeConfig) -> None:
    """Serve until SIGTERM or SIGINT, then let in-flight calls finish for ``config.grace`` seconds.

    Every ``poll_seconds`` (0: never) the alias is looked up again, and a new version swapped in.
    """
    store = Store()
    health = HealthServicer()
    server, bound = create_server(config, store, health)
    for service in ("", SERVICE_NAME):
        await health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    where = f"{config.host}:{bound}"
    log.info(
        "listening on %s, loading %s@%s from %s",
        where,
        config.name,
        config.alias,
        config.tracking_uri,
        extra={"address": where, "tls": config.tls_cert is not None, "auth": bool(config.auth_tokens)},
    )
    follower = None
    try:
        model = await asyncio.to_thread(
            fetch,
            tracking_uri=config.tracking_uri,
            name=config.name,
            alias=config.alias,
            cache_dir=config.cache_dir,
        )
        store.swap(model)
        for service in ("", SERVICE_NAME):
            await health.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "SERVING %s version %s (%d skills) on %s",
            model.name,
            model.version,
            len(model.index.skills),
            where,
            extra={"model": model.name, "version": model.version, "address": where},
        )
        if config.poll_seconds > 0:
            follower = asyncio.create_task(follow(store, config))
        await stop.wait()
        log.info("stopping: draining in-flight calls for up to %.0fs", config.grace)
    finally:
        if follower is not None:
            follower.cancel()
        await health.enter_graceful_shutdown()
        await server.stop(config.grace)


async def follow(store: Store, config: ServeConfig) -> None:
    """Swap in the version ``name@alias`` points at whenever it changes, for promotions and rollbacks.

    The new version is downloaded, checked and indexed beside the serving one (in a thread, while
    calls go on), then switched in one step. A registry that does not answer, or a bundle that
    fails to load or check, is logged (and counted) and the serving model stays.
    """
    while True:
        await asyncio.sleep(config.poll_seconds)
        current = store.current
        serving = current and current.version
        try:
            version = await asyncio.to_thread(
                version_by_alias, tracking_uri=config.tracking_uri, name=config.name, alias=config.alias
            )
        except Exception as exc:  # the registry is a network service: keep serving whatever it says
            log.warning("registry did not answer, still serving version %s: %s", serving, exc)
            continue
        if version is None or version.version == serving:
            continue
        try:
            model = await asyncio.to_thread(
                load,
                tracking_uri=config.tracking_uri,
                version=version,
                alias=config.alias,
                cache_dir=config.cache_dir,
            )
        except Exception as exc:  # a bad bundle must never replace a good one
            metrics.REFUSED.inc()
            log.error(
                "refused %s version %s, still serving %s: %s",
                config.name,
                version.version,
                serving,
                exc,
                extra={"model": config.name, "version": version.version, "serving": serving},
            )
            continue
        store.swap(model)
        log.info(
            "swapped to %s version %s (%d skills)",
            model.name,
            model.version,
            len(model.index.skills),
            extra={"model": model.name, "version": model.version, "previous": serving},
        )
