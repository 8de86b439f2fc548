"""A team's MLflow server: train against it over HTTP, serve from it, promote through it.

The server runs as the operating guide tells a team to run it: ``mlflow server`` with its runs and
registry in a database and artifacts served from a folder, so that gigcast reaches both over HTTP
only. PostgreSQL gets the whole story; SQLite what the PostgreSQL test does not cover, the same
server on a file, without fitting a model again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from tests.conftest import register
from tests.e2e.helpers import Market, command, in_group, serving, small_market, until, wait_for, wait_for_http
from tests.serving import free_port
from training.pipeline import Trained


@dataclass(frozen=True)
class Registry:
    process: subprocess.Popen[bytes]
    uri: str

    def stop(self) -> set[int]:
        """SIGTERM the server and the processes it started (uvicorn, MLflow's job runners).

        Returns those still running 30 s later: none, when the server stops as it should.
        """
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        until(lambda: self.process.poll() is not None and not in_group(self.process.pid), 30)
        return in_group(self.process.pid)


@contextlib.contextmanager
def mlflow_server(folder: Path, backend_store_uri: str) -> Iterator[Registry]:
    """``mlflow server`` on loopback: runs in ``backend_store_uri``, artifacts served from ``folder``.

    It runs in a process group of its own, so that stopping it stops its workers too; whatever
    is left of the group at the end is killed.
    """
    port = free_port()
    log = folder / "mlflow-server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                command("mlflow"),
                "server",
                "--backend-store-uri",
                backend_store_uri,
                "--serve-artifacts",
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
            # gigcast runs none of the server's background jobs; without them it starts in half the time
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    registry = Registry(server, f"http://127.0.0.1:{port}")
    try:
        wait_for_http(f"{registry.uri}/health", server, log)
        yield registry
    finally:
        if registry.stop():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def gigcast_train(market: Market, *args: str) -> subprocess.CompletedProcess[str]:
    """``gigcast-train ARGS`` against the market's registry; fails the test when it fails."""
    done = subprocess.run(
        [command("gigcast-train"), *args],
        cwd=market.folder,
        env=market.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def runs(market: Market) -> list[dict[str, Any]]:
    """``gigcast-train runs --json``: the newest run first."""
    return [json.loads(line) for line in gigcast_train(market, "runs", "--json").stdout.splitlines()]


def test_a_team_server_on_postgresql_trains_serves_promotes_and_may_go_down(
    tmp_path: Path, database: str
) -> None:
    with mlflow_server(tmp_path, database) as registry:
        market = replace(small_market(tmp_path, seed=13), tracking_uri=registry.uri)
        market.train()
        with serving(market, "--poll-seconds=0.5") as (server, lines):
            port = wait_for(lines, r"SERVING gigcast version 1 .* on 127\.0\.0\.1:(\d+)", 120).group(1)
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = pb_grpc.ForecastServiceStub(channel)
                assert stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=5).version == "1"
                market.train("--force-promote")
                wait_for(lines, r"swapped to gigcast version 2", 60)
                listed = runs(market)
                assert [(run["version"], run["champion"]) for run in listed] == [("2", True), ("1", False)]
                assert all(run["demand_mase"] is not None for run in listed)

                rolled = gigcast_train(market, "promote", "--version", "1")  # a rollback, by hand
                assert "is version 1 (was version 2)" in rolled.stderr
                wait_for(lines, r"swapped to gigcast version 1", 60)
                assert stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=5).version == "1"

                assert registry.stop() == set()  # the registry goes down while the server polls it
                wait_for(lines, r"registry did not answer, still serving version 1", 60)
                check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
                assert check.status == health_pb2.HealthCheckResponse.SERVING
                assert stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=5).version == "1"
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0

    # what the team's server kept: runs and aliases in PostgreSQL, bundles in its artifact folder,
    # which clients reach through the server (mlflow-artifacts:), never by path
    with psycopg.connect(database) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM runs")
        assert cursor.fetchone() == (2,)
        cursor.execute("SELECT alias, version FROM registered_model_aliases WHERE name = 'gigcast'")
        assert cursor.fetchall() == [("champion", 1)]
        cursor.execute("SELECT artifact_location FROM experiments WHERE name = 'gigcast'")
        assert cursor.fetchone()[0].startswith("mlflow-artifacts:")
    assert len(list((tmp_path / "artifacts").rglob("manifest.json"))) == 2

    # a restart while the registry is still down serves what this cache last served: the rollback
    with serving(market, "--poll-seconds=0.5") as (server, lines):
        wait_for(lines, r"serving cached version 1", 120)
        wait_for(lines, r"SERVING gigcast version 1", 30)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0


def test_a_team_server_on_sqlite_registers_promotes_and_serves(tmp_path: Path, trained: Trained) -> None:
    # the session's trained market is registered as it is: nothing is fitted, or read from postings
    with mlflow_server(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}") as registry:
        market = Market(tmp_path, postings=tmp_path / "postings.parquet", tracking_uri=registry.uri)
        assert register(registry.uri, trained, tmp_path) == "1"
        promoted = gigcast_train(market, "promote", "--version", "1")
        assert "gigcast@champion is version 1" in promoted.stderr
        assert [(run["version"], run["champion"]) for run in runs(market)] == [("1", True)]
        with serving(market) as (server, lines):
            port = wait_for(lines, r"SERVING gigcast version 1 .* on 127\.0\.0\.1:(\d+)", 120).group(1)
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                info = pb_grpc.ForecastServiceStub(channel).GetModelInfo(pb.GetModelInfoRequest(), timeout=5)
                assert info.version == "1"
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0
        assert registry.stop() == set()
    assert (tmp_path / "mlflow.db").stat().st_size > 0
    assert len(list((tmp_path / "artifacts").rglob("manifest.json"))) == 1
