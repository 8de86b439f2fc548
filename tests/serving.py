"""A real gigcast server on a loopback port, for tests to call."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1.health import HealthServicer

from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from service.server import ServeConfig, create_server
from service.store import Store

LOOPBACK = ServeConfig(tracking_uri="unused", name="gigcast", alias="champion", cache_dir=Path("unused"))


@dataclass
class Running:
    """A started server and a channel to it."""

    server: grpc.Server
    port: int
    store: Store
    health: HealthServicer
    channel: grpc.Channel

    @property
    def stub(self) -> pb_grpc.ForecastServiceStub:
        return pb_grpc.ForecastServiceStub(self.channel)


@contextlib.contextmanager
def started(config: ServeConfig) -> Iterator[Running]:
    store, health = Store(), HealthServicer()
    server, port = create_server(config, store, health)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Running(server, port, store, health, channel)
    finally:
        channel.close()
        server.stop(None).wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
