"""A real gigcast server on a loopback port, on its own event loop thread, for tests to call."""

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
from grpc_health.v1._async import HealthServicer

from gigcast.v1 import forecast_pb2_grpc as pb_grpc
from service.server import ServeConfig, create_server
from service.store import Store

LOOPBACK = ServeConfig(tracking_uri="unused", name="gigcast", alias="champion", cache_dir=Path("unused"))
T = TypeVar("T")


@dataclass
class Running:
    """A started server on its own event loop thread, and a sync channel to it."""

    loop: asyncio.AbstractEventLoop
    server: grpc.aio.Server
    port: int
    store: Store
    health: HealthServicer
    channel: grpc.Channel

    @property
    def stub(self) -> pb_grpc.ForecastServiceStub:
        return pb_grpc.ForecastServiceStub(self.channel)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()


@contextlib.contextmanager
def started(config: ServeConfig) -> Iterator[Running]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    store, health = Store(), HealthServicer()

    async def start() -> tuple[grpc.aio.Server, int]:
        server, port = create_server(config, store, health)
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), loop).result()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    running = Running(loop, server, port, store, health, channel)
    try:
        yield running
    finally:
        channel.close()
        running.run(server.stop(None))
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
