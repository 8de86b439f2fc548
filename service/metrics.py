"""Prometheus metrics of the service, served on their own port.

With ``--workers N`` every process writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` and the
parent process serves their sum (prometheus-client's multiprocess mode).

The serving model's health (its data's age, its latest monitoring run) is set when a model is
swapped in and at every poll of the alias. Gauges of several workers show the most recent value
set by a live one. Figures the serving version lacks are NaN, never a previous version's: a
multiprocess gauge cannot drop a labelled series, and NaN makes no comparison in an alert true.
"""

from __future__ import annotations

import functools
import math
from datetime import date
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

from gigcast.bundle import Target
from gigcast.monitored import Monitored, data_age_weeks

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
DATA_AGE = Gauge(
    "gigcast_data_age_weeks",
    "Complete weeks ended since the serving model's data ends.",
    multiprocess_mode="livemostrecent",
)
COVERAGE = Gauge(
    "gigcast_monitored_coverage",
    "Share of actuals inside the 80% interval in the serving version's latest monitoring run.",
    ["target"],
    multiprocess_mode="livemostrecent",
)
MASE_RATIO = Gauge(
    "gigcast_monitored_mase_ratio",
    "Median MASE on new weeks over the backtest's, in the serving version's latest monitoring run.",
    ["target"],
    multiprocess_mode="livemostrecent",
)
DRIFTED = Gauge(
    "gigcast_monitored_drifted",
    "1 when the serving version's latest monitoring run found drift, else 0.",
    multiprocess_mode="livemostrecent",
)


@functools.cache
def series(method: str, code: grpc.StatusCode) -> Histogram:
    """The labelled child of one rpc and code, looked up once: labels() costs a microsecond.

    A caller that observes one rpc and code on every call keeps the child itself.
    """
    return REQUESTS.labels(method, code.name)


def observe(method: str, code: grpc.StatusCode, seconds: float) -> None:
    series(method, code).observe(seconds)


def show_data_age(data_end: date) -> None:
    DATA_AGE.set(data_age_weeks(data_end, today=date.today()))


def show_monitored(monitored: Monitored | None) -> None:
    """The figures of the serving version's latest monitoring run; NaN for those it lacks (all when None)."""
    coverage = monitored.coverage if monitored else {}
    mase_ratio = monitored.mase_ratio if monitored else {}
    for target in Target:
        COVERAGE.labels(target).set(coverage.get(target, math.nan))
        MASE_RATIO.labels(target).set(mase_ratio.get(target, math.nan))
    DRIFTED.set(math.nan if monitored is None else int(monitored.drifted))


def serve_metrics(host: str, port: int, multiprocess_dir: Path | None = None) -> int:
    """Serve /metrics over HTTP on a daemon thread; returns the port bound (0 picks one)."""
    registry = REGISTRY
    if multiprocess_dir is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(multiprocess_dir))
    server, _ = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)
