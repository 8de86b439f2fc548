"""What calls whose body never comes cost the others: gigcast-serve beside a bare sync server.

gigcast-serve answers EstimateRate from a model trained on a small synthetic market. A client
of its own process measures single-stream round trips (p50, p99) and calls per second with
--concurrency in flight, first with nothing else open, then while --connections raw HTTP/2
connections hold --streams EstimateRate calls in all, each opened with its headers and never
sent a body (``tests/stalling.py``); the rounds alternate. The server's RSS is read with and
without them, and at the end every stalled call is checked to be still open.

Beside it, in the same run, a bare sync server with a pool of 2 threads (gRPC's other server
model, which gigcast-serve ran before) gets the same stalled calls, then --probes calls with a
deadline of --deadline seconds each: how many it answers.

With two or more CPUs, the servers run on CPU 1 and the clients on CPU 0, as in ``bench/rpc.py``.

Usage: python bench/stall.py [--streams 1000] [--connections 10] [--rounds 3] [--calls 2000]
                             [--seconds 3] [--concurrency 64] [--probes 5] [--deadline 1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from rpc import bare_sync, load, pct, pin, pinned, requests_for, round_trips
from summary import record

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from service.server import SERVICE_NAME
from tests.stalling import Call, seen, stalled

BIN = Path(sys.executable).parent
STALLED = Call(f"/{SERVICE_NAME}/EstimateRate")


@contextmanager
def holding(address: str, streams: int, connections: int) -> Iterator[list[socket.socket]]:
    """``streams`` stalled calls over ``connections`` connections to ``address``, open until the end."""
    host, port = address.rsplit(":", 1)
    each = [streams // connections + (i < streams % connections) for i in range(connections)]
    opened = [stalled(host, int(port), [STALLED] * n) for n in each]
    try:
        time.sleep(0.5)  # for the server to read every call's headers
        yield opened
    finally:
        for connection in opened:
            connection.close()


def answered(target: str, request: bytes, probes: int, deadline: float) -> int:
    """How many of ``probes`` calls, one after the other, are answered within ``deadline`` seconds."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(f"/{SERVICE_NAME}/EstimateRate")
        done = 0
        for _ in range(probes):
            try:
                call(request, timeout=deadline)
                done += 1
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
    return done


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=1000, help="stalled calls held open")
    parser.add_argument("--connections", type=int, default=10, help="connections they are spread over")
    parser.add_argument("--rounds", type=int, default=3, help="rounds without and with them, alternating")
    parser.add_argument("--calls", type=int, default=2000, help="single-stream round trips a round")
    parser.add_argument("--seconds", type=float, default=3.0, help="of calls with --concurrency in flight")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--probes", type=int, default=5, help="calls to the bare sync server")
    parser.add_argument("--deadline", type=float, default=1.0, help="of each probe, in seconds")
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gigcast-bench-stall-"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    train, postings = str(BIN / "gigcast-train"), workdir / "postings.parquet"
    synth = [train, "synth", "--out", str(postings), "--skills", "5", "--weeks", "60"]
    subprocess.run(synth, check=True, capture_output=True)
    fit = [train, "run", "--data", str(postings), "--quiet"]
    subprocess.run(fit, check=True, cwd=workdir, env=env, capture_output=True)

    pinning = len(os.sched_getaffinity(0)) >= 2
    server_cpus, client_cpus = ({1}, {0}) if pinning else (None, None)
    spawn = multiprocessing.get_context("spawn")
    command = [
        str(BIN / "gigcast-serve"),
        "--port=0",
        f"--cache-dir={workdir / 'cache'}",
        "--log-format=text",
    ]
    server = subprocess.Popen(
        command, cwd=workdir, env=env, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: pin(server_cpus)
    )
    sync: multiprocessing.process.BaseProcess | None = None
    try:
        assert server.stderr is not None
        target = next(
            (m.group(1) for line in server.stderr if (m := re.search(r"SERVING .* on (\S+:\d+)", line))), None
        )
        if target is None:
            raise SystemExit("gigcast-serve did not start")
        with grpc.insecure_channel(target) as channel:
            stub = pb_grpc.ForecastServiceStub(channel)
            skills = [s.id for s in stub.ListSkills(pb.ListSkillsRequest()).skills]
            requests = requests_for(skills)
            wire = [r.SerializeToString() for r in requests]
            constant = stub.EstimateRate(requests[0]).SerializeToString()

        trips: dict[bool, list[float]] = {False: [], True: []}
        rates: dict[bool, list[float]] = {False: [], True: []}
        rss: dict[bool, list[float]] = {False: [], True: []}
        still_open = True
        with spawn.Pool(1, initializer=pin, initargs=(client_cpus,)) as client:
            for _ in range(options.rounds):
                for attacked in (False, True):
                    streams = options.streams if attacked else 0
                    with holding(target, streams, options.connections) as connections:
                        rss[attacked].append(rss_mb(server.pid))
                        trips[attacked] += client.apply(round_trips, (target, wire, options.calls))
                        rates[attacked].append(
                            client.apply(load, (target, wire, options.seconds, options.concurrency))
                        )
                        for connection in connections:
                            found = seen(connection)
                            still_open &= not found.closed and not found.ended

            ready: multiprocessing.Queue[int] = spawn.Queue()
            sync = spawn.Process(
                target=pinned, args=(server_cpus, bare_sync, constant, 2, ready), daemon=True
            )
            sync.start()
            sync_target = f"127.0.0.1:{ready.get(timeout=60)}"
            probe = (sync_target, wire[0], options.probes, options.deadline)
            sync_free = client.apply(answered, probe)
            with holding(sync_target, options.streams, options.connections):
                sync_stalled = client.apply(answered, probe)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if sync is not None:
            sync.kill()

    ms = 1000
    print(
        f"{options.streams:,} stalled EstimateRate calls over {options.connections} connections; "
        f"{options.rounds} rounds of {options.calls:,} single-stream calls and {options.seconds:g} s with "
        f"{options.concurrency} in flight; "
        + ("servers on CPU 1, clients on CPU 0" if pinning else "processes placed by the system")
    )
    print(
        f"{'gigcast-serve':24s} {'p50':>9s} {'p99':>9s} {'calls/s':>8s} {'RSS':>8s}   calls/s of each round"
    )
    for attacked, label in ((False, "nothing stalled"), (True, f"{options.streams:,} stalled")):
        times = sorted(trips[attacked])
        rate, memory = statistics.median(rates[attacked]), statistics.median(rss[attacked])
        print(
            f"{label:24s} {pct(times, 0.5) * ms:6.3f} ms {pct(times, 0.99) * ms:6.3f} ms "
            f"{rate:8.0f} {memory:5.0f} MB   " + ", ".join(f"{r:.0f}" for r in rates[attacked])
        )
    print(f"every stalled call still open at the end of its round: {'yes' if still_open else 'NO'}")
    print(
        f"bare sync server, 2 threads: {sync_free} of {options.probes} calls answered within "
        f"{options.deadline:g} s with nothing stalled, {sync_stalled} of {options.probes} with "
        f"{options.streams:,} stalled"
    )
    if not still_open:
        raise SystemExit("the server ended stalled calls: the figures above are not of calls held open")

    free, held = sorted(trips[False]), sorted(trips[True])
    record(
        "serving", "stalled calls: p50 beside them", pct(held, 0.5) * ms, "ms", "none", pct(free, 0.5) * ms
    )
    record("serving", "  p99 beside them", pct(held, 0.99) * ms, "ms", "none", pct(free, 0.99) * ms)
    rate_held, rate_free = statistics.median(rates[True]), statistics.median(rates[False])
    record("serving", "  calls/s beside them", rate_held, "", "none", rate_free)
    record("serving", "  bare sync server: calls answered", sync_stalled, "", "none", sync_free)


if __name__ == "__main__":
    main()
