"""Clients that share nothing with gigcast but the proto or the server's reflection."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gigcast.v1 import forecast_pb2 as pb
from service.store import LoadedModel
from tests.serving import LOOPBACK, Running, started

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


@pytest.fixture(scope="module")
def server(model: LoadedModel) -> Iterator[Running]:
    with started(LOOPBACK) as running:
        running.store.swap(model)
        yield running


def run(*args: str) -> str:
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_node_client_built_from_the_proto_gets_the_same_answers(
    server: Running, model: LoadedModel
) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for this test (make installs its packages)"
    skill = next(iter(model.index.skills))
    answer = json.loads(run(node, "examples/node/client.js", f"127.0.0.1:{server.port}", skill, "US"))
    python = server.stub.EstimateRate(
        pb.EstimateRateRequest(skill=skill, country="US", experience_level=pb.EXPERIENCE_LEVEL_EXPERT)
    )
    estimate = answer["estimate"]
    assert estimate["skill"] == skill and estimate["experience_level"] == "EXPERIENCE_LEVEL_EXPERT"
    assert [estimate[q] for q in ("p10", "p50", "p90")] == [python.p10, python.p50, python.p90]
    assert estimate["model"] == {"name": "gigcast", "version": "1"}
    assert len(answer["demand"]["points"]) == 4


def test_reflection_lists_and_calls_the_service(server: Running, model: LoadedModel) -> None:
    address = f"http://127.0.0.1:{server.port}"
    flags = ["--protocol", "grpc", "--http2-prior-knowledge"]
    methods = run(str(BUF), "curl", *flags, "--list-methods", address).split()
    assert "gigcast.v1.ForecastService/EstimateRate" in methods
    assert "grpc.health.v1.Health/Check" in methods
    skill = next(iter(model.index.skills))
    data = json.dumps({"skill": skill, "horizonWeeks": 3})
    answer = json.loads(
        run(str(BUF), "curl", *flags, "--data", data, f"{address}/gigcast.v1.ForecastService/ForecastDemand")
    )
    assert answer["skill"] == skill and len(answer["points"]) == 3
