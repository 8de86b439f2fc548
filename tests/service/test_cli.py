"""``gigcast-serve`` refuses an operator's mistakes up front: one error and exit 2, nothing served."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
import trustme
from typer.testing import CliRunner

from service.cli import app
from tests.e2e.helpers import command

runner = CliRunner()


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--poll-seconds", "inf"], "--poll-seconds"),
        (["--poll-seconds", "nan"], "--poll-seconds"),
        (["--poll-seconds", "1e300"], "--poll-seconds"),
        (["--answer-cache-mb", "inf"], "--answer-cache-mb"),
        (["--answer-cache-mb", "nan"], "--answer-cache-mb"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_numbers_past_what_the_server_can_use_are_refused(flags: list[str], named: str) -> None:
    result = runner.invoke(app, flags)
    assert result.exit_code == 2, result.output
    assert named in result.output


def test_a_cache_dir_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    for unusable in (afile, afile / "below"):
        result = runner.invoke(app, ["--cache-dir", str(unusable)])
        assert result.exit_code == 2, result.output
        assert "--cache-dir" in result.output and "cannot write bundles" in result.output


def test_tls_files_that_are_not_a_certificate_and_key_are_named_not_a_failed_bind(tmp_path: Path) -> None:
    issued = trustme.CA().issue_cert("localhost")
    cert, junk = tmp_path / "cert.pem", tmp_path / "junk.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    junk.write_text("not a key")
    flags = ["--tls-cert", str(cert), "--tls-key", str(junk), "--cache-dir", str(tmp_path)]
    result = runner.invoke(app, flags)
    assert result.exit_code == 2, result.output
    assert "not a PEM certificate and its key" in result.output and "bind" not in result.output


@pytest.mark.parametrize("workers", [1, 2])
def test_a_taken_metrics_port_is_refused(workers: int, tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"  # where --workers would make its metrics folder
    temporary.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = [command("gigcast-serve"), "--port=0", f"--workers={workers}", f"--metrics-port={port}"]
        done = subprocess.run(
            [*serve, f"--cache-dir={tmp_path / 'cache'}"],
            cwd=tmp_path,
            env={**os.environ, "TMPDIR": str(temporary), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/m.db"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert "cannot serve metrics" in done.stderr and "Traceback" not in done.stderr
    assert list(temporary.iterdir()) == []
