"""Prometheus metrics of the service, served on their own port.

With ``--workers N`` every process writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` and the
parent process serves their sum (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import functools
from pathlib import Path

import grpc
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

# One histogram gives both: its _count is the number of calls by rpc and code.
REQUESTS = Histogram(
    "gigcast_request_seconds",
    "Time the server spent on a call, by rpc and status code.",
    ["method", "code"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
MODEL_VERSION = Gauge(
    "gigcast_model_version", "Registry version of the model answering.", multiprocess_mode="livemostrecent"
)
SWAPS = Counter("gigcast_model_swaps", "Models switched in to answer, the first one included.")
#: The ``method`` label of calls to a method gigcast does not serve, whatever name they used.
UNKNOWN_METHOD = "unknown"
REFUSED = Counter(
    "gigcast_bundles_refused", "New versions that failed to load or check; the serving model stayed."
)


@functools.cache
def _series(method: str, code: str) -> Histogram:
    """The labelled child of one rpc and code, looked up once: labels() costs a microsecond."""
    return REQUESTS.labels(method, code)


def observe(method: str, code: grpc.StatusCode, seconds: float) -> None:
    _series(method, code.name).observe(seconds)


def serve_metrics(host: str, port: int, multiprocess_dir: Path | None = None) -> int:
    """Serve /metrics over HTTP on a daemon thread; returns the port bound (0 picks one)."""
    registry = REGISTRY
    if multiprocess_dir is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(multiprocess_dir))
    server, _ = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)
