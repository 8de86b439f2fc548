"""Helpers of the end-to-end tests: the installed commands, their logs, a small registered market."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
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

    def train(self, *flags: str, horizon: int = 8) -> subprocess.CompletedProcess[str]:
        """``gigcast-train run`` on the market; fails the test when it fails."""
        run = [
            command("gigcast-train"),
            "run",
            "--data",
            str(self.postings),
            "--horizon",
            str(horizon),
            "--quiet",
            *flags,
        ]
        done = subprocess.run(run, cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done


def small_market(folder: Path, *, seed: int, skills: int = 4, suffix: str = "parquet") -> Market:
    """``gigcast-train synth``: ``skills`` skills over 40 weeks in ``folder``, not trained yet."""
    postings = folder / f"postings.{suffix}"
    synth = [command("gigcast-train"), "synth", "--out", str(postings), "--skills", str(skills), "--weeks"]
    subprocess.run([*synth, "40", "--seed", str(seed)], check=True, cwd=folder, capture_output=True)
    return Market(folder, postings)


def copied(market: Market, folder: Path) -> Market:
    """A copy of a trained ``market`` in ``folder``: its postings, SQLite registry and artifacts.

    The registry keeps absolute paths to its artifacts; the copy's name the copied ones, so what
    a test registers, promotes or serves there is its own, and the original stays as it was.
    """
    assert not market.tracking_uri, "only a registry in the market's folder can be copied"
    shutil.copytree(market.folder, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("cache"))
    old, new = f"{market.folder}/", f"{folder}/"
    with contextlib.closing(sqlite3.connect(folder / "mlflow.db")) as db, db:
        columns = [
            (table, column)
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            for (_, column, *_) in db.execute(f'PRAGMA table_info("{table}")').fetchall()
        ]
        for table, column in columns:  # text only: a number written back as text could lose digits
            db.execute(
                f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?)',
                (old, new, old),
            )
        left = [
            f"{table}.{column}"
            for table, column in columns
            if db.execute(f'SELECT 1 FROM "{table}" WHERE instr("{column}", ?)', (old,)).fetchone()
        ]
    assert left == [], f"the copied registry still names {old} in {left}"
    return Market(folder, folder / market.postings.relative_to(market.folder))


@contextlib.contextmanager
def serving(market: Market, *flags: str) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    """``gigcast-serve --port=0`` on the market, and its log lines; killed if a test leaves it running.

    Killed with its ``--workers``, which a parent killed may leave behind.
    """
    serve = [command("gigcast-serve"), "--port=0", f"--cache-dir={market.folder / 'cache'}", *flags]
    server = subprocess.Popen(serve, cwd=market.folder, env=market.env, stderr=subprocess.PIPE, text=True)
    try:
        yield server, lines_of(server.stderr)
    finally:
        kill(server)


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL ``process``, if it runs, and the processes it spawned."""
    if process.poll() is None:
        spawned = spawned_by(process.pid)
        process.kill()
        process.wait()
        for pid in spawned:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _stat(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state, ppid, pgrp, ...); None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def _live() -> Iterator[tuple[int, list[str]]]:
    """Every process that has not exited (a zombie nobody reaped yet has), with its stat fields."""
    for folder in Path("/proc").iterdir():
        if folder.name.isdigit() and (fields := _stat(folder.name)) and fields[0] not in ("Z", "X"):
            yield int(folder.name), fields


def running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not exited: a zombie nobody reaped yet has."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def spawned_by(parent: int) -> set[int]:
    """The running processes ``parent`` started with multiprocessing's spawn (not its helpers)."""
    found = set()
    for pid, fields in _live():
        if int(fields[1]) == parent:
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.add(pid)
    return found


def accepted(pid: int, port: int) -> int:
    """Established TCP connections on local ``port`` held by process ``pid``."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if (target := os.readlink(fd)).startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    count = 0
    rows = [
        row
        for table in ("tcp", "tcp6")
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
    ]
    for row in rows:  # gRPC listens on IPv6 sockets, 127.0.0.1 as ::ffff:127.0.0.1
        fields = row.split()
        local_port = int(fields[1].rpartition(":")[2], 16)
        if local_port == port and fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
            count += 1
    return count


def until(check: Callable[[], bool], seconds: float) -> bool:
    """Whether ``check()`` became true within ``seconds``, asked every 0.1 s."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def wait_for_http(url: str, server: subprocess.Popen[bytes], log: Path, seconds: float = 120) -> None:
    """Return once ``url`` answers; fail with the end of ``log`` if ``server`` stops or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            up = server.poll() is None and time.monotonic() < deadline
            assert up, f"{url} did not answer:\n{log.read_text(errors='replace')[-4000:]}"
            time.sleep(0.2)


def in_group(pgid: int) -> set[int]:
    """The running processes of process group ``pgid``: a server and whatever it started."""
    return {pid for pid, fields in _live() if int(fields[2]) == pgid}
