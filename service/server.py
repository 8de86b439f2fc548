"""gRPC server wiring: the rpcs, health, reflection, auth, TLS, following the champion, a graceful stop.

A sync server with a pool of ``THREADS``, chosen by measurement (``python bench/rpc.py``
measures grpc.aio beside it). ``create_server`` binds without starting so that tests can use
port 0; ``serve`` runs the whole life of a process.
"""

from __future__ import annotations

import gc
import hmac
import logging
import signal
import ssl
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import grpc
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import HealthServicer
from grpc_reflection.v1alpha import reflection

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
# Handler threads by default. The work is Python under one GIL, but a few threads keep calls
# ready while others are sent. Measured with ``bench/rpc.py``: with the threads placed by the
# system (how a server usually runs), 2 carried 5-9% more calls than 4; on a core of its own, 4
# carried 6-14% more than 2 (``--threads``).
THREADS = 2


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
    threads: int = THREADS
    answer_cache_mb: float = 64.0  # answers kept to be sent again (service.answers); 0 keeps none
    reuse_port: bool = False  # only --workers shares its port, with processes of its own


Behaviour = Callable[[bytes, grpc.ServicerContext], bytes]


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

    def respond(data: bytes, context: grpc.ServicerContext) -> bytes:
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
    def answer(data: bytes, context: grpc.ServicerContext) -> bytes:
        start = time.perf_counter()
        try:
            response = respond(data, context)
        except RequestError as error:
            metrics.observe(method, error.code, time.perf_counter() - start)
            context.abort_with_status(error.to_status())
            raise  # abort_with_status always raises; this keeps type checkers honest
        except Exception:
            metrics.observe(method, grpc.StatusCode.INTERNAL, time.perf_counter() - start)
            log.exception("%s failed", method)
            context.abort(grpc.StatusCode.INTERNAL, "the server failed on this request; it is logged")
            raise
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


class BearerTokens(grpc.ServerInterceptor):
    """Calls to gigcast must carry ``authorization: Bearer <token>`` with a known token.

    Health checks and reflection stay open: probes and tools need them, and they hold no data.
    """

    OPEN = (f"/{HEALTH_NAME}/", f"/{reflection.SERVICE_NAME}/")
    RPCS: ClassVar[dict[str, str]] = {f"/{SERVICE_NAME}/{m.name}": m.name for m in SERVICE.methods}

    def __init__(self, tokens: frozenset[str]) -> None:
        self._tokens = [token.encode() for token in tokens]
        self._deny = grpc.unary_unary_rpc_method_handler(self._refuse)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        rpc = self.RPCS.get(details.method)
        if rpc is None:  # gRPC answers UNIMPLEMENTED; every such name counts as one, whoever calls
            if not details.method.startswith(self.OPEN):
                metrics.observe(metrics.UNKNOWN_METHOD, grpc.StatusCode.UNIMPLEMENTED, 0.0)
            return continuation(details)
        if self._known(details.invocation_metadata):
            return continuation(details)
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
    def _refuse(request: bytes, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "send 'authorization: Bearer <token>', a known one")


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


def create_server(config: ServeConfig, store: Store, health: HealthServicer) -> tuple[grpc.Server, int]:
    """A server with gigcast, health and reflection, bound to the configured address, not started."""
    interceptors = [BearerTokens(config.auth_tokens)] if config.auth_tokens else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="gigcast-rpc"),
        interceptors=interceptors,
        # on only for --workers: two servers started by mistake on one port must not share it
        options=[("grpc.so_reuseport", int(config.reuse_port))],
    )
    rpcs = forecast_service(store, Answers(int(config.answer_cache_mb * 2**20)))
    # as the generated code registers them: known to gRPC's core, so calls skip a lookup in Python
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, rpcs),))
    server.add_registered_method_handlers(SERVICE_NAME, rpcs)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection((SERVICE_NAME, HEALTH_NAME, reflection.SERVICE_NAME), server)
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
    store = Store()
    health = HealthServicer()
    server, bound = create_server(config, store, health)
    for service in ("", SERVICE_NAME):
        health.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
    stop = threading.Event()
    received: list[str] = []

    def stopping(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    for sig in STOP_SIGNALS:
        signal.signal(sig, stopping)
    server.start()
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
        model = fetch(registry)
        store.swap(model)
        # What is loaded by now (grpc, polars, the model: ~60,000 objects) stays for the life of
        # the process. Frozen, it is out of the collector's sight: a full collection, which holds
        # every thread, took 106 ms before and under 0.01 ms after. A model swapped out later is
        # still freed by its reference count.
        gc.collect()
        gc.freeze()
        for service in ("", SERVICE_NAME):
            health.set(service, health_pb2.HealthCheckResponse.SERVING)
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
        stop.wait()
        log.info("stopping on %s: draining in-flight calls for up to %.0fs", received[-1], config.grace)
    finally:
        stop.set()
        health.enter_graceful_shutdown()
        server.stop(config.grace).wait()


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
