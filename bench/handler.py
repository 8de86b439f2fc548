"""What gigcast's EstimateRate path costs per call beside a bare handler, in instructions and in time.

The path is gigcast-serve's own: the method handler ``service.server`` registers for EstimateRate
(model check, deadline, answers kept, parsing, ``handlers.estimate_rate``, serializing, metrics),
called as gRPC's server calls it: bytes in, bytes out, with a servicer context that answers
``time_remaining`` as grpc's does, its coroutine run to its end (an answer never waits). The
baseline is bench/rpc.py's bare server: a handler returning a constant EstimateRateResponse of
the same size, parsed and serialized by grpc.

Four paths, each over bench/rpc.py's mix of skills, levels and countries:

- bare handler: a constant answer;
- gigcast, new questions: ``--answer-cache-mb 0``, every answer worked out;
- gigcast, asked again: the answers kept, each question asked before;
- handler alone: ``handlers.estimate_rate`` on a parsed request, its message not serialized: what
  of the new questions' cost is the answer itself, and what the server's wrapping.

Instructions are counted by valgrind's callgrind, which counts the same on a busy machine as on
an idle one: each path runs --calls and then 2 × --calls calls in one process under callgrind,
and the difference over --calls is the figure per call, start-up and first calls left out. Without
valgrind only the times are printed (median of --rounds rounds, in this process).

Usage: python bench/handler.py [--skills 20] [--calls 2000] [--rounds 7] [--bundle DIR]
"""

from __future__ import annotations

import argparse
import gc
import inspect
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path

import grpc
from rpc import requests_for
from summary import record

from gigcast.bundle import read_bundle, write_bundle
from gigcast.lookup import ForecastIndex
from gigcast.v1 import forecast_pb2 as pb
from service import handlers, server
from service.answers import Answers
from service.store import LoadedModel, Store

BARE, NEW, AGAIN = "bare handler", "gigcast, new questions", "gigcast, asked again"
HANDLER = "  handler alone"
PATHS = (BARE, NEW, AGAIN, HANDLER)
KEPT_BYTES = 64 * 2**20  # gigcast-serve's default --answer-cache-mb
# Callgrind zeroes its counts when the process enters the first and writes them out when it
# enters the second: two libc calls Python makes only when asked. The first counts written hold
# more than their span, so a span of nothing comes first and is left out.
ZERO, DUMP = "getppid", "getpgrp"


class Context:
    """What the path asks of grpc's servicer context, answered as grpc's servers do."""

    def __init__(self, timeout: float) -> None:
        self._deadline = time.time() + timeout

    def time_remaining(self) -> float:
        return max(self._deadline - time.time(), 0)


Call = Callable[[bytes], bytes]


def as_grpc_calls(handler: grpc.RpcMethodHandler) -> Call:
    """One call of ``handler`` as grpc's servers make it: deserialize, behave, serialize."""
    context = Context(timeout=3600.0)  # no deadline passes, even under valgrind
    parse, behave, serialize = handler.request_deserializer, handler.unary_unary, handler.response_serializer

    def call(data: bytes) -> bytes:
        request = parse(data) if parse else data
        response = behave(request, context)
        if inspect.iscoroutine(response):  # gigcast's: run in one step, as the event loop runs it
            response = finished(response)
        return serialize(response) if serialize else response  # type: ignore[no-any-return]

    return call


def finished(coroutine: Coroutine[object, None, bytes]) -> bytes:
    """The value of a coroutine that never waits."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise RuntimeError("the handler waited")


def paths(bundle: Path) -> tuple[dict[str, Call], list[bytes]]:
    """The paths over one model, and the requests (serialized) they are asked."""
    model = LoadedModel("gigcast", "1", "champion", "", ForecastIndex(read_bundle(bundle)))
    store = Store()
    store.swap(model)
    requests = [r.SerializeToString() for r in requests_for(list(model.index.skills))]
    new = server.forecast_service(store, Answers(0))["EstimateRate"]
    again = server.forecast_service(store, Answers(KEPT_BYTES))["EstimateRate"]
    constant = pb.EstimateRateResponse.FromString(as_grpc_calls(new)(requests[0]))
    bare = grpc.unary_unary_rpc_method_handler(
        lambda request, context: constant,
        request_deserializer=pb.EstimateRateRequest.FromString,
        response_serializer=pb.EstimateRateResponse.SerializeToString,
    )
    parsed = {data: pb.EstimateRateRequest.FromString(data) for data in requests}

    def handler_alone(data: bytes) -> bytes:
        handlers.estimate_rate(model, parsed[data])
        return data

    calls = {
        BARE: as_grpc_calls(bare),
        NEW: as_grpc_calls(new),
        AGAIN: as_grpc_calls(again),
        HANDLER: handler_alone,
    }
    for call in calls.values():  # caches filled, answers kept: the steady state is measured
        for data in requests:
            call(data)
    return calls, requests


def run(call: Call, requests: list[bytes], calls: int) -> None:
    count = len(requests)
    for i in range(calls):
        call(requests[i % count])


def count(bundle: Path, calls: int) -> None:
    """Under callgrind: each path's --calls and 2 × --calls, each between the two markers."""
    paths_, requests = paths(bundle)
    frozen()
    os.getppid()
    os.getpgrp()
    for call in paths_.values():
        for n in (calls, 2 * calls):
            os.getppid()
            run(call, requests, n)
            os.getpgrp()


def instructions(bundle: Path, calls: int, workdir: Path) -> dict[str, float] | None:
    """Instructions per call of each path, or None without valgrind."""
    if shutil.which("valgrind") is None:
        return None
    out = workdir / "callgrind.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        f"--zero-before={ZERO}",
        f"--dump-before={DUMP}",
        sys.executable,
        __file__,
        "--count",
        str(bundle),
        "--calls",
        str(calls),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts, run after run
    subprocess.run(command, check=True, capture_output=True, env=env)
    counted = [_summary(workdir / f"callgrind.out.{part}") for part in range(2, 2 * len(PATHS) + 2)]
    return {path: (counted[2 * i + 1] - counted[2 * i]) / calls for i, path in enumerate(PATHS)}


def _summary(dump: Path) -> int:
    match = re.search(r"^summary: (\d+)$", dump.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"{dump} holds no callgrind summary")
    return int(match.group(1))


def frozen() -> None:
    """What is loaded kept out of the collector's sight, as gigcast-serve keeps it once SERVING."""
    gc.collect()
    gc.freeze()


def seconds(bundle: Path, calls: int, rounds: int) -> dict[str, float]:
    """Seconds per call of each path: the median of ``rounds`` rounds of ``calls`` calls."""
    paths_, requests = paths(bundle)
    frozen()
    times: dict[str, list[float]] = {path: [] for path in PATHS}
    for _ in range(rounds):
        for path, call in paths_.items():
            began = time.perf_counter()
            run(call, requests, calls)
            times[path].append((time.perf_counter() - began) / calls)
    return {path: statistics.median(values) for path, values in times.items()}


def trained_bundle(skills: int, workdir: Path) -> Path:
    """A bundle trained on a synthetic market of ``skills`` skills over 104 weeks, as bench/rpc.py's."""
    from gigcast.taxonomy import load_taxonomy
    from training.data.ingest import ingest
    from training.data.synth import synthesize
    from training.pipeline import TrainConfig, train

    postings = workdir / "postings.parquet"
    synthesize(skills=skills, weeks=104).postings.write_parquet(postings)
    taxonomy = load_taxonomy()
    trained = train(ingest([postings], taxonomy=taxonomy).accepted, taxonomy=taxonomy, config=TrainConfig())
    return write_bundle(trained.bundle, workdir / "bundle")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skills", type=int, default=20, help="skills of the synthetic market trained")
    parser.add_argument("--calls", type=int, default=2000, help="calls counted per path")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds of --calls per path")
    parser.add_argument("--bundle", type=Path, help="a bundle folder to answer from instead of training one")
    parser.add_argument("--count", type=Path, help=argparse.SUPPRESS)  # the run under callgrind
    options = parser.parse_args()
    if options.count is not None:
        count(options.count, options.calls)
        return

    workdir = Path(tempfile.mkdtemp(prefix="gigcast-bench-handler-"))
    try:
        bundle = options.bundle or trained_bundle(options.skills, workdir)
        counted = instructions(bundle, options.calls, workdir)
        timed = seconds(bundle, options.calls, options.rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    show(counted, timed, options.calls)
    if counted is not None:
        record(
            "serving",
            "EstimateRate path, instructions/call",
            counted[NEW],
            "Ir",
            "bare handler",
            counted[BARE],
        )
        record("serving", "  answers kept, asked again", counted[AGAIN], "Ir", "bare handler", counted[BARE])


def show(counted: dict[str, float] | None, timed: dict[str, float], calls: int) -> None:
    print(f"EstimateRate in process, {calls} calls per path, the mix of bench/rpc.py")
    print(f"{'path':24s} {'instructions/call':>18s} {'vs bare':>8s} {'µs/call':>8s} {'vs bare':>8s}")
    for path in PATHS:
        ir = f"{counted[path]:18,.0f} {counted[path] / counted[BARE]:7.2f}×" if counted else f"{'-':>27s}"
        print(f"{path:24s} {ir} {timed[path] * 1e6:8.2f} {timed[path] / timed[BARE]:7.2f}×")
    if counted is None:
        print("valgrind not found: instructions not counted")
        return
    new, again = counted[NEW] - counted[BARE], counted[AGAIN] - counted[BARE]
    print(f"gigcast's own instructions per call: {new:,.0f} for a new question, {again:,.0f} asked again")


if __name__ == "__main__":
    main()
