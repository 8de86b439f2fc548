"""Helpers of the end-to-end tests: the installed commands, their logs, a small registered market."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent


def command(name: str) -> str:
    path = shutil.which(name, path=str(BIN))
    assert path, f"{name} is not installed in {BIN}"
    return path


def lines_of(stream: object) -> queue.Queue[str]:
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:  # type: ignore[attr-defined]
            found.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return found


def wait_for(lines: queue.Queue[str], pattern: str, seconds: float) -> re.Match[str]:
    deadline = time.monotonic() + seconds
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"no line matching {pattern!r} in {seconds}s:\n{''.join(seen)}")


@dataclass(frozen=True)
class Market:
    """A small synthetic market in ``folder`` with its own SQLite tracking URI."""

    folder: Path
    postings: Path
    tracking_uri: str = ""  # a team's MLflow server; else a SQLite file in the folder

    @property
    def env(self) -> dict[str, str]:
        uri = self.tracking_uri or f"sqlite:///{self.folder / 'mlflow.db'}"
        return {**os.environ, "MLFLOW_TRACKING_URI": uri}

    def train(self, *flags: str) -> subprocess.CompletedProcess[str]:
        """``gigcast-train run`` on the market; fails the test when it fails."""
        run = [
            command("gigcast-train"),
            "run",
            "--data",
            str(self.postings),
            "--horizon",
            "8",
            "--quiet",
            *flags,
        ]
        done = subprocess.run(run, cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done


def small_market(folder: Path, *, seed: int) -> Market:
    postings = folder / "postings.parquet"
    synth = [command("gigcast-train"), "synth", "--out", str(postings), "--skills", "4", "--weeks", "40"]
    subprocess.run([*synth, "--seed", str(seed)], check=True, cwd=folder, capture_output=True)
    return Market(folder, postings)


@contextlib.contextmanager
def serving(market: Market, *flags: str) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    """``gigcast-serve --port=0`` on the market, and its log lines; killed if a test leaves it running."""
    serve = [command("gigcast-serve"), "--port=0", f"--cache-dir={market.folder / 'cache'}", *flags]
    server = subprocess.Popen(serve, cwd=market.folder, env=market.env, stderr=subprocess.PIPE, text=True)
    try:
        yield server, lines_of(server.stderr)
    finally:
        if server.poll() is None:
            server.kill()
