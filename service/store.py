"""The serving model: fetched from the MLflow registry by alias, cached on disk, held in memory.

Swapping models is one reference assignment, so a request sees the old model or the new one,
never a mix.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from gigcast.bundle import MANIFEST_FILE, read_bundle
from gigcast.lookup import ForecastIndex
from gigcast.registry import RegisteredVersion, fetch_bundle, version_by_alias
from service import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    alias: str
    run_id: str
    index: ForecastIndex


class Store:
    """Holds the model that answers; None until the first one is loaded.

    A swap is one reference assignment: a request sees the old model or the new one, never a mix.
    """

    def __init__(self) -> None:
        self.current: LoadedModel | None = None

    def swap(self, model: LoadedModel) -> None:
        self.current = model
        metrics.SWAPS.inc()
        metrics.MODEL_VERSION.set(int(model.version))  # registry versions are numbers


class ModelNotFoundError(LookupError):
    """The registry has no version under the alias asked for."""


def fetch(*, tracking_uri: str, name: str, alias: str, cache_dir: Path) -> LoadedModel:
    """Resolve ``name@alias`` in the registry, download its bundle once, and index it.

    When the registry cannot be reached, the version last served from ``cache_dir`` under the
    same alias serves instead, so a restart does not depend on the registry being up.
    """
    try:
        version = version_by_alias(tracking_uri=tracking_uri, name=name, alias=alias)
    except Exception as exc:  # the registry is a network service and fails in many ways
        cached = _last_served(cache_dir, name, alias)
        if cached is None:
            raise
        log.warning(
            "registry %s did not answer (%s); serving cached version %s", tracking_uri, exc, cached[0].version
        )
        return _indexed(cached[0], alias, cached[1])
    if version is None:
        raise ModelNotFoundError(f"the registry has no {name}@{alias}; train one with gigcast-train run")
    return load(tracking_uri=tracking_uri, version=version, alias=alias, cache_dir=cache_dir)


def load(*, tracking_uri: str, version: RegisteredVersion, alias: str, cache_dir: Path) -> LoadedModel:
    """A registered version's bundle, downloaded once, checked and indexed in memory."""
    folder = fetch_bundle(tracking_uri=tracking_uri, version=version, cache_dir=cache_dir)
    log.info("loading %s version %s from %s", version.name, version.version, folder)
    model = _indexed(version, alias, folder)
    pointer = {"version": version.version, "run_id": version.run_id, "folder": folder.name}
    path = cache_dir / f"{version.name}@{alias}.json"
    scratch = path.with_name(f"{path.name}.{os.getpid()}")  # replaced whole: readers never see half
    scratch.write_text(json.dumps(pointer), encoding="utf-8")
    os.replace(scratch, path)
    return model


def _indexed(version: RegisteredVersion, alias: str, folder: Path) -> LoadedModel:
    return LoadedModel(
        name=version.name,
        version=version.version,
        alias=alias,
        run_id=version.run_id,
        index=ForecastIndex(read_bundle(folder)),
    )


def _last_served(cache_dir: Path, name: str, alias: str) -> tuple[RegisteredVersion, Path] | None:
    """The version this cache last served under ``name@alias``, if its bundle is still there."""
    try:
        pointer = json.loads((cache_dir / f"{name}@{alias}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    folder = cache_dir / pointer["folder"]
    if not (folder / MANIFEST_FILE).is_file():
        return None
    return RegisteredVersion(name, pointer["version"], pointer["run_id"]), folder
