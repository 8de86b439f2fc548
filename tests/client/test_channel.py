"""Which targets a token may reach without TLS, and which tokens HTTP/2 can carry."""

from __future__ import annotations

import grpc
import pytest

from client.channel import Connection, check, check_token, local_connection

TCP, UDS = grpc.LocalConnectionType.LOCAL_TCP, grpc.LocalConnectionType.UDS


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("localhost:50051", TCP),
        ("LOCALHOST.:50051", TCP),
        ("localhost", TCP),
        ("127.0.0.1:50051", TCP),
        ("127.9.9.9:50051", TCP),  # all of 127.0.0.0/8
        ("[::1]:50051", TCP),
        ("::1", TCP),
        ("dns:localhost:50051", TCP),
        ("dns:///localhost:50051", TCP),
        ("dns://8.8.8.8/localhost:50051", TCP),  # gRPC's local credentials check the address it reaches
        ("ipv4:127.0.0.1:50051,127.0.0.2:50051", TCP),
        ("ipv6:[::1]:50051", TCP),
        ("unix:/run/gigcast.sock", UDS),
        ("unix:///run/gigcast.sock", UDS),
        ("unix-abstract:gigcast", UDS),
        ("10.0.0.7:50051", None),
        ("192.168.1.2", None),
        ("gigcast.internal:50051", None),
        ("localhost.example.com:50051", None),
        ("[2001:db8::1]:50051", None),
        ("::ffff:8.8.8.8", None),
        ("dns:///gigcast.internal:50051", None),
        ("ipv4:127.0.0.1:50051,10.0.0.7:50051", None),  # one of them elsewhere
        ("127.1:50051", None),  # not an address Python reads: refused rather than guessed
        ("", None),
    ],
)
def test_local_connection_reads_targets_as_grpc_does(
    target: str, kind: grpc.LocalConnectionType | None
) -> None:
    assert local_connection(target) is kind


def test_a_token_without_tls_needs_a_target_on_this_machine() -> None:
    check(Connection("10.0.0.7:50051", 5.0))  # no token: nothing to keep
    check(Connection("10.0.0.7:50051", 5.0, token="s3cret", tls=True))
    check(Connection("localhost:50051", 5.0, token="s3cret"))
    with pytest.raises(ValueError, match=r"10\.0\.0\.7:50051 may not be on it; use --tls") as refused:
        check(Connection("10.0.0.7:50051", 5.0, token="s3cret"))
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        ("s3\ncret", "a line break"),
        ("s3\rcret", "a carriage return"),
        ("s3\tcret", "a tab"),
        ("s3 cret", "a space"),
        ("s3\x00cret", "a control character"),
        ("s3\x7fcret", "a control character"),
        ("s3crét", "not ASCII"),
        ("s3\udcffcret", "not ASCII"),  # a byte of the environment that is not UTF-8
    ],
)
def test_a_token_is_printable_ascii_and_the_error_does_not_hold_it(token: str, kind: str) -> None:
    with pytest.raises(ValueError, match=kind) as refused:
        check_token(token)
    assert "cret" not in str(refused.value)


def test_every_printable_ascii_character_is_a_token_character() -> None:
    check_token("".join(map(chr, range(0x21, 0x7F))))  # base64, JWTs and hex alike
