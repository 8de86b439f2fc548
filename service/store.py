"""The serving model: fetched from the MLflow registry by alias, cached on disk, held in memory.

The registry is asked through ``service.registry``, never with MLflow in this process. Swapping
models is one reference assignment, so a request sees the old model or the new one, never a mix.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from gigcast.bundle import MANIFEST_FILE, BundleError, read_bundle
from gigcast.lookup import ForecastIndex
from gigcast.monitored import Monitored
from gigcast.registry import RegisteredVersion
from gigcast.uris import masked
from service import metrics
from service.registry import Alias, fetch_bundle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    alias: str
    run_id: str
    index: ForecastIndex
    #: The version's latest monitoring figures when it was loaded; None from the cache fallback.
    monitored: Monitored | None = field(default=None, compare=False)


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
        metrics.show_data_age(model.index.manifest.data_end)
        metrics.show_monitored(model.monitored)


class ModelNotFoundError(LookupError):
    """The registry has no version under the alias asked for."""


class NothingToServeError(LookupError):
    """The registry's version cannot be had or served, and this cache served none before."""


def fetch(registry: Alias) -> LoadedModel:
    """Resolve ``name@alias`` in the registry, download its bundle once, and index it.

    When the registry cannot be reached, or the version it names cannot be served (a damaged
    bundle), the version this cache last served from the same registry under the same alias
    serves instead, with one warning: a restart depends neither on the registry being up nor
    on its newest version being whole. ``registry`` remembers its answer, so that a follower
    polling it afterwards does not ask a registry that has not changed again.
    """
    tracking_uri, name, alias, cache_dir = (
        registry.tracking_uri,
        registry.name,
        registry.alias,
        registry.cache_dir,
    )
    try:
        version = registry.version()
    except Exception as exc:  # the registry is a network service and fails in many ways
        return _fallback(
            tracking_uri, name, alias, cache_dir, exc, f"registry {masked(tracking_uri)} did not answer"
        )
    if version is None:
        raise ModelNotFoundError(f"the registry has no {name}@{alias}; train one with gigcast-train run")
    try:
        return load(tracking_uri=tracking_uri, version=version, alias=alias, cache_dir=cache_dir)
    except Exception as exc:  # a version that cannot be fetched or fails its check
        why = f"{name} version {version.version} cannot be served"
        return _fallback(tracking_uri, name, alias, cache_dir, exc, why)


def load(*, tracking_uri: str, version: RegisteredVersion, alias: str, cache_dir: Path) -> LoadedModel:
    """A registered version's bundle, downloaded once, checked and indexed in memory.

    A cached copy that fails its check is fetched again, once.
    """
    folder = fetch_bundle(tracking_uri=tracking_uri, version=version, cache_dir=cache_dir)
    log.info("loading %s version %s from %s", version.name, version.version, folder)
    try:
        model = _indexed(version, alias, folder)
    except BundleError as exc:
        log.warning(
            "%s is damaged (%s); fetching %s version %s again", folder, exc, version.name, version.version
        )
        shutil.rmtree(folder, ignore_errors=True)
        folder = fetch_bundle(tracking_uri=tracking_uri, version=version, cache_dir=cache_dir)
        model = _indexed(version, alias, folder)
    pointer = {
        "registry": tracking_uri,
        "version": version.version,
        "run_id": version.run_id,
        "folder": folder.name,
    }
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
        monitored=Monitored.from_tags(version.tags),
    )


def _fallback(
    tracking_uri: str, name: str, alias: str, cache_dir: Path, error: Exception, why: str
) -> LoadedModel:
    """The version last served from this registry under ``name@alias``; ``error`` when there is none."""
    cached = _last_served(cache_dir, tracking_uri, name, alias)
    if cached is None:
        raise NothingToServeError(
            f"{why}: {error}; no version of it was served from {cache_dir} before"
        ) from error
    version, folder = cached
    model = _indexed(version, alias, folder)
    log.warning("%s (%s); serving cached version %s", why, error, version.version)
    return model


def _last_served(
    cache_dir: Path, tracking_uri: str, name: str, alias: str
) -> tuple[RegisteredVersion, Path] | None:
    """The version this cache last served from ``tracking_uri`` under ``name@alias``, if still whole."""
    try:
        pointer = json.loads((cache_dir / f"{name}@{alias}.json").read_text(encoding="utf-8"))
        registry, folder = pointer["registry"], cache_dir / pointer["folder"]
        version = RegisteredVersion(name, str(pointer["version"]), str(pointer["run_id"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if registry != tracking_uri or folder.parent != cache_dir or not (folder / MANIFEST_FILE).is_file():
        return None  # another registry's, or a pointer out of the cache
    return version, folder
