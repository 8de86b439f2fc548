"""A real grpc.aio server on a loopback port, called through real channels."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from service.server import SERVICE_NAME, create_server
from service.store import LoadedModel, Store


@dataclass
class Running:
    store: Store
    channel: grpc.Channel
    stub: pb_grpc.ForecastServiceStub
    health: HealthServicer
    loop: asyncio.AbstractEventLoop

    def set_health(self, status: int) -> None:
        asyncio.run_coroutine_threadsafe(self.health.set(SERVICE_NAME, status), self.loop).result()


@pytest.fixture
def running() -> Iterator[Running]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    store = Store()

    async def start() -> tuple[grpc.aio.Server, int, HealthServicer]:
        health = HealthServicer()
        server, port = create_server("127.0.0.1:0", store, health)
        await server.start()
        return server, port, health

    server, port, health = asyncio.run_coroutine_threadsafe(start(), loop).result()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield Running(store, channel, pb_grpc.ForecastServiceStub(channel), health, loop)
    channel.close()
    asyncio.run_coroutine_threadsafe(server.stop(None), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()


def test_unavailable_until_a_model_is_loaded_then_answers(running: Running, model: LoadedModel) -> None:
    skill = next(iter(model.index.skills))
    with pytest.raises(grpc.RpcError) as caught:
        running.stub.EstimateRate(pb.EstimateRateRequest(skill=skill), timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    running.store.swap(model)
    response = running.stub.EstimateRate(pb.EstimateRateRequest(skill=skill), timeout=5)
    assert response.skill == skill and response.p50 > 0


def test_bad_request_carries_field_violations(running: Running, model: LoadedModel) -> None:
    running.store.swap(model)
    with pytest.raises(grpc.RpcError) as caught:
        running.stub.ForecastDemand(pb.ForecastDemandRequest(skill="x", horizon_weeks=0), timeout=5)
    # the skill is checked first: an unknown skill is NOT_FOUND with its details
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    skill = next(iter(model.index.skills))
    with pytest.raises(grpc.RpcError) as caught:
        running.stub.ForecastDemand(pb.ForecastDemandRequest(skill=skill, horizon_weeks=0), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert bad.field_violations[0].field == "horizon_weeks"


def test_quotes_and_movers_through_the_server(running: Running, model: LoadedModel) -> None:
    running.store.swap(model)
    skill = next(iter(model.index.skills))
    quote = running.stub.QuoteGig(pb.QuoteGigRequest(skills=[skill], estimated_hours=10), timeout=5)
    assert 0 < quote.low_usd <= quote.mid_usd <= quote.high_usd
    movers = running.stub.ListMovers(pb.ListMoversRequest(horizon_weeks=4), timeout=5)
    assert movers.model.version == "1"


def test_batch_and_rate_path_through_the_server(running: Running, model: LoadedModel) -> None:
    running.store.swap(model)
    skill = next(iter(model.index.skills))
    batch = running.stub.BatchEstimateRates(
        pb.BatchEstimateRatesRequest(requests=[pb.EstimateRateRequest(skill=skill)] * 3), timeout=5
    )
    assert [r.estimate.skill for r in batch.results] == [skill] * 3
    path = running.stub.ForecastRate(pb.ForecastRateRequest(skill=skill, horizon_weeks=4), timeout=5)
    assert len(path.points) == 4 and path.model.version == "1"


def test_health_and_reflection_are_served(running: Running) -> None:
    health = health_pb2_grpc.HealthStub(running.channel)
    running.set_health(health_pb2.HealthCheckResponse.SERVING)
    answer = health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING

    reflection = reflection_pb2_grpc.ServerReflectionStub(running.channel)
    replies = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"gigcast.v1.ForecastService", "grpc.health.v1.Health"} <= names


RPCS = [method.name for method in pb.DESCRIPTOR.services_by_name["ForecastService"].methods]
ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}


@pytest.mark.parametrize("rpc", RPCS)
def test_no_bytes_of_any_kind_get_unknown_or_internal(running: Running, model: LoadedModel, rpc: str) -> None:
    """Whatever arrives, valid or corrupt, the answer is an answer or a client error."""
    running.store.swap(model)
    call = running.channel.unary_unary(f"/gigcast.v1.ForecastService/{rpc}")  # raw bytes in and out

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.binary(max_size=64))
    def check(data: bytes) -> None:
        try:
            call(data, timeout=5)
        except grpc.RpcError as error:
            assert error.code() in ALLOWED, (rpc, data, error.code(), error.details())

    check()
    with pytest.raises(grpc.RpcError) as caught:
        call(b"\xff\xff\xff", timeout=5)  # not a protobuf message at all
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request" in caught.value.details()
