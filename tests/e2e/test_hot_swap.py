"""A running server follows promotions and rollbacks of @champion without one failed call.

The first version is the session's market trained with ``gigcast-train run`` (in a copy of its
registry); the later ones are bundles of the session's market trained in process, registered as
the trainer registers them (the swap is the same for any bundle), and promoted and rolled back
with ``gigcast-train promote``.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import grpc
from mlflow import MlflowClient

from gigcast.v1 import forecast_pb2 as pb
from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from tests.conftest import register
from tests.e2e.helpers import Market, command, copied, lines_of, wait_for
from training.pipeline import Trained

#: Seconds for the server to act on a promotion: its poll asks a child process that loads MLflow
#: (seconds of CPU), and a damaged bundle is downloaded twice before it is refused.
SWAP = 60


class Caller(threading.Thread):
    """Calls EstimateRate in a loop and remembers every version that answered, and every failure."""

    def __init__(self, target: str) -> None:
        super().__init__(daemon=True)
        self.channel = grpc.insecure_channel(target)
        self.versions: list[str] = []
        self.failures: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        stub = pb_grpc.ForecastServiceStub(self.channel)
        request = pb.EstimateRateRequest(
            skill="prompt engineering", experience_level=pb.EXPERIENCE_LEVEL_EXPERT
        )
        while not self.done.is_set():
            try:
                self.versions.append(stub.EstimateRate(request, timeout=5).model.version)
            except grpc.RpcError as error:
                self.failures.append(f"{error.code()}: {error.details()}")

    def wait_for_version(self, version: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.versions and self.versions[-1] == version:
                return
            time.sleep(0.1)
        raise AssertionError(f"still serving {self.versions[-1:]} after {seconds}s, waiting for {version}")


def test_promotion_and_rollback_swap_while_a_client_calls(
    trained: Trained, trained_market: Market, tmp_path: Path
) -> None:
    market = copied(trained_market, tmp_path)
    env = market.env
    uri = env["MLFLOW_TRACKING_URI"]

    serve = [
        command("gigcast-serve"),
        "--port",
        "0",
        "--poll-seconds",
        "0.5",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    server = subprocess.Popen(serve, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        lines = lines_of(server.stderr)
        port = wait_for(lines, r"SERVING gigcast version 1 .* on 127\.0\.0\.1:(\d+)", 120).group(1)
        caller = Caller(f"127.0.0.1:{port}")
        caller.start()
        caller.wait_for_version("1", 10)

        promote = [command("gigcast-train"), "promote", "--version"]
        assert register(uri, trained, tmp_path / "v2") == "2"
        subprocess.run([*promote, "2"], check=True, cwd=tmp_path, env=env, capture_output=True, timeout=60)
        caller.wait_for_version("2", SWAP)
        subprocess.run([*promote, "1"], check=True, cwd=tmp_path, env=env, capture_output=True, timeout=60)
        caller.wait_for_version("1", SWAP)

        # a third version whose stored bundle is damaged: promote refuses it; pointed at by hand, the
        # server refuses it and version 1 keeps serving
        assert register(uri, trained, tmp_path / "v3", damaged=True) == "3"
        refused = subprocess.run([*promote, "3"], cwd=tmp_path, env=env, capture_output=True, timeout=60)
        assert refused.returncode != 0 and b"cannot be served" in refused.stderr
        MlflowClient(tracking_uri=uri).set_registered_model_alias("gigcast", "champion", "3")
        wait_for(lines, r"refused gigcast version 3, still serving 1", SWAP)
        served = len(caller.versions)
        time.sleep(1.5)
        assert set(caller.versions[served:]) == {"1"}

        caller.done.set()
        caller.join(10)
        assert caller.failures == []
        assert len(caller.versions) > 100
        assert "2" in caller.versions
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
