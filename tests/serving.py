"""A real gigcast server on a loopback port, for tests to call.

The server is gRPC's asyncio one: it runs on an event loop of its own thread, and a test that
needs what the server awaits (its health) has it run there with ``Running.on_loop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1.health import aio as health_aio

from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from service.server import ServeConfig, create_server
from service.store import Store

LOOPBACK = ServeConfig(tracking_uri="unused", name="gigcast", alias="champion", cache_dir=Path("unused"))
T = TypeVar("T")


@dataclass
class Running:
    """A started server and a channel to it."""

    server: grpc.aio.Server
    port: int
    store: Store
    health: health_aio.HealthServicer
    channel: grpc.Channel
    loop: asyncio.AbstractEventLoop

    @property
    def stub(self) -> pb_grpc.ForecastServiceStub:
        return pb_grpc.ForecastServiceStub(self.channel)

    def on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """``coroutine`` run on the server's event loop, and its result."""
        return on(self.loop, coroutine)


def on(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)


@contextlib.contextmanager
def started(config: ServeConfig) -> Iterator[Running]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="gigcast-test-server", daemon=True)
    thread.start()
    store, health = Store(), health_aio.HealthServicer()

    async def start() -> tuple[grpc.aio.Server, int]:
        server, port = create_server(config, store, health)
        await server.start()
        return server, port

    try:
        server, port = on(loop, start())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield Running(server, port, store, health, channel, loop)
        finally:
            channel.close()
            on(loop, server.stop(None))
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
