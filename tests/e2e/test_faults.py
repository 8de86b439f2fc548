"""SIGTERM under load: calls being answered finish, the others end cleanly, the exit code is 0."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import grpc

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from tests.e2e.helpers import Market, copied, serving, wait_for


def test_sigterm_under_load_lets_calls_in_flight_finish(trained_market: Market, tmp_path: Path) -> None:
    market = copied(trained_market, tmp_path)
    batch = pb.BatchEstimateRatesRequest(requests=[pb.EstimateRateRequest(skill="prompt engineering")] * 1000)
    finished: list[float] = []  # when each answered call came back
    failures: list[grpc.StatusCode] = []
    short: list[int] = []  # answers that came back without every result
    with serving(market) as (server, lines):
        port = wait_for(lines, r"SERVING .* on 127\.0\.0\.1:(\d+)", 120).group(1)

        def load() -> None:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = pb_grpc.ForecastServiceStub(channel)
                while not failures:
                    try:
                        answered = len(stub.BatchEstimateRates(batch, timeout=10).results)
                    except grpc.RpcError as error:
                        failures.append(error.code())
                        continue
                    finished.append(time.monotonic())
                    if answered != 1000:
                        short.append(answered)

        callers = [threading.Thread(target=load) for _ in range(4)]
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 60
        while len(finished) < 20 and not failures and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(finished) >= 20, (
            f"{len(finished)} calls answered in 60 s before SIGTERM; failures {failures}"
        )
        stopped = time.monotonic()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        for caller in callers:
            caller.join(10)
        assert not any(caller.is_alive() for caller in callers), (
            "a caller still waits 10 s after the server ended"
        )
    assert not short, f"answers without every result: {short}"
    assert any(t > stopped for t in finished), "no call in flight at SIGTERM was answered"
    # New calls are refused (UNAVAILABLE); calls that reached gRPC but no handler yet are CANCELLED
    # by gRPC's shutdown (grpc/grpc#41785). Nothing else.
    assert set(failures) <= {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}, failures
