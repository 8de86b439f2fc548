"""The registered model as MLflow loads it: MLflow runs this file ("models from code").

Running it defines the PythonModel and hands it to MLflow with ``set_model``, so it imports
MLflow and pandas; nothing in gigcast imports it. What a row answers is ``gigcast.pyfunc``'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc.model import PythonModel

from gigcast.bundle import BUNDLE_ARTIFACT, read_bundle
from gigcast.lookup import ForecastIndex
from gigcast.pyfunc import predict


class GigcastModel(PythonModel):
    """The forecast bundle among the model's artifacts, answering frames of requests."""

    def load_context(self, context: Any) -> None:
        self.index = ForecastIndex(read_bundle(Path(context.artifacts[BUNDLE_ARTIFACT])))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return predict(self.index, model_input)


set_model(GigcastModel())
