from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from gigcast.bundle import MANIFEST_FILE, SCHEMAS, Bundle, BundleError, read_bundle, write_bundle
from training.pipeline import Trained


def test_round_trip_keeps_every_table(trained: Trained, tmp_path: Path) -> None:
    written = write_bundle(trained.bundle, tmp_path / "bundle")
    read = read_bundle(written)
    assert read.manifest == trained.bundle.manifest
    for name in SCHEMAS:
        assert read.table(name).equals(trained.bundle.table(name)), name


def test_write_refuses_an_existing_folder(trained: Trained, tmp_path: Path) -> None:
    (tmp_path / "bundle").mkdir()
    with pytest.raises(FileExistsError):
        write_bundle(trained.bundle, tmp_path / "bundle")


def test_missing_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=MANIFEST_FILE):
        read_bundle(tmp_path)


def test_other_schema_version_is_refused(trained: Trained, tmp_path: Path) -> None:
    folder = write_bundle(trained.bundle, tmp_path / "bundle")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["schema_version"] = 99
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="schema 99"):
        read_bundle(folder)


def _with_demand(bundle: Bundle, demand: pl.DataFrame) -> Bundle:
    return replace(bundle, demand=demand)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.with_columns(p50=pl.lit(float("nan"))), "missing, negative or unordered"),
        (lambda d: d.with_columns(p10=pl.col("p90") + 1), "missing, negative or unordered"),
        (lambda d: d.filter(pl.col("week_start") != pl.col("week_start").max()), "lacks 12 weeks"),
        (lambda d: d.with_columns(p50=pl.col("p50").cast(pl.Float32)), "schema"),
    ],
)
def test_broken_forecasts_are_refused(trained: Trained, tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    broken = _with_demand(trained.bundle, change(trained.bundle.demand))
    with pytest.raises(BundleError, match=message):
        write_bundle(broken, tmp_path / "bundle")
