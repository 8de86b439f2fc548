"""Where registered bundles live: resolving an alias and fetching a version's bundle, once.

The trainer (to judge a challenger against the champion) calls these in its own process. The
server never does: it asks them of a short-lived child process (``service.registry``), so that
MLflow is never loaded where calls are answered. MLflow is imported only when a function here
runs; ``bundle_folder`` needs none.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gigcast.bundle import BUNDLE_ARTIFACT, MANIFEST_FILE

__all__ = [
    "MISSING",
    "RegisteredVersion",
    "bundle_folder",
    "default_cache_dir",
    "fetch_bundle",
    "version_by_alias",
]


#: MLflow's error codes for a model, version, alias or file that is not there; any other error is
#: a registry that is down or refuses.
MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str
    #: The version's tags when it was looked up (``gigcast.monitored`` keeps its figures there).
    tags: Mapping[str, str] = field(default_factory=dict, compare=False)


def version_by_alias(*, tracking_uri: str, name: str, alias: str) -> RegisteredVersion | None:
    """The version ``name@alias`` points at, or None when the model or the alias does not exist."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        found = MlflowClient(tracking_uri=tracking_uri).get_model_version_by_alias(name, alias)
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
