"""Defaults that the trainer, the service and the docs agree on."""

from __future__ import annotations

import os

__all__ = [
    "CHAMPION_ALIAS",
    "DEFAULT_PORT",
    "DEFAULT_TRACKING_URI",
    "EXPERIMENT_NAME",
    "MODEL_NAME",
    "MONITORING_EXPERIMENT",
    "tracking_uri",
]

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
MODEL_NAME = "gigcast"
CHAMPION_ALIAS = "champion"
EXPERIMENT_NAME = "gigcast"
MONITORING_EXPERIMENT = "gigcast-monitoring"
DEFAULT_PORT = 50051


def tracking_uri() -> str:
    """The MLflow tracking URI: ``$MLFLOW_TRACKING_URI``, else SQLite in the working folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
