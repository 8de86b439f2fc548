from __future__ import annotations

import socket

from typer.testing import CliRunner

from client.cli import app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_down_is_one_line_and_exit_3() -> None:
    target = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["--target", target, "--timeout", "2", "rate", "rag"])
    assert result.exit_code == 3
    assert f"no answer from the gigcast server at {target}" in result.output
    assert "Traceback" not in result.output


def test_target_comes_from_the_environment() -> None:
    target = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["--timeout", "2", "demand", "rag"], env={"GIGCAST_TARGET": target})
    assert result.exit_code == 3
    assert target in result.output


def test_bad_level_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["rate", "rag", "--level", "guru"])
    assert result.exit_code == 2
