"""Memory of gigcast-serve at 100 and 1,000 skills, beside a bare gRPC server; the CPU of a poll.

For each ``--skills N``, a synthetic market of N skills over ``--weeks`` is trained with
``gigcast-train run`` (SQLite registry), and ``gigcast-serve`` serves its champion. Its RSS is
read from /proc once it reports SERVING, and again after it has polled the registry and found
a change. Beside it, in the same run, a bare sync gRPC server in a fresh interpreter that imports
grpc and the generated stubs only (a pool of two threads, returning a constant
EstimateRateResponse, as in ``bench/rpc.py``): what Python and gRPC alone hold.

The server asks the registry in short-lived child processes, so a poll that asks costs the CPU
of one such child; it is shown beside the same question asked of MLflow loaded in this process.
A poll of a SQLite registry whose file has not changed asks nothing.

Training 1,000 skills takes many minutes: ``--keep DIR`` keeps the trained markets there, and a
later run serves those it finds trained.

Usage: python bench/memory.py [--skills 100 1000] [--weeks 104] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from summary import record

from gigcast.settings import CHAMPION_ALIAS, MODEL_NAME
from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc

BIN = Path(sys.executable).parent
TRAINED = "trained"  # the file that marks a market trained in --keep
BARE_THREADS = 2
#: The bare server: argv is the constant response in hex and the threads; it prints its port.
BARE = """
import sys
from concurrent import futures
import grpc
from gigcast.v1 import forecast_pb2 as pb
constant = pb.EstimateRateResponse.FromString(bytes.fromhex(sys.argv[1]))
method = grpc.unary_unary_rpc_method_handler(
    lambda request, context: constant,
    request_deserializer=pb.EstimateRateRequest.FromString,
    response_serializer=pb.EstimateRateResponse.SerializeToString,
)
server = grpc.server(futures.ThreadPoolExecutor(max_workers=int(sys.argv[2])))
rpcs = {"EstimateRate": method}
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("gigcast.v1.ForecastService", rpcs),))
server.add_registered_method_handlers("gigcast.v1.ForecastService", rpcs)
print(server.add_insecure_port("127.0.0.1:0"), flush=True)
server.start()
server.wait_for_termination()
"""


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds a process has used itself, and those of its children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def until(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {seconds:.0f} s")
        time.sleep(0.1)


def market(folder: Path, skills: int, weeks: int) -> str:
    """A trained market of ``skills`` skills in ``folder``, trained now unless it was before; its URI."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    if (folder / TRAINED).is_file():
        return uri
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    train, postings = str(BIN / "gigcast-train"), folder / "postings.parquet"
    synth = [train, "synth", "--out", str(postings), "--skills", str(skills), "--weeks", str(weeks)]
    subprocess.run(synth, check=True, capture_output=True)
    began = time.perf_counter()
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    fit = [train, "run", "--data", str(postings), "--quiet"]
    subprocess.run(fit, check=True, cwd=folder, env=env, capture_output=True)
    print(f"trained {skills:,} skills in {time.perf_counter() - began:.0f} s")
    (folder / TRAINED).touch()
    return uri


def serve(folder: Path, uri: str) -> tuple[subprocess.Popen[str], str]:
    """gigcast-serve on the market, polling every second, once it reports SERVING; and its address."""
    cache = folder / "cache"
    shutil.rmtree(cache, ignore_errors=True)  # every run downloads the bundle, as a new server does
    command = [
        str(BIN / "gigcast-serve"),
        "--port=0",
        "--poll-seconds=1",
        f"--cache-dir={cache}",
        "--log-format=text",
    ]
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    process = subprocess.Popen(command, cwd=folder, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if match := re.search(r"SERVING .* on (127\.0\.0\.1:\d+)", line):
            threading.Thread(target=process.stderr.read, daemon=True).start()  # the rest of its log
            return process, match.group(1)
    raise SystemExit(f"gigcast-serve exited with {process.wait()} before SERVING")


def poll_cost(process: subprocess.Popen[str], uri: str) -> float:
    """CPU seconds of a poll that asks the registry: a tag is set on the version, and the next poll asks."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version
    own, children = cpu_seconds(process.pid)  # an unchanged registry file is not asked again
    client.set_model_version_tag(MODEL_NAME, version, "bench.memory", str(time.time()))
    until(lambda: cpu_seconds(process.pid)[1] > children, 120)
    time.sleep(1.5)  # what the poll does after its child
    after = cpu_seconds(process.pid)
    return after[0] - own + after[1] - children


def in_process_poll(uri: str, polls: int = 20) -> float:
    """CPU seconds of the same question asked of MLflow loaded in this process, once loaded."""
    from gigcast.registry import version_by_alias

    version_by_alias(tracking_uri=uri, name=MODEL_NAME, alias=CHAMPION_ALIAS)
    began = time.process_time()
    for _ in range(polls):
        version_by_alias(tracking_uri=uri, name=MODEL_NAME, alias=CHAMPION_ALIAS)
    return (time.process_time() - began) / polls


def bare_server(response: bytes) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-c", BARE, response.hex(), str(BARE_THREADS)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, f"127.0.0.1:{int(process.stdout.readline())}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skills", type=int, nargs="+", default=[100, 1000], help="market sizes")
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--keep", type=Path, help="train the markets here and keep them; reuse those trained")
    options = parser.parse_args()
    if any(skills < 1 for skills in options.skills) or options.weeks < 1:
        parser.error("--skills and --weeks must be at least 1")

    workdir = options.keep or Path(tempfile.mkdtemp(prefix="gigcast-bench-memory-"))
    rows = []
    try:
        for skills in options.skills:
            folder = workdir / f"skills-{skills}-weeks-{options.weeks}"
            uri = market(folder, skills, options.weeks)
            process, address = serve(folder, uri)
            try:
                serving = rss_mb(process.pid)
                with grpc.insecure_channel(address) as channel:
                    stub = pb_grpc.ForecastServiceStub(channel)
                    skill = stub.ListSkills(pb.ListSkillsRequest(page_size=1)).skills[0].id
                    response = stub.EstimateRate(pb.EstimateRateRequest(skill=skill)).SerializeToString()
                cost = poll_cost(process, uri)
                polled = rss_mb(process.pid)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            rows.append((skills, serving, polled, cost, in_process_poll(uri)))
        bare, address = bare_server(response)
        try:
            with grpc.insecure_channel(address) as channel:  # one call answered, as gigcast-serve has
                pb_grpc.ForecastServiceStub(channel).EstimateRate(pb.EstimateRateRequest(skill=skill))
            baseline = rss_mb(bare.pid)
        finally:
            bare.kill()
            bare.wait()
    finally:
        if options.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"markets of {options.weeks} weeks, SQLite registry; RSS from /proc; "
        f"a bare sync gRPC server (grpc and the stubs alone): {baseline:.0f} MB"
    )
    print(
        f"{'skills':>7s} {'RSS at SERVING':>15s} {'vs bare':>8s} {'after a poll':>13s}"
        f" {'a poll that asks, CPU':>22s} {'MLflow in process':>18s}"
    )
    for skills, serving, polled, cost, in_process in rows:
        print(
            f"{skills:7,d} {serving:12.0f} MB {serving / baseline:7.2f}× {polled:10.0f} MB"
            f" {cost:20.2f} s {in_process * 1000:15.1f} ms"
        )
        figure = f"RSS of gigcast-serve, {skills:,} skills"
        record("serving", figure, serving, "MB", "bare sync server", baseline)
    print("a poll of a SQLite file unchanged since it last answered asks nothing")


if __name__ == "__main__":
    main()
