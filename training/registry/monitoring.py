"""Monitoring runs in MLflow: what a version's training run left to score it by, and what scoring found.

A monitoring run is logged in its own experiment, tagged with the version it scored; its
headline is also kept as tags on the version (``gigcast.monitored``), where the service and
``gigcast-train run --if-drifted`` read it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from gigcast.bundle import Bundle
from gigcast.monitored import TAG_PREFIX, Monitored
from gigcast.registry import MISSING, RegisteredVersion, mlflow_client, version_by_alias
from gigcast.settings import CHAMPION_ALIAS, MONITORING_EXPERIMENT
from training.registry.tracking import (
    MODEL_TAG,
    TRAINING_RUN_TAG,
    VERSION_TAG,
    RegistryError,
    checked,
    experiment_id,
    log_contents,
    trainer_tags,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Scored:
    """A registered version with what its training run logged to score it by."""

    version: RegisteredVersion
    bundle: Bundle
    backtest: pl.DataFrame  # the run's scores table: per series, the backtest by horizon bucket
    holdout: pl.DataFrame  # the run's last backtest fold: per series and week, actual and scale


def scored_version(*, tracking_uri: str, model_name: str, version: str | None) -> Scored:
    """``version`` of ``model_name`` (default the champion), its bundle and its backtest tables.

    RegistryError when there is no such version, no champion, or its files cannot be had.
    """
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    if version is None:
        found = version_by_alias(tracking_uri=tracking_uri, name=model_name, alias=CHAMPION_ALIAS)
        if found is None:
            raise RegistryError(f"{model_name} has no @{CHAMPION_ALIAS}; train one with gigcast-train run")
    else:
        try:
            model_version = mlflow_client(tracking_uri).get_model_version(model_name, version)
        except MlflowException as exc:
            if exc.error_code not in MISSING:
                raise  # a registry that is down or refuses
            raise RegistryError(f"{model_name} has no version {version}") from None
        found = RegisteredVersion(model_name, version, model_version.run_id or "", dict(model_version.tags))
    tables = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in ("scores", "holdout"):
            try:
                path = download_artifacts(
                    run_id=found.run_id,
                    artifact_path=f"tables/{name}.csv",
                    dst_path=folder,
                    tracking_uri=tracking_uri,
                )
            except MlflowException as exc:
                if exc.error_code not in MISSING:
                    raise
                raise RegistryError(
                    f"{model_name} version {found.version}: its training run {found.run_id} has no "
                    f"tables/{name}.csv to score it by"
                ) from None
            tables[name] = _read_table(Path(path))
    try:
        bundle = checked(tracking_uri, found)
    except RegistryError as exc:
        if version is not None:
            raise
        raise RegistryError(
            f"@{CHAMPION_ALIAS} is {exc}; gigcast-train run --if-drifted trains a version to replace it"
        ) from None
    return Scored(found, bundle, tables["scores"], tables["holdout"])


def log_monitoring(
    *,
    tracking_uri: str,
    scored: RegisteredVersion,
    monitored: Monitored,
    params: dict[str, str],
    metrics: dict[str, float],
    tables: dict[str, pl.DataFrame],
    figures: dict[str, Figure],
) -> str:
    """Log a monitoring run of ``scored`` and keep its headline on the version; the run's id.

    ``monitored.run_id`` is ignored: the new run's id replaces it.
    """
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    tags = trainer_tags() | {
        MODEL_TAG: scored.name,
        VERSION_TAG: scored.version,
        TRAINING_RUN_TAG: scored.run_id,
        "gigcast.drifted": str(monitored.drifted).lower(),
    }
    experiment = experiment_id(tracking_uri, MONITORING_EXPERIMENT)
    with mlflow.start_run(
        experiment_id=experiment, run_name=f"{scored.name} v{scored.version}", tags=tags
    ) as run:
        log_contents(params=params, metrics=metrics, tables=tables, figures=figures)
    client = mlflow_client(tracking_uri)
    tags = replace(monitored, run_id=run.info.run_id).tags()
    for key in scored.tags:  # an earlier run's figures of a target this one did not score
        if key.startswith(TAG_PREFIX) and key not in tags:
            client.delete_model_version_tag(scored.name, scored.version, key)
    for key, value in tags.items():
        client.set_model_version_tag(scored.name, scored.version, key, value)
    return str(run.info.run_id)


def _read_table(path: Path) -> pl.DataFrame:
    """A table a training run logged as CSV, with its types: names are text, weeks dates, the rest numbers.

    Read without inference, so that a column empty in this run is still a number column.
    """
    frame = pl.read_csv(path, infer_schema=False)
    text = [column for column in ("skill", "target", "model", "screened_out") if column in frame.columns]
    weeks = [column for column in ("week_start",) if column in frame.columns]
    return frame.with_columns(pl.col(weeks).str.to_date(), pl.exclude(*text, *weeks).cast(pl.Float64))
