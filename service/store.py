"""The serving model: fetched from the MLflow registry by alias, cached on disk, held in memory.

Swapping models is one reference assignment, so a request sees the old model or the new one,
never a mix.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gigcast.bundle import BUNDLE_ARTIFACT, MANIFEST_FILE, read_bundle
from gigcast.lookup import ForecastIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    alias: str
    run_id: str
    index: ForecastIndex


class Store:
    """Holds the model that answers; None until the first one is loaded."""

    def __init__(self) -> None:
        self.current: LoadedModel | None = None

    def swap(self, model: LoadedModel) -> None:
        self.current = model


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gigcast"


def fetch(*, tracking_uri: str, name: str, alias: str, cache_dir: Path) -> LoadedModel:
    """Resolve ``name@alias`` in the registry, download its bundle once, and index it."""
    import mlflow
    from mlflow import MlflowClient

    version = MlflowClient(tracking_uri=tracking_uri).get_model_version_by_alias(name, alias)
    key = hashlib.sha256(f"{tracking_uri}|{name}|{version.version}|{version.run_id}".encode()).hexdigest()[
        :16
    ]
    folder = cache_dir / f"{name}-v{version.version}-{key}"
    if not (folder / MANIFEST_FILE).is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version.version}", dst_path=scratch, tracking_uri=tracking_uri
            )
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(Path(local) / "artifacts" / BUNDLE_ARTIFACT, folder)
        log.info("downloaded %s version %s to %s", name, version.version, folder)
    return LoadedModel(
        name=name,
        version=str(version.version),
        alias=alias,
        run_id=version.run_id or "",
        index=ForecastIndex(read_bundle(folder)),
    )
