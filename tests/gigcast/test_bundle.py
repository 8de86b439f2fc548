from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from gigcast.bundle import (
    MANIFEST_FILE,
    MARKET,
    SCHEMAS,
    Bundle,
    BundleError,
    PremiumKind,
    read_bundle,
    write_bundle,
)
from training.pipeline import Trained


def test_round_trip_keeps_every_table(trained: Trained, tmp_path: Path) -> None:
    written = write_bundle(trained.bundle, tmp_path / "bundle")
    read = read_bundle(written)
    assert replace(read.manifest, digests={}) == trained.bundle.manifest
    assert read.manifest.digests.keys() == SCHEMAS.keys()
    for name in SCHEMAS:
        assert read.table(name).equals(trained.bundle.table(name)), name


def test_write_refuses_an_existing_folder(trained: Trained, tmp_path: Path) -> None:
    (tmp_path / "bundle").mkdir()
    with pytest.raises(FileExistsError):
        write_bundle(trained.bundle, tmp_path / "bundle")


def test_missing_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=MANIFEST_FILE):
        read_bundle(tmp_path)


def test_a_manifest_key_added_later_or_not_yet_is_read(trained: Trained, tmp_path: Path) -> None:
    folder = write_bundle(trained.bundle, tmp_path / "bundle")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    del manifest["postings_per_week"]  # a bundle written before the counts were kept
    manifest["a_later_key"] = {"of": "a later gigcast"}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    read = read_bundle(folder).manifest
    assert read.postings_per_week == {} and read.data_end == trained.bundle.manifest.data_end


@pytest.mark.parametrize(("version", "readable"), [(4, False), (5, True), (99, False)])
def test_a_schema_version_is_read_only_when_supported(
    trained: Trained, tmp_path: Path, version: int, readable: bool
) -> None:
    """Schema 5 differs only in the skills it leaves out: a champion of it keeps serving."""
    folder = write_bundle(trained.bundle, tmp_path / "bundle")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["schema_version"] = version
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    if readable:
        assert read_bundle(folder).manifest.schema_version == version
    else:
        with pytest.raises(BundleError, match=f"schema {version} is not one of the supported"):
            read_bundle(folder)


@pytest.mark.parametrize("damage", ["junk", "other table", "gone from the manifest"])
def test_a_damaged_table_is_refused_by_its_digest(trained: Trained, tmp_path: Path, damage: str) -> None:
    folder = write_bundle(trained.bundle, tmp_path / "bundle")
    if damage == "junk":
        (folder / "rate_cells.parquet").write_text("junk")
    elif damage == "other table":  # a whole, readable Parquet file, but not the one written
        trained.bundle.rate_cells.head(1).write_parquet(folder / "rate_cells.parquet")
    else:
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        del manifest["digests"]["rate_cells"]
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"rate_cells\.parquet is damaged"):
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


def test_category_and_market_demand_are_the_sums_of_their_skills(trained: Trained) -> None:
    bundle = trained.bundle
    skills = bundle.demand.join(bundle.skills.select("skill", "category"), on="skill")
    by_category = skills.group_by("category", "week_start").agg(parts=pl.col("p50").sum())
    market = (
        skills.group_by("week_start").agg(parts=pl.col("p50").sum()).with_columns(category=pl.lit(MARKET))
    )
    expected = pl.concat([by_category, market.select(by_category.columns)])
    totals = bundle.demand_totals.join(expected, on=["category", "week_start"], how="full", coalesce=True)
    assert totals.height == expected.height == bundle.skills["category"].n_unique() * 12 + 12
    assert ((totals["p50"] - totals["parts"]).abs() <= 1e-9 * totals["parts"]).all()
    assert (totals["p10"] <= totals["p50"]).all() and (totals["p50"] <= totals["p90"]).all()


def test_totals_that_do_not_add_up_are_refused(trained: Trained, tmp_path: Path) -> None:
    totals = trained.bundle.demand_totals.with_columns(
        p50=pl.when(pl.col("category") == MARKET).then(pl.col("p50") * 1.1).otherwise("p50"),
        p90=pl.col("p90") * 2,
    )
    with pytest.raises(BundleError, match="demand_totals does not add up: '\\*'"):
        write_bundle(replace(trained.bundle, demand_totals=totals), tmp_path / "bundle")


def test_premiums_are_of_a_level_or_a_country(trained: Trained, tmp_path: Path) -> None:
    kinds = set(trained.bundle.premiums["kind"])
    assert kinds == {PremiumKind.LEVEL, PremiumKind.COUNTRY}
    premiums = trained.bundle.premiums.with_columns(
        kind=pl.when(pl.col("kind") == "level").then(pl.lit("skill")).otherwise("kind")
    )
    with pytest.raises(BundleError, match=r"table premiums has kinds \['skill'\]"):
        write_bundle(replace(trained.bundle, premiums=premiums), tmp_path / "bundle")
