"""One MLflow run per training job, the registry's versions, and the champion alias.

MLflow is imported here and only here on the training side, inside the functions that use it.
"""

from __future__ import annotations

import math
import os
import re
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from gigcast.bundle import BUNDLE_ARTIFACT, Bundle, BundleError, Target, read_bundle
from gigcast.names import NameResolver
from gigcast.query import quoted
from gigcast.registry import (
    MISSING,
    RegisteredVersion,
    fetch_bundle,
    mlflow_client,
    sqlite_file,
    version_by_alias,
)
from gigcast.settings import CHAMPION_ALIAS, EXPERIMENT_NAME, MONITORING_EXPERIMENT
from training.registry.promotion import Verdict

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from mlflow import MlflowClient
    from mlflow.entities import Run

RUN_COLUMNS = (
    "demand_mase",
    "demand_mase_seasonalnaive",
    "rate_mase",
    "rate_mase_seasonalnaive",
    "demand_coverage_80",
    "rate_coverage_80",
)


HOST_TAG, PID_TAG = "gigcast.host", "gigcast.pid"
#: Tags of a monitoring run that name the version it scored.
MODEL_TAG, VERSION_TAG, TRAINING_RUN_TAG = (
    "gigcast.model_name",
    "gigcast.model_version",
    "gigcast.training_run",
)
#: Per-series figures logged under each skill's own keys, so that versions compare skill by skill.
SKILL_FIGURES = {"mase": "mase", "coverage": "coverage_80", "mase_ratio": "mase_ratio"}
#: Runs asked for in one search: MLflow refuses more than 50,000 at once, so a long list is paged.
RUNS_PAGE = 1000


class RegistryError(LookupError):
    """A model or version the registry does not hold, or holds but cannot serve."""


class DamagedChampionError(RegistryError):
    """``@champion`` points at a version whose bundle cannot be served."""


class UnknownSkillError(RegistryError):
    """A skill none of the runs asked about has figures of."""


@dataclass(frozen=True)
class Registered:
    run_id: str
    version: str


def log_training(
    *,
    tracking_uri: str,
    model_name: str,
    bundle_dir: Path,
    params: dict[str, str],
    metrics: dict[str, float],
    tables: dict[str, pl.DataFrame],
    figures: dict[str, Figure],
    example_skill: str,
    tags: Mapping[str, str] | None = None,
    skill_figures: Mapping[str, float] | None = None,
) -> Registered:
    """Log the run (metrics in one batch, tables and plots as artifacts) and register the bundle.

    ``skill_figures`` (``skill_metrics``) go on the run only, after the model is logged: MLflow
    copies a run's metrics to a model logged in it one query per key, seconds for a thousand skills.
    """
    import mlflow
    import pandas as pd
    from mlflow.entities import Metric

    from gigcast.pyfunc import MODEL_CODE, signature

    mlflow.set_tracking_uri(tracking_uri)
    experiment = experiment_id(tracking_uri, EXPERIMENT_NAME)
    with mlflow.start_run(experiment_id=experiment, tags=trainer_tags() | dict(tags or {})) as run:
        log_contents(params=params, metrics=metrics, tables=tables, figures=figures)
        info = mlflow.pyfunc.log_model(
            name="gigcast",
            python_model=str(MODEL_CODE),
            artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
            signature=signature(),
            input_example=pd.DataFrame(
                {"skill": [example_skill], "experience_level": ["expert"], "country": ["US"], "week": [""]}
            ),
            registered_model_name=model_name,
            code_paths=[str(resources.files("gigcast"))],  # the contracts travel with the model
            pip_requirements=["mlflow", "pandas", "polars", "pycountry"],
        )
        now = int(datetime.now(UTC).timestamp() * 1000)
        figures_of_skills = [Metric(key, value, now, 0) for key, value in (skill_figures or {}).items()]
        mlflow.MlflowClient().log_batch(run.info.run_id, metrics=figures_of_skills)  # not linked to the model
    return Registered(run_id=run.info.run_id, version=str(info.registered_model_version))


def log_contents(
    *,
    params: dict[str, str],
    metrics: dict[str, float],
    tables: dict[str, pl.DataFrame],
    figures: dict[str, Figure],
) -> None:
    """Into the active run: params, metrics (in batches), tables as ``tables/NAME.csv``, plots as PNG."""
    import mlflow

    mlflow.log_params(params)
    mlflow.log_metrics(metrics)
    with tempfile.TemporaryDirectory() as folder:
        for name, table in tables.items():
            path = Path(folder) / f"{name}.csv"
            table.write_csv(path)
            mlflow.log_artifact(str(path), artifact_path="tables")
    for name, figure in figures.items():
        mlflow.log_figure(figure, f"plots/{name}.png")


def experiment_id(tracking_uri: str, name: str) -> str:
    """The id of experiment ``name``, created on first use (by whichever trainer gets there first)."""
    from mlflow.exceptions import MlflowException

    client = mlflow_client(tracking_uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=_artifact_root(tracking_uri)))
    except MlflowException:
        found = client.get_experiment_by_name(name)  # another trainer created it just now
        if found is None:
            raise
        return str(found.experiment_id)


def skill_key(skill: str, target: str, figure: str) -> str:
    """The metric key of one skill's figure, ``skill/prompt-engineering/demand_mase``.

    Characters MLflow refuses in a key (``+`` and ``#`` of ``c++``, ``c#``) are written as
    ``_2b_`` and ``_23_``: skill ids hold no underscore, so keys never collide.
    """
    return f"{_skill_prefix(skill)}{target}_{figure}"


def _skill_prefix(skill: str) -> str:
    """What every ``skill_key`` of ``skill`` starts with: ``skill/prompt-engineering/``."""
    safe = re.sub(r"[^a-z0-9.-]", lambda found: f"_{ord(found.group()):x}_", skill)
    return f"skill/{safe}/"


def skill_metrics(series: pl.DataFrame) -> dict[str, float]:
    """Each row's figures (of ``SKILL_FIGURES`` it has) under its skill's keys; missing ones left out."""
    figures = [column for column in SKILL_FIGURES if column in series.columns]
    return {
        skill_key(row["skill"], row["target"], SKILL_FIGURES[column]): float(row[column])
        for row in series.iter_rows(named=True)
        for column in figures
        if row[column] is not None and math.isfinite(row[column])
    }


def _artifact_root(tracking_uri: str) -> str | None:
    """Where a new experiment keeps its files: beside a SQLite registry's file, else where the server says."""
    database = sqlite_file(tracking_uri)
    return None if database is None else str(database.resolve().parent / "mlruns")


def trainer_tags() -> dict[str, str]:
    """Which process logs a run: what tells a run still being logged from one left behind."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def close_abandoned_runs(*, tracking_uri: str) -> list[str]:
    """Mark FAILED the runs this host's trainers left RUNNING when they were killed; their ids.

    A run is abandoned when the process that logged it, on this machine, is gone. Runs logged
    elsewhere are left alone: from here, a live trainer on another machine looks the same.
    """
    client = mlflow_client(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None:
        return []
    running = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{socket.gethostname()}'",
    )
    closed = []
    for run in running:
        if not _alive(int(run.data.tags.get(PID_TAG, "0"))):
            client.set_terminated(run.info.run_id, status="FAILED")
            closed.append(run.info.run_id)
    return closed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def champion(*, tracking_uri: str, model_name: str) -> tuple[str, Bundle] | None:
    """The champion's version and bundle, or None when there is no champion yet.

    DamagedChampionError when the champion's bundle cannot be fetched or fails its check.
    """
    version = version_by_alias(tracking_uri=tracking_uri, name=model_name, alias=CHAMPION_ALIAS)
    if version is None:
        return None
    try:
        return version.version, checked(tracking_uri, version)
    except RegistryError as exc:
        raise DamagedChampionError(f"@champion is {exc}") from None


def has_champion(*, tracking_uri: str, model_name: str) -> bool:
    return version_by_alias(tracking_uri=tracking_uri, name=model_name, alias=CHAMPION_ALIAS) is not None


def promote(*, tracking_uri: str, model_name: str, version: str) -> str | None:
    """Point ``@champion`` at ``version``; returns the version it pointed at before, if any."""
    from mlflow.exceptions import MlflowException

    client = mlflow_client(tracking_uri)
    try:
        found = client.get_model_version(model_name, version)
    except MlflowException as exc:
        if exc.error_code not in MISSING:
            raise  # a registry that is down or refuses
        raise RegistryError(f"{model_name} has no version {version}") from None
    checked(tracking_uri, RegisteredVersion(model_name, version, found.run_id or ""))
    before = version_by_alias(tracking_uri=tracking_uri, name=model_name, alias=CHAMPION_ALIAS)
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
    return before.version if before else None


def checked(tracking_uri: str, version: RegisteredVersion) -> Bundle:
    """The version's bundle, fetched and checked; RegistryError when it cannot be served."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as folder:
        try:
            return read_bundle(
                fetch_bundle(tracking_uri=tracking_uri, version=version, cache_dir=Path(folder))
            )
        except (BundleError, MlflowException, OSError) as exc:
            raise RegistryError(
                f"{version.name} version {version.version}, which cannot be served: {exc}"
            ) from None


def record_verdict(*, tracking_uri: str, run_id: str, verdict: Verdict, promoted: bool) -> None:
    """The promotion decision, on the run it was made for."""
    from mlflow.entities import Metric, RunTag

    now = int(datetime.now(UTC).timestamp() * 1000)
    scores = {"challenger_score": verdict.challenger, "champion_score": verdict.champion}
    mlflow_client(tracking_uri).log_batch(
        run_id,
        metrics=[Metric(key, value, now, 0) for key, value in scores.items() if value is not None],
        tags=[
            RunTag("gigcast.promoted", str(promoted).lower()),
            RunTag("gigcast.verdict_basis", verdict.basis),
            RunTag("gigcast.verdict", verdict.reason),
        ],
    )


def recent_runs(*, tracking_uri: str, model_name: str, limit: int, skill: str | None = None) -> pl.DataFrame:
    """The newest training runs with their headline metrics, version and whether it is champion.

    With ``skill`` (an id), the skill's own figures instead: its backtest per target and, for a
    version that was monitored, the latest monitoring run's (columns ``monitored_demand_mase``,
    ...). UnknownSkillError when none of the runs has figures of it, with the closest it has.
    """
    client = mlflow_client(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is None:
        return pl.DataFrame()
    runs = _newest_runs(client, experiment.experiment_id, limit)
    if skill is not None and runs:
        _check_skill(skill, runs, model_name)
    versions = {v.run_id: str(v.version) for v in client.search_model_versions(f"name='{model_name}'")}
    current = version_by_alias(tracking_uri=tracking_uri, name=model_name, alias=CHAMPION_ALIAS)
    if skill is None:
        columns = {key: key for key in RUN_COLUMNS}
        monitored: dict[str, dict[str, float]] = {}
    else:
        figures = [f"{target}_{figure}" for target in Target for figure in ("mase", "coverage_80")]
        columns = {figure: skill_key(skill, *figure.split("_", 1)) for figure in figures}
        columns |= {f"monitored_{figure}": key for figure, key in list(columns.items())}
        monitored = monitoring_runs(tracking_uri=tracking_uri, model_name=model_name)
    rows = []
    for run in runs:
        version = versions.get(run.info.run_id, "")
        metrics = run.data.metrics
        live = monitored.get(version, {})
        rows.append(
            {
                "run_id": run.info.run_id,
                "started": datetime.fromtimestamp(run.info.start_time / 1000, UTC).strftime("%Y-%m-%d %H:%M"),
                "version": version,
                "champion": current is not None and version == current.version,
                **{
                    column: (live if column.startswith("monitored_") else metrics).get(key)
                    for column, key in columns.items()
                },
                "verdict": run.data.tags.get("gigcast.verdict", ""),
            }
        )
    return pl.DataFrame(rows, schema_overrides=dict.fromkeys(columns, pl.Float64))


def _newest_runs(client: MlflowClient, experiment: str, limit: int) -> list[Run]:
    """The experiment's ``limit`` newest runs, or all it has when fewer, a page at a time."""
    runs: list[Run] = []
    token = None
    while len(runs) < limit:
        page = client.search_runs(
            [experiment],
            order_by=["attributes.start_time DESC"],
            max_results=min(limit - len(runs), RUNS_PAGE),
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs


def _check_skill(skill: str, runs: list[Run], model_name: str) -> None:
    """UnknownSkillError unless one of ``runs`` has figures of ``skill``."""
    keys = {key for run in runs for key in run.data.metrics if key.startswith("skill/")}
    if any(key.startswith(_skill_prefix(skill)) for key in keys):
        return
    held = {_skill_of(key) for key in keys}
    close = NameResolver((held_skill, ()) for held_skill in sorted(held)).suggest(skill)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownSkillError(
        f"unknown skill {quoted(skill)}: none of the {len(runs)} newest runs of {model_name} "
        f"has figures of it{hint}"
    )


def _skill_of(key: str) -> str:
    """The skill id of a ``skill_key``: ``skill/c_2b__2b_/demand_mase`` -> ``c++``."""
    safe = key.split("/")[1]
    return re.sub(r"_([0-9a-f]+)_", lambda found: chr(int(found.group(1), 16)), safe)


def monitoring_runs(*, tracking_uri: str, model_name: str) -> dict[str, dict[str, float]]:
    """Per version of ``model_name``, the metrics of its latest monitoring run."""
    client = mlflow_client(tracking_uri)
    experiment = client.get_experiment_by_name(MONITORING_EXPERIMENT)
    if experiment is None:
        return {}
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{MODEL_TAG}` = '{model_name}'",
        order_by=["attributes.start_time DESC"],
    )
    latest: dict[str, dict[str, float]] = {}
    for run in runs:
        latest.setdefault(run.data.tags.get(VERSION_TAG, ""), run.data.metrics)
    return latest
