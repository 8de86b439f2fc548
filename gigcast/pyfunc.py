"""The registered model as an MLflow pyfunc, for ML engineers in a notebook.

``mlflow.pyfunc.load_model("models:/gigcast@champion").predict(frame)`` takes rows of
(skill, experience_level, country, week) and returns the market quantiles, the slice of the data
that answered, the rates behind it and the last day of data. ``predict`` only
delegates to the same lookups the service answers from. The trainer logs this file as
"models from code", so loading executes it rather than unpickling anything.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import ModelSignature, set_model
from mlflow.pyfunc.model import PythonModel
from mlflow.types import ColSpec, Schema

from gigcast.bundle import BUNDLE_ARTIFACT, read_bundle
from gigcast.countries import to_alpha2
from gigcast.lookup import ForecastIndex

SIGNATURE = ModelSignature(
    inputs=Schema(
        [
            ColSpec("string", "skill"),
            ColSpec("string", "experience_level", required=False),
            ColSpec("string", "country", required=False),
            ColSpec("string", "week", required=False),
        ]
    ),
    outputs=Schema(
        [
            ColSpec("string", "skill"),
            ColSpec("string", "week_start"),
            *(ColSpec("double", q) for q in ("p10", "p25", "p50", "p75", "p90")),
            ColSpec("string", "basis"),
            ColSpec("long", "observations"),
            ColSpec("string", "data_as_of"),
        ]
    ),
)


class GigcastModel(PythonModel):
    def load_context(self, context: Any) -> None:
        self.index = ForecastIndex(read_bundle(Path(context.artifacts[BUNDLE_ARTIFACT])))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        rows = []
        for record in model_input.to_dict("records"):
            entry = self.index.find_skill(str(record["skill"]))
            if entry is None:
                raise ValueError(f"unknown skill {record['skill']!r}")
            week = record.get("week")
            estimate = self.index.estimate_rate(
                entry,
                level=record.get("experience_level") or None,
                country=to_alpha2(str(record.get("country") or "")),
                offset=self.index.week_offset(date.fromisoformat(str(week)) if week else None),
            )
            rows.append(
                {
                    "skill": estimate.skill,
                    "week_start": estimate.week_start.isoformat(),
                    "p10": estimate.p10,
                    "p25": estimate.p25,
                    "p50": estimate.p50,
                    "p75": estimate.p75,
                    "p90": estimate.p90,
                    "basis": estimate.basis.source,
                    "observations": estimate.basis.observations,
                    "data_as_of": estimate.basis.data_as_of.isoformat(),
                }
            )
        return pd.DataFrame(rows)


set_model(GigcastModel())
