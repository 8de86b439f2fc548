"""The serving model: fetched from the MLflow registry by alias, cached on disk, held in memory.

Swapping models is one reference assignment, so a request sees the old model or the new one,
never a mix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gigcast.bundle import read_bundle
from gigcast.lookup import ForecastIndex
from gigcast.registry import RegisteredVersion, fetch_bundle, version_by_alias

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
        self.swaps = 0
        self.refused = 0  # new versions that failed to load or check; the old one kept serving

    def swap(self, model: LoadedModel) -> None:
        self.current = model
        self.swaps += 1


class ModelNotFoundError(LookupError):
    """The registry has no version under the alias asked for."""


def fetch(*, tracking_uri: str, name: str, alias: str, cache_dir: Path) -> LoadedModel:
    """Resolve ``name@alias`` in the registry, download its bundle once, and index it."""
    version = version_by_alias(tracking_uri=tracking_uri, name=name, alias=alias)
    if version is None:
        raise ModelNotFoundError(f"the registry has no {name}@{alias}; train one with gigcast-train run")
    return load(tracking_uri=tracking_uri, version=version, alias=alias, cache_dir=cache_dir)


def load(*, tracking_uri: str, version: RegisteredVersion, alias: str, cache_dir: Path) -> LoadedModel:
    """A registered version's bundle, downloaded once, checked and indexed in memory."""
    folder = fetch_bundle(tracking_uri=tracking_uri, version=version, cache_dir=cache_dir)
    log.info("loading %s version %s from %s", version.name, version.version, folder)
    return LoadedModel(
        name=version.name,
        version=version.version,
        alias=alias,
        run_id=version.run_id,
        index=ForecastIndex(read_bundle(folder)),
    )
