"""``--workers N``: N server processes on one port, for more cores than one GIL can use.

The gRPC team's multiprocessing pattern: the parent reserves the port with SO_REUSEPORT, each
worker binds it again with ``grpc.so_reuseport`` on, and the kernel spreads connections over
them. Workers are spawned, not forked: gRPC must not be started before a fork.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from service.logs import LogFormat, configure_logging
from service.server import ServeConfig

log = logging.getLogger("gigcast.serve")


@contextlib.contextmanager
def reserved_port(host: str, port: int) -> Iterator[int]:
    """Hold ``host:port`` (0 picks one) with SO_REUSEPORT so that only our workers can join it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host.strip("[]"), port))
        yield sock.getsockname()[1]


Target = Callable[[ServeConfig], int]


def serve_workers(
    config: ServeConfig, workers: int, *, log_format: LogFormat, metrics_port: int | None, target: Target
) -> int:
    """Run ``target`` in ``workers`` processes until SIGTERM or SIGINT, which each of them gets.

    Returns the first non-zero exit code of a worker, else 0.
    """
    from prometheus_client import multiprocess

    from service.metrics import serve_metrics

    samples = Path(tempfile.mkdtemp(prefix="gigcast-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(samples)  # read by the workers' prometheus-client
    context = multiprocessing.get_context("spawn")
    with reserved_port(config.host, config.port) as port:
        shared = replace(config, port=port, reuse_port=True)
        processes = [
            context.Process(target=_worker, args=(target, shared, log_format), name=f"gigcast-serve-{i}")
            for i in range(workers)
        ]
        for process in processes:
            process.start()

        def forward(signum: int, _: object) -> None:
            for process in processes:
                if process.pid is not None and process.is_alive():
                    os.kill(process.pid, signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        if metrics_port is not None:
            bound = serve_metrics(config.host, metrics_port, multiprocess_dir=samples)
            log.info("metrics of %d workers on http://%s:%d/metrics", workers, config.host, bound)
        log.info("%d workers on %s:%d", workers, config.host, port)
        codes = []
        for process in processes:
            process.join()
            multiprocess.mark_process_dead(process.pid, str(samples))
            codes.append(process.exitcode or 0)
    shutil.rmtree(samples, ignore_errors=True)
    return next((code for code in codes if code), 0)


def _worker(target: Target, config: ServeConfig, log_format: LogFormat) -> None:
    configure_logging(log_format)
    raise SystemExit(target(config))
