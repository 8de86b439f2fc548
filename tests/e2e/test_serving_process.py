"""The serving process never loads MLflow: not to load the champion, not to poll, not to swap.

``gigcast-serve`` runs with ``PYTHONPROFILEIMPORTTIME=1``, so Python itself writes a line to the
server's stderr for every module the process imports, whenever it imports it. The children that
ask the registry import MLflow; their stderr is theirs, read by the server, never its own.
"""

from __future__ import annotations

import queue
import re
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import register
from tests.e2e.helpers import Market, serving
from training.pipeline import Trained
from training.registry.tracking import promote

#: Python's line for an imported module: "import time: self [us] | cumulative | name".
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)\s*$")
#: The process's RSS the server is held to, as a 1,000-skill one is (bench/memory.py).
BUDGET_MB = 200


def imports_until(lines: queue.Queue[str], pattern: str, imported: set[str], seconds: float = 120) -> None:
    """Read the server's stderr up to a line matching ``pattern``, noting the packages it imported."""
    deadline = time.monotonic() + seconds
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if match := IMPORTED.match(line):
            imported.add(match.group(1).split(".")[0])
        else:
            seen.append(line)
        if re.search(pattern, line):
            return
    raise AssertionError(f"no line matching {pattern!r} in {seconds}s:\n{''.join(seen)}")


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def test_the_serving_process_never_imports_mlflow(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = Market(tmp_path, tmp_path / "postings.parquet")  # serving only: nothing is trained here
    uri = market.env["MLFLOW_TRACKING_URI"]
    promote(tracking_uri=uri, model_name="gigcast", version=register(uri, trained, tmp_path / "first"))
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    imported: set[str] = set()
    with serving(market, "--poll-seconds=0.2", "--log-format=text") as (server, lines):
        imports_until(lines, r"SERVING gigcast version 1", imported)
        assert {"grpc", "polars", "service"} <= imported  # Python tells what the server imports
        assert "mlflow" not in imported
        assert rss_mb(server.pid) < BUDGET_MB

        second = register(uri, trained, tmp_path / "second")
        promote(tracking_uri=uri, model_name="gigcast", version=second)
        imports_until(lines, f"swapped to gigcast version {second}", imported)
        promote(tracking_uri=uri, model_name="gigcast", version="1")  # a rollback: polled, swapped back
        imports_until(lines, "swapped to gigcast version 1", imported)
        server.send_signal(signal.SIGTERM)
        imports_until(lines, "stopping on SIGTERM", imported)
        assert server.wait(timeout=30) == 0
    assert "mlflow" not in imported, "the serving process imported MLflow"
    assert not imported & {"pandas", "sqlalchemy", "alembic"}  # what MLflow would bring
