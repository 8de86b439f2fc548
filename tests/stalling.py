"""Calls whose body never comes: raw HTTP/2 over a socket, as a client that stops mid-request sends it.

Each stream gets a HEADERS frame that opens a gRPC call and no DATA frame, ever. The headers are
HPACK literals without indexing (RFC 7541 §6.2.2), so no header table is kept.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4


class Frame(IntEnum):
    DATA = 0x0
    HEADERS = 0x1
    RST_STREAM = 0x3
    SETTINGS = 0x4
    GOAWAY = 0x7


@dataclass(frozen=True)
class Call:
    """A gRPC method and the metadata its call sends."""

    path: str
    metadata: tuple[tuple[str, str], ...] = ()


def frame(kind: Frame, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def _integer(value: int, prefix_bits: int) -> bytes:
    """An HPACK integer (RFC 7541 §5.1) with a prefix of ``prefix_bits``, its flags zero."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([value])
    out, value = [limit], value - limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    return bytes([*out, value])


def _literal(name: str, value: str) -> bytes:
    encoded = [text.encode() for text in (name, value)]
    return b"\x00" + b"".join(_integer(len(text), 7) + text for text in encoded)


def headers(call: Call, authority: str) -> bytes:
    fields = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", call.path),
        (":authority", authority),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        *call.metadata,
    ]
    return b"".join(_literal(name, value) for name, value in fields)


def stalled(host: str, port: int, calls: Sequence[Call]) -> socket.socket:
    """A connection with one stream per call, opened with its headers; no body is ever sent."""
    sock = socket.create_connection((host, port), timeout=5)
    sock.settimeout(None)  # blocking: a read without waiting (MSG_DONTWAIT) raises BlockingIOError
    opened = b"".join(
        frame(Frame.HEADERS, END_HEADERS, 2 * i + 1, headers(call, f"{host}:{port}"))
        for i, call in enumerate(calls)
    )
    sock.sendall(PREFACE + frame(Frame.SETTINGS, 0, 0) + frame(Frame.SETTINGS, ACK, 0) + opened)
    return sock


def stream_of(index: int) -> int:
    """The stream ``stalled`` opened for its ``index``-th call."""
    return 2 * index + 1


@dataclass
class Seen:
    """What the server has sent on a connection so far."""

    ended: set[int] = field(default_factory=set)  # streams it ended: trailers, or RST_STREAM
    closed: bool = False  # it closed the connection, or said GOAWAY


def seen(sock: socket.socket) -> Seen:
    """Everything the server has sent on ``sock`` by now, read without waiting for more."""
    data = bytearray()
    found = Seen()
    with contextlib.suppress(BlockingIOError):
        while chunk := sock.recv(65536, socket.MSG_DONTWAIT):
            data += chunk
        found.closed = True  # recv gave b"": the server closed it
    for kind, flags, stream in _frames(bytes(data)):
        if kind == Frame.GOAWAY:
            found.closed = True
        elif kind == Frame.RST_STREAM or (kind == Frame.HEADERS and flags & END_STREAM):
            found.ended.add(stream)
    return found


def _frames(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(type, flags, stream) of each whole frame in ``data``."""
    offset = 0
    while offset + 9 <= len(data):
        length = int.from_bytes(data[offset : offset + 3], "big")
        if offset + 9 + length > len(data):
            return
        stream = int.from_bytes(data[offset + 5 : offset + 9], "big") & 0x7FFFFFFF  # the top bit is reserved
        yield data[offset + 3], data[offset + 4], stream
        offset += 9 + length
