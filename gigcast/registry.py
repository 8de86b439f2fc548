"""Where registered bundles live: resolving an alias and fetching a version's bundle, once.

The trainer (to judge a challenger against the champion) calls these in its own process. The
server never does: it asks them of a short-lived child process (``service.registry``), so that
MLflow is never loaded where calls are answered. MLflow is imported only when a function here
runs; ``bundle_folder`` needs none.

Every process reaches the registry through :func:`mlflow_client`, which opens a ``sqlite:///``
registry first (:func:`open_registry`): one process at a time creates or migrates the file, and
a file another process holds locked is waited for a bounded time, then refused in one line.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gigcast.bundle import BUNDLE_ARTIFACT, MANIFEST_FILE
from gigcast.uris import masked

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "MISSING",
    "REGISTRY_WAIT_SECONDS",
    "RegisteredVersion",
    "RegistryUnavailableError",
    "bundle_folder",
    "default_cache_dir",
    "fetch_bundle",
    "mlflow_client",
    "open_registry",
    "sqlite_file",
    "version_by_alias",
]


#: MLflow's error codes for a model, version, alias or file that is not there; any other error is
#: a registry that is down or refuses.
MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")
#: Seconds a process waits for a SQLite registry that another holds locked (or is creating),
#: unless ``GIGCAST_REGISTRY_WAIT_SECONDS`` says otherwise; then it gives up.
REGISTRY_WAIT_SECONDS = 30.0
#: How often a process held off a lock tries again.
_RETRY_SECONDS = 0.05
#: SQLite registries this process has opened (and so created or migrated, where need be).
_opened: set[str] = set()


class RegistryUnavailableError(RuntimeError):
    """The registry could not be asked in time: a SQLite file another process holds locked."""


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    #: The version's tags when it was looked up (``gigcast.monitored`` keeps its figures there).
    tags: Mapping[str, str] = field(default_factory=dict, compare=False)


def version_by_alias(*, tracking_uri: str, name: str, alias: str) -> RegisteredVersion | None:
    """The version ``name@alias`` points at, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        found = mlflow_client(tracking_uri).get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code in MISSING:  # no model, no alias
            return None
        raise
    return RegisteredVersion(
        name=name, version=str(found.version), run_id=found.run_id or "", tags=dict(found.tags or {})
    )


def fetch_bundle(*, tracking_uri: str, version: RegisteredVersion, cache_dir: Path) -> Path:
    """The bundle folder of ``version``, downloaded into ``cache_dir`` unless it is there already.

    The download lands in a scratch folder and is renamed into place, so a crash midway never
    leaves a half-written bundle where a later start would take it for a whole one, and
    processes fetching the same version at once (``gigcast-serve --workers``) keep the first.
    """
    folder = bundle_folder(tracking_uri=tracking_uri, version=version, cache_dir=cache_dir)
    if (folder / MANIFEST_FILE).is_file():
        return folder
    import mlflow
    from mlflow import MlflowClient

    open_registry(tracking_uri)
    # Where the version's files are, asked of this registry: MLflow resolves a models:/ URI
    # against the process-wide registry instead, whatever registry it is given.
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    location = client.get_model_version_download_uri(version.name, version.version)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{location.rstrip('/')}/artifacts/{BUNDLE_ARTIFACT}",  # a pyfunc's artifacts/
            dst_path=scratch,
            tracking_uri=tracking_uri,
        )
        try:
            os.replace(local, folder)
        except OSError:
            if not (folder / MANIFEST_FILE).is_file():
                raise
    return folder


def bundle_folder(*, tracking_uri: str, version: RegisteredVersion, cache_dir: Path) -> Path:
    """The folder of ``cache_dir`` where ``fetch_bundle`` keeps ``version``'s bundle (one per registry)."""
    key = hashlib.sha256(
        f"{tracking_uri}|{version.name}|{version.version}|{version.run_id}".encode()
    ).hexdigest()
    return cache_dir / f"{version.name}-v{version.version}-{key[:16]}"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gigcast"


def mlflow_client(tracking_uri: str) -> MlflowClient:
    """MLflow's client of ``tracking_uri``, the registry opened first (:func:`open_registry`)."""
    from mlflow import MlflowClient

    open_registry(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri)


def open_registry(tracking_uri: str) -> None:
    """Have MLflow open a ``sqlite:///`` registry that another process may hold; others are left as they are.

    MLflow creates a new file's tables, or migrates an old one's, when a process first opens it,
    and two processes doing so at once collide: one fails. So a process's first opening holds a
    lock on ``FILE.lock`` beside the database. Every time, a file another process holds locked
    is waited for up to ``GIGCAST_REGISTRY_WAIT_SECONDS`` (default ``REGISTRY_WAIT_SECONDS``);
    then RegistryUnavailableError says so.
    """
    database = sqlite_file(tracking_uri)
    if database is None:
        return
    seconds = _wait_seconds()
    busy = f"the registry {masked(tracking_uri)} is locked by another process: waited {seconds:g} s for it"
    if tracking_uri in _opened:  # MLflow has it open already: only wait for a writer to let go
        _wait_unlocked(database, seconds=seconds, busy=busy)
        return
    import sqlalchemy
    from mlflow import MlflowClient

    with _creating(database, seconds=seconds, busy=busy):
        _wait_unlocked(database, seconds=seconds, busy=busy)
        try:  # both of MLflow's stores: runs, and the registry of models
            MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri).search_registered_models(
                max_results=1
            )
        except sqlalchemy.exc.OperationalError as exc:  # locked again since it was waited for
            raise RegistryUnavailableError(f"the registry {masked(tracking_uri)}: {exc.orig}") from None
    _opened.add(tracking_uri)


def sqlite_file(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the working folder, or ``////`` absolute)."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = tracking_uri.removeprefix("sqlite:///").partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


def _wait_seconds() -> float:
    text = os.environ.get("GIGCAST_REGISTRY_WAIT_SECONDS", "")
    try:
        return max(float(text), 0.0) if text else REGISTRY_WAIT_SECONDS
    except ValueError:
        return REGISTRY_WAIT_SECONDS


@contextlib.contextmanager
def _creating(database: Path, *, seconds: float, busy: str) -> Iterator[None]:
    """Held while this process opens ``database``: no other opens it at the same time.

    A folder where no lock can be written (read-only, say) is opened without one: nothing can
    be created or migrated there.
    """
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        lock = database.with_name(f"{database.name}.lock").open("a")
    except OSError:
        yield
        return
    with lock:
        deadline = time.monotonic() + seconds
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the file closes
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RegistryUnavailableError(busy) from None
                time.sleep(_RETRY_SECONDS)
        yield


def _wait_unlocked(database: Path, *, seconds: float, busy: str) -> None:
    """Return once ``database`` can be read, waiting up to ``seconds`` for a writer to let go."""
    if not database.is_file():
        return  # MLflow creates it
    reader = sqlite3.connect(database, timeout=seconds)
    try:
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:  # locked past the wait, or not a database at all
        raise RegistryUnavailableError(busy if "locked" in str(exc) else f"{database}: {exc}") from None
    finally:
        reader.close()
