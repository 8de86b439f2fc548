"""Clients that stop mid-request: calls whose body never comes, on a real server on a loopback port.

The calls are raw HTTP/2 (``tests.stalling``): headers sent, body never.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gigcast.v1 import forecast_pb2 as pb
from service import server
from service.server import HEALTH_NAME, SERVICE_NAME, read_tokens
from service.store import LoadedModel
from tests.serving import LOOPBACK, Running, started
from tests.stalling import Call, seen, stalled, stream_of


@pytest.fixture
def running() -> Iterator[Running]:
    with started(LOOPBACK) as running:
        yield running


def test_calls_whose_body_never_comes_hold_up_no_other_call(model: LoadedModel, tmp_path: Path) -> None:
    """20 streams on 4 connections opened with their headers, never a body: more than a pool of threads."""
    tokens = tmp_path / "tokens"
    tokens.write_text("secret\n")
    bearer = (("authorization", "Bearer secret"),)
    waiting = [Call(f"/{SERVICE_NAME}/EstimateRate", bearer), Call(f"/{HEALTH_NAME}/Check")]
    refused = Call(f"/{SERVICE_NAME}/EstimateRate")  # no token
    calls = [*waiting, refused, *waiting]
    with started(replace(LOOPBACK, auth_tokens=read_tokens(tokens))) as running:
        running.store.swap(model)
        connections = [stalled("127.0.0.1", running.port, calls) for _ in range(4)]
        try:
            time.sleep(0.5)  # the server reads every stalled call's headers before the calls below
            request = pb.EstimateRateRequest(skill=next(iter(model.index.skills)))
            health = health_pb2_grpc.HealthStub(running.channel)
            for _ in range(3):
                assert running.stub.EstimateRate(request, metadata=bearer, timeout=2).skill == request.skill
                probe = health.Check(health_pb2.HealthCheckRequest(), timeout=2)
                assert probe.status == health_pb2.HealthCheckResponse.SERVING
                with pytest.raises(grpc.RpcError) as caught:
                    running.stub.EstimateRate(request, timeout=2)
                assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            for connection in connections:
                found = seen(connection)
                assert not found.closed
                # refused without waiting for a body; the others still wait for theirs
                assert found.ended == {stream_of(i) for i, call in enumerate(calls) if call is refused}
        finally:
            for connection in connections:
                connection.close()


def test_one_connection_holds_at_most_its_share_of_calls(running: Running) -> None:
    limit = dict(server.CONNECTION_LIMITS)["grpc.max_concurrent_streams"]
    connection = stalled("127.0.0.1", running.port, [Call(f"/{HEALTH_NAME}/Check")] * (limit + 10))
    try:
        time.sleep(0.5)
        found = seen(connection)  # the streams past the limit refused, the others waiting still
        assert found.ended == {stream_of(i) for i in range(limit, limit + 10)} and not found.closed
    finally:
        connection.close()


def test_a_peer_that_answers_no_ping_is_dropped(model: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection limits' times a hundred times shorter: a ping every 0.6 s, answered within 0.2 s."""
    shorter = [
        (name, value // 100 if name.endswith("_ms") else value) for name, value in server.CONNECTION_LIMITS
    ]
    monkeypatch.setattr(server, "CONNECTION_LIMITS", tuple(shorter))
    with started(LOOPBACK) as running:
        running.store.swap(model)
        request = pb.EstimateRateRequest(skill=next(iter(model.index.skills)))
        assert running.stub.EstimateRate(request, timeout=5).skill == request.skill
        connection = stalled("127.0.0.1", running.port, [Call(f"/{HEALTH_NAME}/Check")])
        try:
            deadline = time.monotonic() + 10
            while not seen(connection).closed:
                assert time.monotonic() < deadline, "a peer that never answers a ping is kept"
                time.sleep(0.1)
        finally:
            connection.close()
        # a client's gRPC answers the same pings, and its calls go on being answered
        assert running.stub.EstimateRate(request, timeout=5).skill == request.skill
