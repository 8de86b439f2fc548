"""A team's MLflow server: train against it over HTTP, serve from it, promote through it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from tests.e2e.helpers import command, serving, small_market, wait_for
from tests.serving import free_port


@dataclass(frozen=True)
class Registry:
    process: subprocess.Popen[bytes]
    uri: str


@contextlib.contextmanager
def mlflow_server(folder: Path) -> Iterator[Registry]:
    """``mlflow server`` on loopback with a SQLite backend and artifacts served from a folder."""
    port = free_port()
    server = subprocess.Popen(
        [
            command("mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    registry = Registry(server, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{registry.uri}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.5)
        yield registry
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


def test_a_team_server_trains_serves_promotes_and_may_go_down(tmp_path: Path) -> None:
    with mlflow_server(tmp_path) as registry:
        market = replace(small_market(tmp_path, seed=13), tracking_uri=registry.uri)
        market.train()
        with serving(market, "--poll-seconds=0.5") as (server, lines):
            port = wait_for(lines, r"SERVING gigcast version 1 .* on 127\.0\.0\.1:(\d+)", 120).group(1)
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = pb_grpc.ForecastServiceStub(channel)
                assert stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=5).version == "1"
                market.train("--force-promote")
                wait_for(lines, r"swapped to gigcast version 2", 60)

                registry.process.terminate()  # the registry goes down while the server polls it
                registry.process.wait(timeout=30)
                wait_for(lines, r"registry did not answer, still serving version 2", 60)
                check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
                assert check.status == health_pb2.HealthCheckResponse.SERVING
                assert stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=5).version == "2"
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0

    # a restart while the registry is still down serves what this cache last served
    with serving(market, "--poll-seconds=0.5") as (server, lines):
        wait_for(lines, r"serving cached version 2", 120)
        wait_for(lines, r"SERVING gigcast version 2", 30)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
