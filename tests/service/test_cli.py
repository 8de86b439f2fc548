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
from tests.conftest import register
from tests.e2e.helpers import command
from training.pipeline import Trained
from training.registry.tracking import promote

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


#: A user and mount namespace: a file system of a test's own, mounted without root, gone with it.
NAMESPACE = ["unshare", "--user", "--map-root-user", "--mount"]


def test_a_cache_on_a_full_file_system_is_refused_before_a_model_is_asked_for(
    trained: Trained, tmp_path: Path
) -> None:
    """The real command on a 16 kB tmpfs filled up; a champion waits in the registry all the same."""
    if subprocess.run([*NAMESPACE, "true"], capture_output=True).returncode != 0:
        pytest.skip("no user namespaces here (unshare) for a file system of the test's own")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    promote(tracking_uri=uri, model_name="gigcast", version=register(uri, trained, tmp_path / "bundle"))
    full = tmp_path / "full"
    full.mkdir()
    # the filler stops where the file system is full; then the server starts on it
    fill = 'head -c 65536 /dev/zero >"$0/filler" 2>/dev/null'
    filled = f'mount -t tmpfs -o size=16k tmpfs "$0" && {{ {fill}; exec "$@"; }}'
    serve = [command("gigcast-serve"), "--port=0", f"--cache-dir={full / 'cache'}"]
    done = subprocess.run(
        [*NAMESPACE, "sh", "-c", filled, str(full), *serve],
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    said = " ".join(done.stderr.replace("│", " ").split())  # the words of the error's box, unwrapped
    assert "cannot write bundles" in said and "No space left on device" in said
    assert "Traceback" not in said and "loading gigcast@champion" not in said


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
