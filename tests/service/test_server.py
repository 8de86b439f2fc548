"""A real gRPC server on a loopback port, called through real channels."""

from __future__ import annotations

import asyncio
import base64
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
import trustme
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from service.errors import RequestError
from service.server import SERVICE, SERVICE_NAME, check_tls, create_server, read_tokens
from service.store import LoadedModel, Store
from tests.serving import LOOPBACK, Running, started


@pytest.fixture
def running() -> Iterator[Running]:
    with started(LOOPBACK) as running:
        yield running


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
        running.stub.ForecastDemand(pb.ForecastDemandRequest(skill="x", horizon_weeks=53), timeout=5)
    # the skill is checked first: an unknown skill is NOT_FOUND with its details
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    skill = next(iter(model.index.skills))
    with pytest.raises(grpc.RpcError) as caught:
        running.stub.ForecastDemand(pb.ForecastDemandRequest(skill=skill, horizon_weeks=53), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert bad.field_violations[0].field == "horizon_weeks"


@pytest.mark.parametrize("text", ["a" * 6000, "é" * 1700, "日本語" * 2000])
def test_long_text_is_refused_up_front_and_never_quoted_whole(
    running: Running, model: LoadedModel, text: str
) -> None:
    running.store.swap(model)
    for call, request in (
        (running.stub.EstimateRate, pb.EstimateRateRequest(skill=text)),
        (
            running.stub.EstimateRate,
            pb.EstimateRateRequest(skill=next(iter(model.index.skills)), country=text),
        ),
        (running.stub.ListSkills, pb.ListSkillsRequest(query=text)),
        (running.stub.ForecastCategoryDemand, pb.ForecastCategoryDemandRequest(category=text)),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call(request, timeout=5)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        assert "at most 200 characters" in caught.value.details()
        assert len(caught.value.details()) < 200


def test_an_unknown_name_is_quoted_short(running: Running, model: LoadedModel) -> None:
    running.store.swap(model)
    with pytest.raises(grpc.RpcError) as caught:
        running.stub.EstimateRate(pb.EstimateRateRequest(skill="q" * 200), timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "q" * 60 + "…" in caught.value.details() and "q" * 61 not in caught.value.details()


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


@pytest.mark.parametrize("answer_cache_mb", [64.0, 0.0])
def test_answers_come_from_the_model_serving_now(model: LoadedModel, answer_cache_mb: float) -> None:
    request = pb.EstimateRateRequest(skill=next(iter(model.index.skills)), country="PL")
    with started(replace(LOOPBACK, answer_cache_mb=answer_cache_mb)) as running:
        running.store.swap(model)
        first, again = (running.stub.EstimateRate(request, timeout=5) for _ in range(2))
        assert again == first and first.model.version == "1"
        running.store.swap(replace(model, version="2"))
        swapped = running.stub.EstimateRate(request, timeout=5)
        assert swapped.model.version == "2" and swapped.p50 == first.p50


def test_health_and_reflection_are_served(running: Running) -> None:
    health = health_pb2_grpc.HealthStub(running.channel)
    running.on_loop(running.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING))
    answer = health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING

    reflection = reflection_pb2_grpc.ServerReflectionStub(running.channel)
    replies = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"gigcast.v1.ForecastService", "grpc.health.v1.Health"} <= names


RPCS = [method.name for method in SERVICE.methods]
ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
WORDS = ["", " ", "prompt engineering", "PROMPT-ENGINEERING", "US", "india", "2026-11-23", "1999-01-01", "é"]


def values(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    """Any value protobuf accepts for ``field``: in range and out, names real and not."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type, depth + 1)
    if field.type == FieldDescriptor.TYPE_STRING:
        long = st.text(min_size=190, max_size=6000)  # around the length limit, and far past it
        tokens = st.sampled_from(["1e400", "Infinity", "[" * 10_000]).map(
            lambda text: base64.urlsafe_b64encode(text.encode()).decode()
        )  # crafted page tokens
        return st.one_of(st.sampled_from(WORDS), st.text(max_size=24), long, tokens)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(width=32 if field.type == FieldDescriptor.TYPE_FLOAT else 64)
    return st.integers(-(2**31), 2**31 - 1)  # int32 and enums, open as proto3 enums are


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    fields = {}
    for field in descriptor.fields:
        value = values(field, depth)
        if field.is_repeated:
            value = st.lists(value, max_size=0 if depth else 4)  # type: ignore[assignment]
        fields[field.name] = value
    return st.fixed_dictionaries({}, optional=fields)


def assert_an_answer(method: MethodDescriptor, answer: bytes) -> None:
    """An OK answer is a message of the method's output type whose numbers are all finite."""
    message = GetMessageClass(method.output_type).FromString(answer)
    numbers = [value for _, value in fields_of(message) if isinstance(value, float)]
    assert all(math.isfinite(number) for number in numbers), (method.name, message)


def fields_of(message: Any) -> Iterator[tuple[FieldDescriptor, Any]]:
    """Every set field of ``message`` and of the messages inside it, repeated ones one by one."""
    for field, value in message.ListFields():
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        for item in value.values() if is_map else value if field.is_repeated else [value]:
            if isinstance(item, Message):
                yield from fields_of(item)
            else:
                yield field, item


@pytest.mark.parametrize("method", SERVICE.methods, ids=RPCS)
def test_generated_requests_get_answers_or_client_errors(
    running: Running, model: LoadedModel, method: MethodDescriptor
) -> None:
    running.store.swap(model)
    request_type = getattr(pb, method.input_type.name)
    call = running.channel.unary_unary(
        f"/{SERVICE.full_name}/{method.name}", request_serializer=request_type.SerializeToString
    )

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(messages(method.input_type))
    def check(fields: dict[str, Any]) -> None:
        try:
            answer = call(request_type(**fields), timeout=5)
        except grpc.RpcError as error:
            assert error.code() in ALLOWED, (method.name, fields, error.code(), error.details())
        else:
            assert_an_answer(method, answer)

    check()


@pytest.mark.parametrize("rpc", RPCS)
def test_no_bytes_of_any_kind_get_unknown_or_internal(running: Running, model: LoadedModel, rpc: str) -> None:
    """Whatever arrives, valid or corrupt, the answer is an answer or a client error."""
    running.store.swap(model)
    call = running.channel.unary_unary(f"/gigcast.v1.ForecastService/{rpc}")  # raw bytes in and out

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.binary(max_size=64))
    def check(data: bytes) -> None:
        try:
            answer = call(data, timeout=5)
        except grpc.RpcError as error:
            assert error.code() in ALLOWED, (rpc, data, error.code(), error.details())
        else:
            assert_an_answer(SERVICE.methods_by_name[rpc], answer)

    check()
    with pytest.raises(grpc.RpcError) as caught:
        call(b"\xff\xff\xff", timeout=5)  # not a protobuf message at all
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "request" in caught.value.details()


def requests_counted(method: str, code: str) -> float:
    labels = {"method": method, "code": code}
    return REGISTRY.get_sample_value("gigcast_request_seconds_count", labels) or 0.0


def test_metrics_count_calls_by_method_and_code(running: Running, model: LoadedModel) -> None:
    running.store.swap(model)
    before_ok = requests_counted("EstimateRate", "OK")
    before_missing = requests_counted("EstimateRate", "NOT_FOUND")
    slowest = {"method": "EstimateRate", "code": "OK", "le": "+Inf"}
    before_latency = REGISTRY.get_sample_value("gigcast_request_seconds_bucket", slowest) or 0.0
    skill = next(iter(model.index.skills))
    for _ in range(3):
        running.stub.EstimateRate(pb.EstimateRateRequest(skill=skill), timeout=5)
    with pytest.raises(grpc.RpcError):
        running.stub.EstimateRate(pb.EstimateRateRequest(skill="no such skill"), timeout=5)
    assert requests_counted("EstimateRate", "OK") == before_ok + 3
    assert requests_counted("EstimateRate", "NOT_FOUND") == before_missing + 1
    assert REGISTRY.get_sample_value("gigcast_request_seconds_bucket", slowest) == before_latency + 3
    assert REGISTRY.get_sample_value("gigcast_model_version") == 1


def test_a_call_past_its_deadline_fails_alone(running: Running, model: LoadedModel) -> None:
    running.store.swap(model)
    skill = next(iter(model.index.skills))
    batch = pb.BatchEstimateRatesRequest(requests=[pb.EstimateRateRequest(skill=skill)] * 1000)
    with pytest.raises(grpc.RpcError) as caught:
        running.stub.BatchEstimateRates(batch, timeout=0.0001)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    answered = running.stub.BatchEstimateRates(batch, timeout=10)
    assert len(answered.results) == 1000
    assert requests_counted("BatchEstimateRates", "INTERNAL") == 0
    assert requests_counted("BatchEstimateRates", "UNKNOWN") == 0


def test_tokens_are_required_except_for_health(model: LoadedModel, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# the platform's backend\nsecret-one\n\nsecret-two\n")
    with started(replace(LOOPBACK, auth_tokens=read_tokens(tokens))) as running:
        running.store.swap(model)
        running.on_loop(running.health.set("", health_pb2.HealthCheckResponse.SERVING))
        skill = next(iter(model.index.skills))
        request = pb.EstimateRateRequest(skill=skill)
        stub = running.stub
        for metadata in [(), (("authorization", "Bearer wrong"),), (("authorization", "secret-one"),)]:
            with pytest.raises(grpc.RpcError) as caught:
                stub.EstimateRate(request, metadata=metadata, timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, metadata
        for token in ("secret-one", "secret-two"):
            answer = stub.EstimateRate(request, metadata=(("authorization", f"Bearer {token}"),), timeout=5)
            assert answer.skill == skill
        probe = health_pb2_grpc.HealthStub(running.channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert probe.status == health_pb2.HealthCheckResponse.SERVING


def test_made_up_methods_count_under_one_label_with_or_without_a_token(
    model: LoadedModel, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("secret\n")
    before = requests_counted("unknown", "UNIMPLEMENTED")
    with started(replace(LOOPBACK, auth_tokens=read_tokens(tokens))) as running:
        running.store.swap(model)
        names = [f"/{SERVICE_NAME}/Made{i}" for i in range(150)] + [f"/made.up{i}/Call" for i in range(150)]
        for name in names:
            call = running.channel.unary_unary(name)
            with pytest.raises(grpc.RpcError) as caught:
                call(b"", metadata=(("authorization", "Bearer nope"),), timeout=5)
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert requests_counted("unknown", "UNIMPLEMENTED") - before == len(names)
    labels = {
        sample.labels["method"]
        for family in REGISTRY.collect()
        if family.name == "gigcast_request_seconds"
        for sample in family.samples
    }
    assert labels <= {method.name for method in SERVICE.methods} | {"unknown"}


def test_a_token_file_others_can_read_is_served_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("secret\n")
    for mode, warned in ((0o644, True), (0o600, False)):
        tokens.chmod(mode)
        caplog.clear()
        assert read_tokens(tokens) == {"secret"}
        assert ("can be read by other users" in caplog.text) is warned, oct(mode)


def test_tls_files_that_are_not_a_pem_certificate_and_key_are_named(tmp_path: Path) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("localhost")
    cert, key, junk = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "junk.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    junk.write_text("not a certificate")
    check_tls(cert, key)
    for pair in ((junk, key), (cert, junk), (key, cert)):
        with pytest.raises(ValueError, match="are not a PEM certificate and its key"):
            check_tls(*pair)


def test_an_empty_token_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "tokens"
    empty.write_text("# nobody yet\n")
    with pytest.raises(ValueError, match="no tokens"):
        read_tokens(empty)


def test_tls_serves_clients_that_trust_the_certificate(model: LoadedModel, tmp_path: Path) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("localhost", "127.0.0.1")
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    with started(replace(LOOPBACK, tls_cert=cert, tls_key=key)) as running:
        running.store.swap(model)
        request = pb.EstimateRateRequest(skill=next(iter(model.index.skills)))
        trusted = grpc.ssl_channel_credentials(root_certificates=authority.cert_pem.bytes())
        with grpc.secure_channel(f"localhost:{running.port}", trusted) as channel:
            answer = pb_grpc.ForecastServiceStub(channel).EstimateRate(request, timeout=5)
            assert answer.skill == request.skill
        with pytest.raises(grpc.RpcError) as caught:
            running.stub.EstimateRate(request, timeout=5)  # a plain channel
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_taken_port_is_not_shared_by_accident(running: Running) -> None:
    async def create() -> None:
        create_server(replace(LOOPBACK, port=running.port), Store(), health_aio.HealthServicer())

    with pytest.raises(RuntimeError):
        asyncio.run(create())


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK])
def test_every_status_code_becomes_a_rich_status(code: grpc.StatusCode) -> None:
    status = RequestError(code, "why").to_status()
    assert status.code == code and status.details == "why"
