"""Start-up and round-trip figures of the walking path, each beside a baseline from the same run.

- train: wall time of `gigcast-train run` on a synthetic market of --skills × --weeks;
- start: `gigcast-serve` launch to SERVING, cold (bundle downloaded) and warm (from the cache);
- rpc: EstimateRate round trip from a Python client, against grpc.health.v1 Check on the
  same server (the cost of gRPC itself).

The wall time of the `gigcast` CLI is bench/cli.py's.

Usage: python bench/serving.py [--skills 20] [--weeks 104] [--calls 2000]
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
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from summary import record

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc

BIN = Path(sys.executable).parent


def run(args: list[str], **kwargs: object) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def start_server(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str, float]:
    began = time.perf_counter()
    serve = [str(BIN / "gigcast-serve"), "--port", "0", "--cache-dir", str(workdir / "cache")]
    process = subprocess.Popen(serve, cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if match := re.search(r"SERVING .* on (127\.0\.0\.1:\d+)", line):
            return process, match.group(1), time.perf_counter() - began
    raise SystemExit("gigcast-serve exited before SERVING")


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def latencies(call: object, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skills", type=int, default=20)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--calls", type=int, default=2000)
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gigcast-bench-"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    try:
        postings = workdir / "postings.parquet"
        train = BIN / "gigcast-train"
        run(
            [
                str(train),
                "synth",
                "--out",
                str(postings),
                "--skills",
                str(options.skills),
                "--weeks",
                str(options.weeks),
            ]
        )
        trained = run([str(train), "run", "--data", str(postings), "--quiet"], cwd=workdir, env=env)

        process, target, cold = start_server(workdir, env)
        stop(process)
        process, target, warm = start_server(workdir, env)
        try:
            channel = grpc.insecure_channel(target)
            stub = pb_grpc.ForecastServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            request = pb.EstimateRateRequest(skill="prompt engineering", experience_level=3, country="US")
            check = health_pb2.HealthCheckRequest()
            latencies(lambda: stub.EstimateRate(request), 200)  # warm up both paths
            latencies(lambda: health.Check(check), 200)
            estimate = sorted(latencies(lambda: stub.EstimateRate(request), options.calls))
            baseline = sorted(latencies(lambda: health.Check(check), options.calls))
            channel.close()
        finally:
            stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    print(f"market: {options.skills} skills × {options.weeks} weeks")
    print(f"train (gigcast-train run, end to end)      {trained:8.2f} s")
    print(f"start to SERVING, cold (downloads bundle)  {cold:8.2f} s")
    print(f"start to SERVING, warm (bundle cached)     {warm:8.2f} s")
    print(
        f"EstimateRate round trip p50 {ms(pct(estimate, 0.5))}  p99 {ms(pct(estimate, 0.99))}   "
        f"baseline Health.Check p50 {ms(pct(baseline, 0.5))}  p99 {ms(pct(baseline, 0.99))}"
    )
    print(f"EstimateRate p50 / Health.Check p50        {pct(estimate, 0.5) / pct(baseline, 0.5):8.2f}×")
    record("serving", "start to SERVING, warm", warm, "s", "cold (downloads the bundle)", cold)


if __name__ == "__main__":
    main()
