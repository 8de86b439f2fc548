"""``--workers 2``: two processes on one port, their metrics summed, JSON logs, a clean stop.

Also: a port another deployment holds is refused, workers end with their parent, and a worker
that dies is logged and replaced.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from tests.e2e.helpers import (
    Market,
    accepted,
    command,
    copied,
    kill,
    running,
    serving,
    spawned_by,
    until,
    wait_for,
)

SERVING = r'"message": "SERVING'


@pytest.fixture(scope="module")
def market(trained_market: Market, tmp_path_factory: pytest.TempPathFactory) -> Market:
    """The session's trained market, copied for the tests of this module, which only serve it."""
    return copied(trained_market, tmp_path_factory.mktemp("market"))


def sample(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"no {series} in the metrics"
    return float(match.group(1))


def estimate(address: str, then: Callable[[], object] = lambda: None) -> object:
    """One call on a connection of its own, which the kernel gives to one of the workers.

    Returns what ``then()`` returns, asked while the connection is still open.
    """
    with grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        answer = pb_grpc.ForecastServiceStub(channel).EstimateRate(
            pb.EstimateRateRequest(skill="prompt engineering"), timeout=5
        )
        assert answer.model.version == "1"
        return then()


def test_workers_share_a_port_and_their_metrics(market: Market) -> None:
    with serving(market, "--workers=2", "--metrics-port=0", "--log-format=json") as (server, lines):
        metrics_port = wait_for(lines, r"metrics of 2 workers on http://127\.0\.0\.1:(\d+)", 60).group(1)
        started = [json.loads(wait_for(lines, SERVING, 120).string) for _ in range(2)]
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


def test_a_second_deployment_on_a_taken_port_exits_2(market: Market, tmp_path: Path) -> None:
    with serving(market, "--workers=2", "--log-format=json") as (first, lines):
        (address,) = {json.loads(wait_for(lines, SERVING, 120).string)["address"] for _ in range(2)}
        port = int(address.rpartition(":")[2])
        temporary = tmp_path / "tmp"  # where the second one would make its metrics folder
        temporary.mkdir()
        second = subprocess.Popen(
            [
                command("gigcast-serve"),
                f"--port={port}",
                "--workers=2",
                f"--cache-dir={market.folder / 'cache'}",
            ],
            cwd=market.folder,
            env={**market.env, "TMPDIR": str(temporary)},
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _, errors = second.communicate(timeout=30)  # before: it joined the port and served
        finally:
            kill(second)
        assert second.returncode == 2
        assert errors.splitlines() == [f"error: port {port} is in use"]
        assert list(temporary.iterdir()) == []  # nothing left behind

        for _ in range(10):  # the first deployment answers on new connections as before
            estimate(address)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0


@pytest.mark.parametrize("when", ["starting", "serving"])
def test_workers_end_when_their_parent_is_killed(
    market: Market, when: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the metrics folder a killed parent cannot remove
    with serving(market, "--workers=2", "--log-format=json") as (server, lines):
        wait_for(lines, r"2 workers on 127\.0\.0\.1", 60)
        if when == "serving":
            for _ in range(2):
                wait_for(lines, SERVING, 120)
        # a worker just started shows spawn_main in its command line only once it has exec'd
        assert until(lambda: len(spawned_by(server.pid)) == 2, 10)
        workers = spawned_by(server.pid)
        server.kill()
        server.wait(timeout=10)
        try:
            left = until(lambda: not any(map(running, workers)), 20) or {
                pid: Path(f"/proc/{pid}/stat").read_text() for pid in workers if running(pid)
            }
            assert left is True, f"workers outlived their parent: {left}"
        finally:
            for pid in workers:
                if running(pid):
                    os.kill(pid, signal.SIGKILL)


def test_a_killed_worker_is_logged_and_replaced(market: Market) -> None:
    with serving(market, "--workers=2", "--log-format=json") as (server, lines):
        (address,) = {json.loads(wait_for(lines, SERVING, 120).string)["address"] for _ in range(2)}
        port = int(address.rpartition(":")[2])
        workers = spawned_by(server.pid)
        assert len(workers) == 2
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)

        death = json.loads(wait_for(lines, rf'"message": "worker {victim} ', 30).string)
        assert death["level"] == "WARNING"
        assert (death["pid"], death["signal"], death["exitcode"]) == (victim, "SIGKILL", -signal.SIGKILL)
        replacement = death["replacement"]
        wait_for(lines, SERVING, 120)
        assert spawned_by(server.pid) == workers - {victim} | {replacement}  # two again

        # New connections, spread over both workers: some reach the new one, which answers.
        took = [estimate(address, then=lambda: accepted(replacement, port)) for _ in range(40)]
        assert any(took), "the new worker took no connection"

        server.send_signal(signal.SIGTERM)  # a clean stop still: the worker that died does not count
        assert server.wait(timeout=30) == 0
        assert not any(running(pid) for pid in workers | {replacement})


def test_workers_that_keep_dying_are_replaced_only_so_often(market: Market) -> None:
    with serving(market, "--workers=2", "--log-format=json", "--model-name=missing") as (server, lines):
        assert server.wait(timeout=180) == 1  # each worker: cannot load, exit 1
        died = r'"message": "worker \d+ exited with code 1'
        deaths = [json.loads(wait_for(lines, died, 10).string) for _ in range(5)]
        assert [death["level"] for death in deaths] == ["WARNING"] * 4 + ["ERROR"]
        assert "not replacing them, stopping" in deaths[-1]["message"]


def test_sighup_to_the_parent_drains_every_worker_and_stops(market: Market) -> None:
    with serving(market, "--workers=2", "--log-format=json") as (server, lines):
        for _ in range(2):
            wait_for(lines, SERVING, 120)
        workers = spawned_by(server.pid)
        server.send_signal(signal.SIGHUP)  # before: the parent died at once and left its workers
        for _ in range(2):
            wait_for(lines, r"stopping on SIGHUP: draining", 30)
        assert server.wait(timeout=30) == 0
        assert not any(running(pid) for pid in workers)
