"""A bounded soak: a steady stream of calls from a second process, no errors, RSS flat.

GIGCAST_SOAK_SECONDS sets the length (default 30); run longer before a release.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import time
from pathlib import Path

import grpc

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from tests.e2e.helpers import Market, copied, serving, wait_for

RATE = 400  # calls per second


def steady(target: str, seconds: float) -> tuple[int, list[str]]:
    """Calls at RATE per second for ``seconds``: how many answered, and every unexpected error."""
    answered, errors = 0, []
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.ForecastServiceStub(channel)
        known = [skill.id for skill in stub.ListSkills(pb.ListSkillsRequest(), timeout=5).skills]
        skills = [*known[:3], "no such skill"]
        start = time.monotonic()
        for i in range(int(seconds * RATE)):
            time.sleep(max(0.0, start + i / RATE - time.monotonic()))
            request = pb.EstimateRateRequest(skill=skills[i % 4], country=("", "US", "IN")[i % 3])
            try:
                stub.EstimateRate(request, timeout=5)
                answered += 1
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:  # the unknown skill is asked on purpose
                    errors.append(f"{error.code()}: {error.details()}")
    return answered, errors


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


def test_a_steady_load_runs_without_errors_or_growth(trained_market: Market, tmp_path: Path) -> None:
    seconds = float(os.environ.get("GIGCAST_SOAK_SECONDS", "30"))
    market = copied(trained_market, tmp_path)
    with serving(market) as (server, lines):
        target = wait_for(lines, r"SERVING .* on (127\.0\.0\.1:\d+)", 120).group(1)
        with multiprocessing.get_context("spawn").Pool(1) as client:
            client.apply(steady, (target, 5.0))  # warm up: first allocations, caches
            before = rss_kb(server.pid)
            began = time.monotonic()
            answered, errors = client.apply(steady, (target, seconds))
            took = time.monotonic() - began
        after = rss_kb(server.pid)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    growth = after / before - 1
    print(
        f"soak: {answered} answered in {took:.1f} s ({answered / took:.0f}/s, plus unknown-skill errors), "
        f"RSS {before / 1024:.1f} → {after / 1024:.1f} MB ({growth:+.2%})"
    )
    assert errors == []
    assert answered >= seconds * RATE * 3 / 4 * 0.95  # three requests in four name a known skill
    assert growth < 0.05, f"RSS grew {growth:.1%}"
