"""What gigcast costs over gRPC itself, and what its server model costs beside the other one.

One load client (its own process: grpc.aio, --concurrency calls in flight for --seconds) is
pointed in turn at:

- gigcast-serve (a grpc.aio server) answering EstimateRate from a model trained on a synthetic
  market: as it runs, keeping its answers (the request mix repeats, as a platform's questions
  do), and with ``--answer-cache-mb 0``, working every answer out;
- a bare grpc.aio server, registered as gigcast-serve registers, returning a constant
  EstimateRateResponse of the same size: the cost of gRPC and Python alone on that model;
- a bare sync server (a pool of --threads, registered as the generated code registers): gRPC's
  other server model, which gigcast-serve ran before and which the other figures are beside.
  It carries more calls, but a call whose body never comes holds one of its threads
  (``bench/stall.py``).

Rounds are interleaved and the median kept, so that the machine's drift hits all alike. Each
server also gets single-stream round trips (p50/p99). Then gigcast-serve answers
BatchEstimateRates of 1,000 (server time from its own latency histogram). Memory is
``bench/memory.py``'s.

With two or more CPUs, every server runs on CPU 1 and the load client on CPU 0 (``--no-pin`` lets
the system place them): a server has one core, as with one ``--workers`` process per core, and
runs do not move with the scheduler's choices.

Usage: python bench/rpc.py [--skills 20] [--seconds 4] [--rounds 5] [--concurrency 64] [--workers 1]
                           [--threads 2] [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent import futures
from pathlib import Path

import grpc
from summary import record

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from service.server import SERVICE_NAME

BIN = Path(sys.executable).parent
THREADS = 2  # the bare sync server's pool
GIGCAST, WORKING = "gigcast-serve", "  no answers kept"
WARM_UP = 200  # calls before the clock starts
LEVELS = (pb.EXPERIENCE_LEVEL_UNSPECIFIED, pb.EXPERIENCE_LEVEL_ENTRY, pb.EXPERIENCE_LEVEL_EXPERT)
COUNTRIES = ("", "US", "IN", "DE", "PL", "BR")


def requests_for(skills: list[str]) -> list[pb.EstimateRateRequest]:
    """A mix of skills, levels and countries, so that no single lookup path is all that is timed."""
    return [
        pb.EstimateRateRequest(skill=skill, experience_level=level, country=country)
        for skill, level, country in itertools.product(skills, LEVELS, COUNTRIES)
    ]


# --- servers -------------------------------------------------------------------------------------


def _service(answer: Callable[..., object]) -> dict[str, grpc.RpcMethodHandler]:
    method = grpc.unary_unary_rpc_method_handler(
        answer,
        request_deserializer=pb.EstimateRateRequest.FromString,
        response_serializer=pb.EstimateRateResponse.SerializeToString,
    )
    return {"EstimateRate": method}


def _generic(rpcs: dict[str, grpc.RpcMethodHandler]) -> tuple[grpc.GenericRpcHandler]:
    """As gigcast-serve registers a service; the generated code also registers its methods."""
    return (grpc.method_handlers_generic_handler(SERVICE_NAME, rpcs),)


def pin(cpus: set[int] | None) -> None:
    """Holds this process to ``cpus`` (None: anywhere); threads it makes afterwards are held too."""
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def pinned(cpus: set[int] | None, body: Callable[..., None], *arguments: object) -> None:
    pin(cpus)
    body(*arguments)


def bare_aio(response: bytes, ready: multiprocessing.Queue[int]) -> None:
    constant = pb.EstimateRateResponse.FromString(response)

    async def answer(request: pb.EstimateRateRequest, context: object) -> pb.EstimateRateResponse:
        return constant

    asyncio.run(_aio(_service(answer), ready))


def bare_sync(response: bytes, threads: int, ready: multiprocessing.Queue[int]) -> None:
    constant = pb.EstimateRateResponse.FromString(response)
    _sync(_service(lambda request, context: constant), threads, ready)


def _sync(service: dict[str, grpc.RpcMethodHandler], threads: int, ready: multiprocessing.Queue[int]) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads))
    server.add_generic_rpc_handlers(_generic(service))
    server.add_registered_method_handlers(SERVICE_NAME, service)
    ready.put(server.add_insecure_port("127.0.0.1:0"))
    server.start()
    server.wait_for_termination()


async def _aio(service: dict[str, grpc.RpcMethodHandler], ready: multiprocessing.Queue[int]) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(_generic(service))
    ready.put(server.add_insecure_port("127.0.0.1:0"))
    await server.start()
    await server.wait_for_termination()


# --- clients -------------------------------------------------------------------------------------


def load(target: str, requests: list[bytes], seconds: float, concurrency: int) -> float:
    """Calls per second with ``concurrency`` calls in flight on one channel."""

    async def run() -> float:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.ForecastServiceStub(channel)
            messages = [pb.EstimateRateRequest.FromString(r) for r in requests]
            for message in messages[:WARM_UP]:
                await stub.EstimateRate(message)
            done = 0
            end = time.perf_counter() + seconds

            async def caller(offset: int) -> None:
                nonlocal done
                for message in itertools.islice(itertools.cycle(messages), offset, None):
                    if time.perf_counter() >= end:
                        return
                    await stub.EstimateRate(message)
                    done += 1

            began = time.perf_counter()
            await asyncio.gather(*(caller(i * 7) for i in range(concurrency)))
            return done / (time.perf_counter() - began)

    return asyncio.run(run())


def round_trips(target: str, requests: list[bytes], calls: int) -> list[float]:
    """Seconds of each of ``calls`` calls made one after the other."""
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.ForecastServiceStub(channel)
        messages = [pb.EstimateRateRequest.FromString(r) for r in requests]
        for message in messages[:WARM_UP]:
            stub.EstimateRate(message)
        times = []
        for message in itertools.islice(itertools.cycle(messages), calls):
            began = time.perf_counter()
            stub.EstimateRate(message)
            times.append(time.perf_counter() - began)
    return times


# --- the run -------------------------------------------------------------------------------------


def family(pid: int) -> list[int]:
    """A process and its children (gigcast-serve's workers)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid, *map(int, found)]


def cpu_seconds(pids: list[int]) -> float:
    """User and system time the processes have used, all their threads included."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def scrape(port: int, name: str, labels: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    match = re.search(rf"^{name}\{{{labels}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skills", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64, help="calls in flight: enough to saturate")
    parser.add_argument("--calls", type=int, default=3000, help="single-stream round trips")
    parser.add_argument("--batches", type=int, default=30, help="BatchEstimateRates calls of 1,000")
    parser.add_argument("--workers", type=int, default=1, help="gigcast-serve --workers")
    parser.add_argument(
        "--threads", type=int, default=THREADS, help="handler threads of the bare sync server"
    )
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="let the system place processes")
    options = parser.parse_args()

    spawn = multiprocessing.get_context("spawn")
    workdir = Path(tempfile.mkdtemp(prefix="gigcast-bench-rpc-"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    postings = workdir / "postings.parquet"
    train = str(BIN / "gigcast-train")
    synth = [train, "synth", "--out", str(postings), "--skills", str(options.skills), "--weeks", "104"]
    subprocess.run(synth, check=True, capture_output=True)
    fit = [train, "run", "--data", str(postings), "--quiet"]
    subprocess.run(fit, check=True, cwd=workdir, env=env, capture_output=True)

    pinning = options.pin and len(os.sched_getaffinity(0)) >= 2 and options.workers == 1
    server_cpus, client_cpus = ({1}, {0}) if pinning else (None, None)

    def gigcast_serve(*flags: str) -> tuple[subprocess.Popen[str], str, int]:
        """A started gigcast-serve, its address and its metrics port."""
        command = [
            str(BIN / "gigcast-serve"),
            "--port=0",
            "--metrics-port=0",
            f"--workers={options.workers}",
            f"--cache-dir={workdir / 'cache'}",
            "--log-format=text",
            *flags,
        ]
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: pin(server_cpus),
        )
        gigcasts.append(process)
        assert process.stderr is not None
        metrics_port = None
        for line in process.stderr:
            if match := re.search(r"metrics .*on http://127\.0\.0\.1:(\d+)", line):
                metrics_port = int(match.group(1))
            if (match := re.search(r"SERVING .* on (127\.0\.0\.1:\d+)", line)) and metrics_port:
                return process, match.group(1), metrics_port
        raise SystemExit("gigcast-serve did not start")

    gigcasts: list[subprocess.Popen[str]] = []
    servers: list[multiprocessing.process.BaseProcess] = []
    try:
        gigcast, target, _ = gigcast_serve()
        # every answer worked out: the batch figure, and EstimateRate for questions never asked before
        working, working_target, metrics_port = gigcast_serve("--answer-cache-mb=0")
        channel = grpc.insecure_channel(target)
        stub = pb_grpc.ForecastServiceStub(channel)
        skills = [s.id for s in stub.ListSkills(pb.ListSkillsRequest(page_size=500)).skills]
        requests = requests_for(skills)
        constant = stub.EstimateRate(requests[0]).SerializeToString()

        targets = {GIGCAST: target, WORKING: working_target}
        pids = {GIGCAST: family(gigcast.pid), WORKING: family(working.pid)}
        for label, body, arguments in [
            ("bare aio", bare_aio, (constant,)),
            ("bare sync", bare_sync, (constant, options.threads)),
        ]:
            ready = spawn.Queue()
            process = spawn.Process(target=pinned, args=(server_cpus, body, *arguments, ready), daemon=True)
            process.start()
            servers.append(process)
            targets[label] = f"127.0.0.1:{ready.get(timeout=60)}"
            pids[label] = [process.pid]  # type: ignore[list-item]

        wire = [r.SerializeToString() for r in requests]
        throughput: dict[str, list[float]] = {label: [] for label in targets}
        cost: dict[str, list[float]] = {label: [] for label in targets}  # server CPU per call
        single: dict[str, list[float]] = {label: [] for label in targets}
        with spawn.Pool(1, initializer=pin, initargs=(client_cpus,)) as client:
            for _ in range(options.rounds):
                for label, address in targets.items():
                    used = cpu_seconds(pids[label])
                    rate = client.apply(load, (address, wire, options.seconds, options.concurrency))
                    used = cpu_seconds(pids[label]) - used
                    throughput[label].append(rate)
                    cost[label].append(used / (rate * options.seconds + WARM_UP))
                    calls = options.calls // options.rounds
                    single[label] += client.apply(round_trips, (address, wire, calls))

        channel.close()
        channel = grpc.insecure_channel(working_target)
        stub = pb_grpc.ForecastServiceStub(channel)
        batch = pb.BatchEstimateRatesRequest(requests=[requests[i % len(requests)] for i in range(1000)])
        stub.BatchEstimateRates(batch)
        labels = 'code="OK",method="BatchEstimateRates"'
        before = (
            scrape(metrics_port, "gigcast_request_seconds_sum", labels),
            scrape(metrics_port, "gigcast_request_seconds_count", labels),
        )
        batch_trips = []
        for _ in range(options.batches):
            began = time.perf_counter()
            stub.BatchEstimateRates(batch)
            batch_trips.append(time.perf_counter() - began)
        after = (
            scrape(metrics_port, "gigcast_request_seconds_sum", labels),
            scrape(metrics_port, "gigcast_request_seconds_count", labels),
        )
        batch_server = (after[0] - before[0]) / (after[1] - before[1])
        channel.close()
    finally:
        for served in gigcasts:
            served.send_signal(signal.SIGTERM)
            served.wait(timeout=30)
        for process in servers:
            process.kill()

    median = {label: statistics.median(rates) for label, rates in throughput.items()}
    base = median["bare sync"]
    print(
        f"market: {options.skills} skills, {len(requests)} distinct requests, "
        f"{options.concurrency} in flight, median of {options.rounds} × {options.seconds:g} s, "
        f"gigcast-serve --workers {options.workers}, bare sync server --threads {options.threads}, "
        + ("servers on CPU 1, load client on CPU 0" if pinning else "processes placed by the system")
    )
    ms = 1000
    print(
        f"{'EstimateRate server':22s} {'calls/s':>8s} {'vs bare sync':>13s} {'server CPU/call':>16s}"
        "   single stream p50, p99   rounds"
    )
    for label, rate in median.items():
        rounds = ", ".join(f"{r:.0f}" for r in throughput[label])
        times = sorted(single[label])
        p50, p99 = pct(times, 0.5) * ms, pct(times, 0.99) * ms
        us = statistics.median(cost[label]) * 1e6
        print(
            f"{label:22s} {rate:8.0f} {rate / base:12.2f}× {us:13.0f} µs"
            f"   {p50:6.3f} ms, {p99:6.3f} ms   {rounds}"
        )
    aio = median["bare aio"]
    print(
        f"gigcast / bare aio, the same server model: {median[GIGCAST] / aio:.2f} "
        f"({median[WORKING] / aio:.2f} with no answers kept); bare aio / bare sync: {aio / base:.2f}"
    )
    print(
        f"BatchEstimateRates × 1000: server time {batch_server * ms:.2f} ms (mean of {options.batches}), "
        f"round trip p50 {statistics.median(batch_trips) * ms:.2f} ms"
    )
    p50 = {label: pct(sorted(single[label]), 0.5) * ms for label in (GIGCAST, WORKING, "bare sync")}
    record("serving", "EstimateRate calls/s", median[GIGCAST], "", "bare sync server", base)
    record("serving", "  no answers kept", median[WORKING], "", "bare sync server", base)
    record("serving", "  bare aio server", aio, "", "bare sync server", base)
    bare_p50 = p50["bare sync"]
    record("serving", "EstimateRate single-stream p50", p50[GIGCAST], "ms", "bare sync server", bare_p50)
    record("serving", "  no answers kept", p50[WORKING], "ms", "bare sync server", bare_p50)
    record("serving", "BatchEstimateRates ×1000, server time", batch_server * ms, "ms", "budget", 10.0)


if __name__ == "__main__":
    main()
