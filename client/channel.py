"""How the ``gigcast`` CLI reaches a server: TLS, or plaintext, and a token only where it is safe.

A token travels as gRPC call credentials, which gRPC sends on secure channels only: TLS to any
host, or its local credentials to this machine (a loopback address, ``localhost`` or a Unix
socket), whose peer gRPC checks again when it connects. A token for any other plaintext target is
refused before a connection is made: anyone on the way could read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

#: Names of gRPC's target schemes (``scheme:rest``) that say where the server is.
UNIX_SCHEMES = frozenset({"unix", "unix-abstract"})
ADDRESS_SCHEMES = frozenset({"ipv4", "ipv6"})
#: Characters a header value may hold after ``Bearer ``, as HTTP/2 allows: printable ASCII, no space.
TOKEN_CHARACTERS = frozenset(map(chr, range(0x21, 0x7F)))
NAMED_CHARACTERS = {" ": "a space", "\t": "a tab", "\n": "a line break", "\r": "a carriage return"}


@dataclass(frozen=True)
class Connection:
    """Where a command's calls go and how: the options before ``gigcast``'s command."""

    target: str
    timeout: float
    token: str | None = None
    tls: bool = False
    ca_cert: Path | None = None


def check_token(token: str) -> None:
    """ValueError unless ``token`` is printable ASCII without spaces; the error never holds it."""
    for character in token:
        if character not in TOKEN_CHARACTERS:
            kind = "a control character" if character.isascii() else "a character that is not ASCII"
            raise ValueError(
                f"the token holds {NAMED_CHARACTERS.get(character, kind)}; "
                "a token is printable ASCII without spaces"
            )


def check_authority(path: Path) -> None:
    """ValueError unless ``path`` holds PEM certificates, which gRPC's TLS can trust a server by."""
    import ssl  # loaded by grpc's imports already

    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError):
        raise ValueError(f"{path} holds no PEM certificate") from None


def check(connection: Connection) -> None:
    """ValueError when the connection would send its token where others could read it."""
    if connection.token and not connection.tls:
        _on_this_machine(connection.target)


def local_connection(target: str) -> grpc.LocalConnectionType | None:
    """How ``target`` is on this machine, for gRPC's local credentials; None when it may not be.

    ``target`` is read as gRPC reads it: ``HOST:PORT``, ``dns:[//AUTHORITY/]HOST:PORT``,
    ``ipv4:`` or ``ipv6:`` with addresses separated by commas, ``unix:PATH`` or
    ``unix-abstract:NAME``.
    """
    scheme, colon, rest = target.partition(":")
    if colon and scheme in UNIX_SCHEMES:
        return grpc.LocalConnectionType.UDS
    if colon and scheme in ADDRESS_SCHEMES:
        hosts = [_host(address) for address in rest.split(",")]
    elif colon and scheme == "dns":
        hosts = [_host(rest[2:].partition("/")[2] if rest.startswith("//") else rest)]
    else:
        hosts = [_host(target)]
    return grpc.LocalConnectionType.LOCAL_TCP if all(map(_loopback, hosts)) else None


def open_channel(connection: Connection) -> grpc.Channel:
    """A channel to the server: TLS when asked; with a token, gRPC's local credentials otherwise."""
    if connection.tls:
        roots = connection.ca_cert.read_bytes() if connection.ca_cert else None
        credentials = grpc.ssl_channel_credentials(roots)
    elif connection.token:
        credentials = grpc.local_channel_credentials(_on_this_machine(connection.target))
    else:
        return grpc.insecure_channel(connection.target)
    if connection.token:
        token = grpc.access_token_call_credentials(connection.token)  # sent as authorization: Bearer
        credentials = grpc.composite_channel_credentials(credentials, token)
    return grpc.secure_channel(connection.target, credentials)


def _on_this_machine(target: str) -> grpc.LocalConnectionType:
    """How ``target`` is on this machine; ValueError when it may not be."""
    kind = local_connection(target)
    if kind is None:
        raise ValueError(
            f"a token goes in plaintext only to this machine, and {target} may not be on it; "
            "use --tls or --ca-cert, or leave out --token and $GIGCAST_TOKEN"
        )
    return kind


def _host(address: str) -> str:
    """The host of ``HOST``, ``HOST:PORT``, ``[IPV6]:PORT`` or a bare IPv6 address."""
    if address.startswith("["):
        return address[1:].partition("]")[0]
    host, colon, _ = address.rpartition(":")
    return host if colon and ":" not in host else address


def _loopback(host: str) -> bool:
    import ipaddress  # only for a token without TLS

    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
