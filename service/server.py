"""gRPC server wiring: the rpcs, health, reflection, auth, TLS, following the champion, a graceful stop.

A grpc.aio server: the event loop receives every request, so a call whose body has not arrived
(a client that stopped mid-request) holds a coroutine, never a thread, and no number of them
keeps other calls from being answered. gigcast's handlers are plain sub-millisecond functions,
run on the loop as each request arrives. ``create_server`` binds without starting so that tests
can use port 0; call it on the loop that will serve. ``serve`` runs the whole life of a process.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import signal
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from gigcast.monitored import Monitored
from gigcast.uris import masked
from gigcast.v1 import forecast_pb2 as pb
from service import handlers, metrics
from service.answers import Answers
from service.errors import RequestError, invalid, unavailable
from service.registry import Alias
from service.store import LoadedModel, Store, fetch, load

log = logging.getLogger("gigcast.serve")
#: Signals that drain and stop the server. SIGHUP too: a closed terminal or a supervisor's reload
#: gets a clean stop, and a supervisor restarts the server to read new files.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
SERVICE = pb.DESCRIPTOR.services_by_name["ForecastService"]
SERVICE_NAME = SERVICE.full_name
HEALTH_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name

Handler = Callable[[LoadedModel, Any], Message]
RPCS: dict[str, Handler] = {
    "EstimateRate": handlers.estimate_rate,
    "BatchEstimateRates": handlers.batch_estimate_rates,
    "ForecastDemand": handlers.forecast_demand,
    "ForecastCategoryDemand": handlers.forecast_category_demand,
    "ForecastRate": handlers.forecast_rate,
    "QuoteGig": handlers.quote_gig,
    "ListMovers": handlers.list_movers,
    "ListSkills": handlers.list_skills,
    "GetModelInfo": handlers.get_model_info,
}
#: What one connection may hold, and for how long. A stalled call costs the server a coroutine
#: and about 8 kB (bench/stall.py); these bound those of a peer that opens calls and walks away.
CONNECTION_LIMITS: tuple[tuple[str, int], ...] = (
    # HTTP/2 streams open at once on one connection: a client's further calls wait in the client
    # (only a burst past it on a connection's first round trip is refused, UNAVAILABLE)
    ("grpc.max_concurrent_streams", 1000),
    # a peer that no longer answers pings (gone, or never reading) is dropped within 80 s; gRPC's
    # core waits for a ping's answer for ping_timeout_ms, 60 s unless set (grpc/grpc#34647)
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.ping_timeout_ms", 20_000),
    # clients reconnect at the GOAWAY of an old connection; calls still open 30 s later are ended
    ("grpc.max_connection_age_ms", 30 * 60_000),
    ("grpc.max_connection_age_grace_ms", 30_000),
)


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


Behaviour = Callable[[bytes, grpc.aio.ServicerContext[bytes, bytes]], Awaitable[bytes]]


def _behaviour(
    method: str, handler: Handler, request_type: type[Message], store: Store, answers: Answers
) -> Behaviour:
    """One rpc: the handler applied to the current model, its errors as rich statuses, all measured.

    Requests arrive as bytes and are parsed here, so that corrupt bytes get INVALID_ARGUMENT with
    the reason; grpcio, parsing them itself, would answer UNKNOWN. Responses leave as bytes, so
    that an answer already given is sent again as it is. What each call needs is looked up here,
    once: the parser, the metric's series of calls answered, whether answers are kept at all.
    """
    parse = request_type.FromString
    answered = metrics.series(method, grpc.StatusCode.OK)
    keeping = answers.budget > 0

    def work(model: LoadedModel, data: bytes) -> bytes:
        try:
            request = parse(data)
        except DecodeError as exc:
            raise invalid("request", f"not a valid {request_type.DESCRIPTOR.full_name}: {exc}") from None
        return handler(model, request).SerializeToString()  # type: ignore[no-any-return]

    def respond(data: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        model = store.current
        if model is None:
            raise unavailable()
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            raise RequestError(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before it ran")
        if not keeping:
            return work(model, data)
        response = answers.get(model, method, data)
        if response is None:
            response = work(model, data)
            answers.keep(model, method, data, response)
        return response

    # Each outcome is counted before it is sent: a client that sees an answer finds it counted.
    # The work runs on the event loop itself: it is shorter than a hand-off to a thread.
    async def answer(data: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        start = time.perf_counter()
        try:
            response = respond(data, context)
        except RequestError as error:
            metrics.observe(method, error.code, time.perf_counter() - start)
            await context.abort_with_status(error.to_status())
        except Exception:
            metrics.observe(method, grpc.StatusCode.INTERNAL, time.perf_counter() - start)
            log.exception("%s failed", method)
            await context.abort(grpc.StatusCode.INTERNAL, "the server failed on this request; it is logged")
        answered.observe(time.perf_counter() - start)
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
    A call without a known token is refused as its headers arrive, never waiting for its body.
    """

    OPEN = (f"/{HEALTH_NAME}/", f"/{reflection.SERVICE_NAME}/")
    RPCS: ClassVar[dict[str, str]] = {f"/{SERVICE_NAME}/{m.name}": m.name for m in SERVICE.methods}

    def __init__(self, tokens: frozenset[str]) -> None:
        self._tokens = [token.encode() for token in tokens]
        # a handler of a streamed request is called before any of it is read: the refusal waits
        # for nothing a client may never send
        self._deny = grpc.stream_unary_rpc_method_handler(self._refuse)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        rpc = self.RPCS.get(details.method)
        if rpc is None:  # gRPC answers UNIMPLEMENTED; every such name counts as one, whoever calls
            if not details.method.startswith(self.OPEN):
                metrics.observe(metrics.UNKNOWN_METHOD, grpc.StatusCode.UNIMPLEMENTED, 0.0)
            return await continuation(details)
        if self._known(details.invocation_metadata):
            return await continuation(details)
        metrics.observe(rpc, grpc.StatusCode.UNAUTHENTICATED, 0.0)
        return self._deny

    def _known(self, metadata: tuple[tuple[str, str | bytes], ...]) -> bool:
        value = dict(metadata).get("authorization", "")
        scheme, _, token = str(value).partition(" ")
        given = token.strip().encode()
        # compare with every token, so that the time taken does not tell which one nearly matched
        matches = [hmac.compare_digest(given, known) for known in self._tokens]
        return scheme.lower() == "bearer" and any(matches)

    @staticmethod
    async def _refuse(
        requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> None:
        await context.abort(
            grpc.StatusCode.UNAUTHENTICATED, "send 'authorization: Bearer <token>', a known one"
        )


def read_tokens(path: Path) -> frozenset[str]:
    """One token per line; blank lines and lines starting with # are skipped.

    A file other users may read is served, with a warning: its tokens are secrets.
    """
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    tokens = frozenset(line for line in lines if line and not line.startswith("#"))
    if not tokens:
        raise ValueError(f"{path} holds no tokens")
    if path.stat().st_mode & 0o077:
        log.warning("%s can be read by other users; its tokens are secrets (chmod 600 %s)", path, path)
    return tokens


def check_tls(cert: Path, key: Path) -> None:
    """ValueError unless ``cert`` is a PEM certificate chain and ``key`` its PEM private key."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"{cert} and {key} are not a PEM certificate and its key: {exc}") from None


class _GenericOnly:
    """A server as the generated ``add_*_to_server`` functions see it: services as generic handlers only.

    grpcio's aio server waits on every method registered with gRPC's core at each call it accepts
    (grpc/grpc#43461): with the methods registered, gigcast carried 3-4% fewer calls.
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self.add_generic_rpc_handlers = server.add_generic_rpc_handlers

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        """Left out: the generic handler the same function adds serves these methods."""


def create_server(
    config: ServeConfig, store: Store, health: health_aio.HealthServicer
) -> tuple[grpc.aio.Server, int]:
    """A server with gigcast, health and reflection, bound to the configured address, not started.

    Call it on the event loop that will run the server.
    """
    interceptors = [BearerTokens(config.auth_tokens)] if config.auth_tokens else []
    server = grpc.aio.server(
        interceptors=interceptors,
        # so_reuseport on only for --workers: two servers started by mistake on one port must not share it
        options=[("grpc.so_reuseport", int(config.reuse_port)), *CONNECTION_LIMITS],
    )
    rpcs = forecast_service(store, Answers(int(config.answer_cache_mb * 2**20)))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, rpcs),))
    generic = _GenericOnly(server)
    health_pb2_grpc.add_HealthServicer_to_server(health, generic)
    names = (SERVICE_NAME, HEALTH_NAME, reflection.SERVICE_NAME)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        reflection.aio.ReflectionServicer(names), generic
    )
    address = f"{config.host}:{config.port}"
    if config.tls_cert is not None and config.tls_key is not None:
        key_and_chain = (config.tls_key.read_bytes(), config.tls_cert.read_bytes())
        port = server.add_secure_port(address, grpc.ssl_server_credentials([key_and_chain]))
    else:
        port = server.add_insecure_port(address)
    return server, port


def serve(config: ServeConfig) -> None:
    """Serve until SIGTERM, SIGINT or SIGHUP, then let in-flight calls finish for ``config.grace`` seconds.

    Every ``poll_seconds`` (0: never) the alias is looked up again, and a new version swapped in.
    """
    asyncio.run(_serve(config))


async def _serve(config: ServeConfig) -> None:
    store = Store()
    health = health_aio.HealthServicer()
    server, bound = create_server(config, store, health)
    for service in ("", SERVICE_NAME):
        await health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
    stopped = asyncio.Event()
    stop = threading.Event()  # the follower's
    received: list[str] = []

    def stopping(sig: signal.Signals) -> None:
        received.append(sig.name)
        stopped.set()

    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stopping, sig)
    await server.start()
    where = f"{config.host}:{bound}"
    log.info(
        "listening on %s, loading %s@%s from %s",
        where,
        config.name,
        config.alias,
        masked(config.tracking_uri),
        extra={"address": where, "tls": config.tls_cert is not None, "auth": bool(config.auth_tokens)},
    )
    registry = Alias(
        tracking_uri=config.tracking_uri, name=config.name, alias=config.alias, cache_dir=config.cache_dir
    )
    try:
        # on a thread: health checks are answered while the registry is asked and the bundle read
        model = await asyncio.to_thread(fetch, registry)
        store.swap(model)
        # What is loaded by now (grpc, polars, the model: ~60,000 objects) stays for the life of
        # the process. Frozen, it is out of the collector's sight: a full collection, which holds
        # every thread, took 106 ms before and under 0.01 ms after. A model swapped out later is
        # still freed by its reference count.
        gc.collect()
        gc.freeze()
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
            threading.Thread(
                target=follow, args=(store, registry, config, stop), name="gigcast-follow", daemon=True
            ).start()
        await stopped.wait()
        log.info("stopping on %s: draining in-flight calls for up to %.0fs", received[-1], config.grace)
    finally:
        stop.set()
        await health.enter_graceful_shutdown()
        await server.stop(config.grace)


def follow(store: Store, registry: Alias, config: ServeConfig, stop: threading.Event) -> None:
    """Swap in the version ``name@alias`` points at whenever it changes, for promotions and rollbacks.

    Runs on its own thread until ``stop`` is set. The new version is downloaded, checked and
    indexed beside the serving one while calls go on, then switched in one step. A registry that
    does not answer, or a bundle that fails to load or check, is logged (and counted) and the
    serving model stays. Each poll also shows the serving model's data age again, and the
    figures a monitoring run tagged its version with since it was loaded. The registry is asked
    as ``service.registry`` asks it, never with MLflow in this process.
    """
    while not stop.wait(config.poll_seconds):
        current = store.current
        serving = current and current.version
        if current is not None:
            metrics.show_data_age(current.index.manifest.data_end)  # a week may have ended
        try:
            version = registry.version()
        except Exception as exc:  # the registry is a network service: keep serving whatever it says
            log.warning("registry did not answer, still serving version %s: %s", serving, exc)
            continue
        if version is None:
            continue
        if version.version == serving:  # a monitoring run may have tagged it since
            metrics.show_monitored(Monitored.from_tags(version.tags))
            continue
        try:
            model = load(
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
