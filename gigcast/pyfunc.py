"""The registered model as an MLflow pyfunc, for ML engineers in a notebook.

``mlflow.pyfunc.load_model("models:/gigcast@champion").predict(frame)`` takes rows of
(skill, experience_level, country, week) and returns the market quantiles, the slice of the data
that answered, the rates behind it and the last day of data. Each row is read by
``gigcast.query`` as the service reads a request, and answered by the same lookups: a row the
service would refuse (an unknown skill, level or country, a week outside the forecast) is a
ValueError naming the row and the field.

The trainer logs ``MODEL_CODE`` as "models from code": loading the model runs that file, which
hands MLflow a PythonModel built on ``predict``, rather than unpickling anything. This module
imports neither MLflow nor pandas until one of its functions runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gigcast.lookup import ForecastIndex, WeekOutOfRangeError
from gigcast.query import QueryError, quoted, read_query

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.models import ModelSignature

__all__ = ["INPUTS", "MODEL_CODE", "OUTPUTS", "answer", "predict", "signature"]

#: The file MLflow runs to load the model: it defines the PythonModel and sets it.
MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")
#: Input columns, all text, and whether every row must fill them.
INPUTS = {"skill": True, "experience_level": False, "country": False, "week": False}
#: Output columns and their MLflow types.
OUTPUTS = {
    "skill": "string",
    "week_start": "string",
    "p10": "double",
    "p25": "double",
    "p50": "double",
    "p75": "double",
    "p90": "double",
    "basis": "string",
    "observations": "long",
    "data_as_of": "string",
}


def signature() -> ModelSignature:
    """The model's MLflow signature: ``INPUTS`` in, ``OUTPUTS`` out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", name, required=required) for name, required in INPUTS.items()]),
        outputs=Schema([ColSpec(kind, name) for name, kind in OUTPUTS.items()]),
    )


def predict(index: ForecastIndex, frame: pd.DataFrame) -> pd.DataFrame:
    """The ``OUTPUTS`` of every row of ``frame``, in order.

    A missing cell (None, NaN) leaves its field unspecified. ValueError names the first row that
    cannot be answered, by its index label, and the field at fault.
    """
    import pandas as pd

    cells = frame.astype(object).where(frame.notna(), "")
    rows = []
    for label, record in zip(cells.index, cells.to_dict("records"), strict=True):
        try:
            rows.append(answer(index, record))
        except QueryError as error:
            raise ValueError(f"row {label}: {error}") from error
    return pd.DataFrame(rows, columns=list(OUTPUTS))


def answer(index: ForecastIndex, record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``OUTPUTS`` of one row; QueryError names the field that cannot be answered."""
    query = read_query(
        skill=_text(record.get("skill")),
        experience_level=_text(record.get("experience_level")),
        country=_text(record.get("country")),
        week=_text(record.get("week")),
        forecast_weeks=len(index.weeks),
    )
    entry = index.find_skill(query.skill)
    if entry is None:
        suggestions = index.suggest(query.skill)
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        raise QueryError("skill", f"unknown skill {quoted(query.skill)}{hint}")
    try:
        offset = index.week_offset(query.week)
    except WeekOutOfRangeError as exc:
        raise QueryError("week", str(exc)) from None
    estimate = index.estimate_rate(entry, level=query.level, country=query.country, offset=offset)
    return {
        "skill": estimate.skill,
        "week_start": estimate.week_start.isoformat(),
        "p10": estimate.p10,
        "p25": estimate.p25,
        "p50": estimate.p50,
        "p75": estimate.p75,
        "p90": estimate.p90,
        "basis": estimate.basis.source.value,
        "observations": estimate.basis.observations,
        "data_as_of": estimate.basis.data_as_of.isoformat(),
    }


def _text(value: object) -> str:
    """A cell as text: a day or a time as its ISO date, a missing column as empty text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)
