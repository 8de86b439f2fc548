"""``--workers 2``: two processes on one port, their metrics summed, JSON logs, a clean stop."""

from __future__ import annotations

import json
import re
import signal
import urllib.request
from pathlib import Path

import grpc

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from tests.e2e.helpers import serving, small_market, wait_for


def sample(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"no {series} in the metrics"
    return float(match.group(1))


def test_workers_share_a_port_and_their_metrics(tmp_path: Path) -> None:
    market = small_market(tmp_path, seed=9)
    market.train()
    with serving(market, "--workers=2", "--metrics-port=0", "--log-format=json") as (server, lines):
        metrics_port = wait_for(lines, r"metrics of 2 workers on http://127\.0\.0\.1:(\d+)", 60).group(1)
        started = [json.loads(wait_for(lines, r'"message": "SERVING', 120).string) for _ in range(2)]
        assert {record["address"] for record in started} == {started[0]["address"]}  # one port
        assert all(record["level"] == "INFO" and record["version"] == "1" for record in started)

        calls = 0
        for _ in range(20):  # new connections, which the kernel spreads over the workers
            with grpc.insecure_channel(started[0]["address"]) as channel:
                stub = pb_grpc.ForecastServiceStub(channel)
                for _ in range(10):
                    answer = stub.EstimateRate(pb.EstimateRateRequest(skill="prompt engineering"), timeout=5)
                    assert answer.model.version == "1"
                    calls += 1

        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        counted = sample(text, 'gigcast_request_seconds_count{code="OK",method="EstimateRate"}')
        assert counted == calls
        assert sample(text, "gigcast_model_version") == 1
        assert sample(text, "gigcast_model_swaps_total") == 2  # one first load in each worker

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
