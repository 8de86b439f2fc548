"""``--workers N``: N server processes on one port, for more cores than one GIL can use.

The gRPC team's multiprocessing pattern: each worker binds the port with ``grpc.so_reuseport``
on, and the kernel spreads connections over them. Workers are spawned, not forked: gRPC must not
be started before a fork.

**One deployment per port.** SO_REUSEPORT lets any process of the same user join a port that is
held with it, so a second ``--workers`` deployment would share the port, and its calls, with the
first. The parent therefore first binds the port itself *without* SO_REUSEPORT (with
SO_REUSEADDR, as every server does, so that connections of a previous run in TIME_WAIT do not
count). That fails while anything holds the port: another deployment's workers or parent, a
single-process server, any other program; the parent then says ``error: port P is in use`` and
exits 2, before it creates anything. Right after, it binds the port again with SO_REUSEPORT and
holds that socket (bound, never listening, so it takes no connections) until it ends, so that
the port, also one picked with ``--port 0``, stays this deployment's while its workers come and
go. Only a second deployment started in the microseconds between these two binds could still
join.

**Workers end with their parent.** Each worker asks Linux (``prctl(PR_SET_PDEATHSIG)``) for
SIGTERM when the parent dies, even by SIGKILL, and then drains and stops as on any SIGTERM; a
worker whose parent died before it asked exits at once. Elsewhere a thread of the worker looks
at its parent every second.

**A worker that dies is replaced.** While the parent serves, a worker that ends (killed, crashed,
exited) is logged with its pid and exit code or signal, and a new one is started at once. After
``MAX_DEATHS`` deaths within ``DEATHS_WINDOW`` seconds (a worker that dies as it starts: a model
that cannot load, say) the parent stops replacing them, stops the others and exits non-zero.

**Stopping.** SIGTERM, SIGINT or SIGHUP to the parent reaches every worker, which drains its
calls and stops; none is replaced then. The workers' metrics live in a temporary folder, removed on every
way out but SIGKILL of the parent.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import wait
from multiprocessing.context import SpawnContext, SpawnProcess
from pathlib import Path

from service.logs import LogFormat, configure_logging
from service.server import STOP_SIGNALS, ServeConfig

log = logging.getLogger("gigcast.serve")

#: Worker deaths within ``DEATHS_WINDOW`` seconds after which none is replaced any more.
MAX_DEATHS = 5
DEATHS_WINDOW = 60.0
#: prctl(2) option: the signal this process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (0 picks one) with SO_REUSEPORT, which only our workers join.

    Raises OSError (EADDRINUSE) when anything holds the port, with SO_REUSEPORT or not.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = host.strip("[]")
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # without SO_REUSEPORT: fails if taken
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((address, port))
        port = probe.getsockname()[1]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    return sock


Target = Callable[[ServeConfig], int]


def serve_workers(
    config: ServeConfig, workers: int, *, log_format: LogFormat, metrics_port: int | None, target: Target
) -> int:
    """Run ``target`` in ``workers`` processes until SIGTERM, SIGINT or SIGHUP, which each of them gets.

    Returns 2 when the port or the metrics port is taken, non-zero when workers died too often, else the first
    non-zero exit code of a worker as they stopped, else 0.
    """
    try:
        reserved = reserve_port(config.host, config.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"error: port {config.port} is in use", file=sys.stderr)
        else:
            print(f"error: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr)
        return 2
    samples = Path(tempfile.mkdtemp(prefix="gigcast-metrics-"))
    try:
        with reserved:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(samples)  # read by the workers' prometheus-client
            port = reserved.getsockname()[1]
            shared = replace(config, port=port, reuse_port=True)
            return _Supervisor(target, shared, log_format, samples).run(workers, metrics_port)
    finally:
        shutil.rmtree(samples, ignore_errors=True)


class _Supervisor:
    """Starts the workers, replaces those that die, and stops them all on a stop signal."""

    def __init__(self, target: Target, config: ServeConfig, log_format: LogFormat, samples: Path) -> None:
        self.target = target
        self.config = config
        self.log_format = log_format
        self.samples = samples
        self.context: SpawnContext = multiprocessing.get_context("spawn")
        self.live: dict[int, SpawnProcess] = {}  # by sentinel
        self.stop: list[int] = []  # the signal that stops the workers, once one came
        self.signalled: set[int] = set()  # pids the stop signal was sent to

    def run(self, workers: int, metrics_port: int | None) -> int:
        from prometheus_client import multiprocess

        from service.metrics import serve_metrics

        if metrics_port is not None:
            try:
                bound = serve_metrics(self.config.host, metrics_port, multiprocess_dir=self.samples)
            except OSError as exc:
                print(f"error: cannot serve metrics on port {metrics_port}: {exc.strerror}", file=sys.stderr)
                return 2
            log.info("metrics of %d workers on http://%s:%d/metrics", workers, self.config.host, bound)
        # Before the first worker starts, so that a signal never meets a worker left out.
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, self.on_signal)
        for _ in range(workers):
            if not self.stop:
                self.start()
        log.info("%d workers on %s:%d", workers, self.config.host, self.config.port)
        deaths: collections.deque[float] = collections.deque()
        codes: list[int] = []  # of the workers as they were stopped
        failed = 0
        while self.live:
            if self.stop:
                self.forward()  # to a worker started as the signal came
            ready = set(wait(list(self.live), timeout=1.0))
            for sentinel in [sentinel for sentinel in self.live if sentinel in ready]:
                process = self.live.pop(sentinel)
                process.join()
                pid, code = process.pid, process.exitcode
                assert pid is not None and code is not None
                multiprocess.mark_process_dead(pid, str(self.samples))
                if self.stop:
                    codes.append(0 if code == -self.stop[0] else _status(code))
                    continue
                now = time.monotonic()
                deaths.append(now)
                while deaths[0] < now - DEATHS_WINDOW:
                    deaths.popleft()
                killer = signal.Signals(-code).name if code < 0 else None
                how = {"pid": pid, "exitcode": code, "signal": killer}
                if len(deaths) >= MAX_DEATHS:
                    log.error(
                        "worker %d %s; %d worker deaths in %.0fs: not replacing them, stopping",
                        pid,
                        _ended(code),
                        len(deaths),
                        DEATHS_WINDOW,
                        extra=how,
                    )
                    failed = _status(code) or 1
                    self.stop.append(signal.SIGTERM)
                    continue
                replacement = self.start()
                log.warning(
                    "worker %d %s; replaced by worker %d",
                    pid,
                    _ended(code),
                    replacement.pid,
                    extra={**how, "replacement": replacement.pid},
                )
        return failed or next((code for code in codes if code), 0)

    def start(self) -> SpawnProcess:
        process = self.context.Process(
            target=_worker,
            args=(self.target, self.config, self.log_format, os.getpid()),
            name="gigcast-serve-worker",
        )
        process.start()
        self.live[process.sentinel] = process
        return process

    def on_signal(self, signum: int, _: object) -> None:
        if not self.stop:
            self.stop.append(signum)
        self.forward()

    def forward(self) -> None:
        """Send the stop signal to every live worker that has not had it."""
        for process in list(self.live.values()):
            if process.pid is not None and process.pid not in self.signalled and process.exitcode is None:
                self.signalled.add(process.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, self.stop[0])


def _ended(code: int) -> str:
    return f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"


def _status(code: int) -> int:
    """A worker's exit code as a shell reports it: 128 + the signal that ended it."""
    return 128 - code if code < 0 else code


def _worker(target: Target, config: ServeConfig, log_format: LogFormat, parent: int) -> None:
    _end_with(parent)
    configure_logging(log_format)
    raise SystemExit(target(config))


def _end_with(parent: int) -> None:
    """Have SIGTERM sent to this process when ``parent`` dies; exit now if it already has."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)  # the C library Python runs on: glibc or musl
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM)) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:
        threading.Thread(target=_watch, args=(parent,), name="gigcast-parent", daemon=True).start()
    if os.getppid() != parent:  # it died before we asked: no signal will come
        raise SystemExit(1)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
