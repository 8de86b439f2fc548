"""One MLflow run per training job: parameters, metrics, tables, the bundle as a model version.

MLflow is imported here and only here on the training side.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl

from gigcast.bundle import BUNDLE_ARTIFACT
from gigcast.settings import CHAMPION_ALIAS, EXPERIMENT_NAME


@dataclass(frozen=True)
class Registered:
    run_id: str
    version: str
    champion: bool


def log_training(
    *,
    tracking_uri: str,
    model_name: str,
    bundle_dir: Path,
    params: dict[str, str],
    metrics: dict[str, float],
    tables: dict[str, pl.DataFrame],
    example_skill: str,
) -> Registered:
    """Log the run, register the bundle, and make it champion when there is none yet."""
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from gigcast.pyfunc import SIGNATURE

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(EXPERIMENT_NAME)
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as folder:
            for name, table in tables.items():
                path = Path(folder) / f"{name}.csv"
                table.write_csv(path)
                mlflow.log_artifact(str(path), artifact_path="tables")
        info = mlflow.pyfunc.log_model(
            name="gigcast",
            python_model=str(resources.files("gigcast") / "pyfunc.py"),
            artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
            signature=SIGNATURE,
            input_example=pd.DataFrame(
                {"skill": [example_skill], "experience_level": ["expert"], "country": ["US"], "week": [""]}
            ),
            registered_model_name=model_name,
            pip_requirements=["gigcast", "polars", "mlflow", "pycountry"],
        )
    client = MlflowClient(tracking_uri=tracking_uri)
    version = str(info.registered_model_version)
    try:
        client.get_model_version_by_alias(model_name, CHAMPION_ALIAS)
        champion = False
    except MlflowException:
        client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
        champion = True
    return Registered(run_id=run.info.run_id, version=version, champion=champion)


def has_champion(*, tracking_uri: str, model_name: str) -> bool:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient(tracking_uri=tracking_uri).get_model_version_by_alias(model_name, CHAMPION_ALIAS)
    except MlflowException:
        return False
    return True
