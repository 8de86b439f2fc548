"""The MLflow registry as the server asks it, without MLflow in the serving process.

Importing MLflow adds 130-170 MB to a process that it never gives back, where a bare gRPC
server holds about 41 MB in all. So the server asks ``python -m service.registry_child`` (a
short-lived child process) for a version's bundle and, for most registries, for the version an
alias points at, and reads its JSON answer: MLflow lives only for the seconds of a question.
Such a child costs about two seconds of CPU, mostly MLflow's import, so the question asked at
every poll is spared it where it can be:

- a team's ``mlflow server`` (http, https) is asked over its REST API (``service.mlflow_rest``),
  in milliseconds, unless a setting only MLflow's client honours is set;
- a SQLite registry is asked again only when its file has changed since its last answer
  (``Alias``): nothing else changes what it answers.

A bundle already in the cache is found without asking anyone. A child that gives no answer
within its time (``ASK_SECONDS``, ``FETCH_SECONDS``) is killed, and a REST call times out after
``MLFLOW_HTTP_REQUEST_TIMEOUT`` seconds (10 under ``gigcast-serve``): both count as a registry
that is down, so that a registry that hangs never hangs the server. Messages of a registry that
failed come with its password masked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from gigcast.bundle import MANIFEST_FILE
from gigcast.registry import RegisteredVersion, bundle_folder
from gigcast.uris import masked, scrubbed
from service import mlflow_rest
from service.registry_child import NOT_FOUND

__all__ = ["ASK_SECONDS", "FETCH_SECONDS", "Alias", "RegistryError", "fetch_bundle", "version_by_alias"]

#: Seconds a child may take to say which version an alias points at, MLflow's import included
#: (1-3 s on an idle core), and a registry over HTTP its retries (``MLFLOW_HTTP_REQUEST_*``).
ASK_SECONDS = 60.0
#: Seconds a child may take to download a bundle (tens of MB for a thousand skills).
FETCH_SECONDS = 600.0
#: Seconds a REST call may take when ``MLFLOW_HTTP_REQUEST_TIMEOUT`` is not set.
HTTP_SECONDS = 10.0
CHILD = "service.registry_child"


class RegistryError(RuntimeError):
    """The registry did not answer, refused, or gave no answer in time."""


def version_by_alias(
    *, tracking_uri: str, name: str, alias: str, cache_dir: Path | None = None, timeout: float = ASK_SECONDS
) -> RegisteredVersion | None:
    """The version ``name@alias`` points at, with its tags; None when the model or the alias does not exist.

    With ``cache_dir``, a child that asks also fetches the version's bundle into it, unless it is
    there already, so that ``fetch_bundle`` finds it without a second child. ``timeout`` bounds a
    child; a question over REST gives up after ``MLFLOW_HTTP_REQUEST_TIMEOUT`` seconds.
    """
    if mlflow_rest.plain(tracking_uri):
        seconds = float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or HTTP_SECONDS)
        try:
            return mlflow_rest.version_by_alias(
                tracking_uri=tracking_uri, name=name, alias=alias, timeout=seconds
            )
        except mlflow_rest.RestError as exc:
            raise RegistryError(_masked(f"registry {tracking_uri}: {exc}", tracking_uri)) from None
    question = {"tracking_uri": tracking_uri, "name": name, "alias": alias}
    if cache_dir is not None:
        question["cache_dir"] = str(cache_dir)
    found = _ask("version", question, timeout)
    if found is None:
        return None
    try:
        tags = {str(key): str(value) for key, value in found["tags"].items()}
        return RegisteredVersion(str(found["name"]), str(found["version"]), str(found["run_id"]), tags)
    except (KeyError, TypeError, AttributeError) as exc:
        raise RegistryError(f"the registry's answer for {name}@{alias} lacks {exc}") from None


class Alias:
    """``name@alias`` in one registry, asked again at every poll of the server; a new version's
    bundle is fetched into ``cache_dir`` as it is asked.

    A SQLite registry is a file: while the file is the same, with the same contents, its answer
    is the last one, and no child is started to ask it again.
    """

    def __init__(self, *, tracking_uri: str, name: str, alias: str, cache_dir: Path) -> None:
        self.tracking_uri, self.name, self.alias, self.cache_dir = tracking_uri, name, alias, cache_dir
        self._stamp: tuple[object, ...] | None = None
        self._answer: RegisteredVersion | None = None

    def version(self) -> RegisteredVersion | None:
        """The version the alias points at now; RegistryError when the registry does not answer."""
        stamp = sqlite_stamp(self.tracking_uri)
        if stamp is not None and stamp == self._stamp:
            return self._answer
        self._stamp = None  # until it has answered
        self._answer = version_by_alias(
            tracking_uri=self.tracking_uri, name=self.name, alias=self.alias, cache_dir=self.cache_dir
        )
        self._stamp = stamp
        return self._answer


def sqlite_stamp(tracking_uri: str) -> tuple[object, ...] | None:
    """What tells one state of a SQLite registry's file from another; None for any other registry.

    The file's identity, size and time of change, and SQLite's change counter (bytes 24-27 of
    its header, one more at every transaction written), which tells two writes within one tick
    of the file system's clock apart; with a write-ahead log, the log's size and time too.
    """
    if not tracking_uri.startswith("sqlite:///") or "?" in tracking_uri:
        return None
    path = Path(tracking_uri.removeprefix("sqlite:///"))
    try:
        with path.open("rb") as database:
            found = os.fstat(database.fileno())
            header = database.read(28)[24:]
    except OSError:
        return None
    stamp: tuple[object, ...] = (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, header)
    try:
        log = path.with_name(f"{path.name}-wal").stat()
    except OSError:
        return stamp
    return (*stamp, log.st_size, log.st_mtime_ns)


def fetch_bundle(
    *, tracking_uri: str, version: RegisteredVersion, cache_dir: Path, timeout: float = FETCH_SECONDS
) -> Path:
    """The bundle folder of ``version`` in ``cache_dir``, downloaded by a child unless it is there already."""
    folder = bundle_folder(tracking_uri=tracking_uri, version=version, cache_dir=cache_dir)
    if (folder / MANIFEST_FILE).is_file():
        return folder
    question = {
        "tracking_uri": tracking_uri,
        "name": version.name,
        "version": version.version,
        "run_id": version.run_id,
        "cache_dir": str(cache_dir),
    }
    if _ask("fetch", question, timeout) is None:
        raise RegistryError(f"the registry has no {version.name} version {version.version}")
    if not (folder / MANIFEST_FILE).is_file():
        raise RegistryError(f"{version.name} version {version.version} was fetched, but not into {folder}")
    return folder


def _ask(question: str, details: dict[str, str], timeout: float) -> dict[str, Any] | None:
    """The child's answer to ``question``; None when the registry has no such thing."""
    uri = details["tracking_uri"]
    try:
        done = subprocess.run(
            [sys.executable, "-m", CHILD, question],
            input=json.dumps(details),
            capture_output=True,
            text=True,
            errors="replace",  # a database's message in another encoding is still a message
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise RegistryError(f"registry {masked(uri)} gave no answer in {timeout:g} s") from None
    if done.returncode == NOT_FOUND:
        return None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        why = lines[-1] if lines else f"{CHILD} exited with code {done.returncode}"
        raise RegistryError(_masked(why, uri))
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise RegistryError(f"{CHILD} answered {question} with {done.stdout[:200]!r}, not a JSON object")
    return answer


def _masked(text: str, uri: str) -> str:
    """``text`` with ``uri`` masked wherever it appears, and its password wherever that appears alone."""
    return scrubbed(text, uri)
