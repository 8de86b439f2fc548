"""The registered model as an MLflow pyfunc, for ML engineers in a notebook.

``mlflow.pyfunc.load_model("models:/gigcast@champion").predict(frame)`` takes rows of
(skill, experience_level, country, week) and returns the market quantiles, the slice of the data
that answered, the rates behind it and the last day of data. Each row is read by
``gigcast.query`` as the service reads a request, and answered by the same lookups. Every row
gets an answer, in order: its ``status`` is ``OK``, or the status code the service would answer
that request with (``NOT_FOUND`` for an unknown skill, ``INVALID_ARGUMENT`` for a level,
country or week it cannot read or a week outside the forecast, ``FAILED_PRECONDITION`` when the
model holds no rates), and its ``error`` says why, naming the field; the figures of such a row
are empty. So a table is scored whole, whatever one row of it holds, in a notebook as behind
``mlflow models serve``.

The trainer logs ``MODEL_CODE`` as "models from code": loading the model runs that file, which
hands MLflow a PythonModel built on ``predict``, rather than unpickling anything. This module
imports neither MLflow nor pandas until one of its functions runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gigcast.bundle import Target
from gigcast.lookup import ForecastIndex, WeekOutOfRangeError
from gigcast.query import QueryError, quoted, read_query

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.models import ModelSignature

__all__ = ["INPUTS", "MODEL_CODE", "OUTPUTS", "RowError", "Status", "answer", "predict", "signature"]

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
    "status": "string",
    "error": "string",
}
#: The pandas type of a number column of ``OUTPUTS``, by its MLflow type.
NULLABLE = {"double": "Float64", "long": "Int64"}


class Status(StrEnum):
    """How a row was answered: named after the service's status code for the same request."""

    OK = "OK"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"


class RowError(ValueError):
    """A row that cannot be answered: its status, and why (the field first)."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status


def signature() -> ModelSignature:
    """The model's MLflow signature: ``INPUTS`` in, ``OUTPUTS`` out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", name, required=required) for name, required in INPUTS.items()]),
        outputs=Schema([ColSpec(kind, name) for name, kind in OUTPUTS.items()]),
    )


def predict(index: ForecastIndex, frame: pd.DataFrame) -> pd.DataFrame:
    """The ``OUTPUTS`` of every row of ``frame``, in order and under its index.

    A missing cell (None, NaN) leaves its field unspecified. A row that cannot be answered gets
    its ``status`` and ``error``, and empty figures; the other rows are answered all the same.
    """
    import pandas as pd

    cells = frame.astype(object).where(frame.notna(), "")
    rows = []
    for record in cells.to_dict("records"):
        try:
            rows.append(answer(index, record) | {"status": Status.OK.value, "error": ""})
        except RowError as error:
            rows.append(dict.fromkeys(OUTPUTS) | {"status": error.status.value, "error": str(error)})
    answers = pd.DataFrame(rows, columns=list(OUTPUTS), index=frame.index)
    # pandas' nullable numbers: an unanswered row's figures are missing, which MLflow's scoring
    # server writes as JSON null (a NaN would be written as NaN, which JSON parsers refuse)
    return answers.astype({name: NULLABLE[kind] for name, kind in OUTPUTS.items() if kind in NULLABLE})


def answer(index: ForecastIndex, record: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of one row (``OUTPUTS`` but its status); RowError when it cannot be answered."""
    if Target.RATE not in index.targets:
        raise RowError(
            Status.FAILED_PRECONDITION, "the model holds no rate forecasts: its training data had none"
        )
    try:
        query = read_query(
            skill=_text(record.get("skill")),
            experience_level=_text(record.get("experience_level")),
            country=_text(record.get("country")),
            week=_text(record.get("week")),
            forecast_weeks=len(index.weeks),
        )
    except QueryError as error:
        raise RowError(Status.INVALID_ARGUMENT, str(error)) from None
    entry = index.find_skill(query.skill)
    if entry is None:
        suggestions = index.suggest(query.skill)
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        raise RowError(Status.NOT_FOUND, f"skill: unknown skill {quoted(query.skill)}{hint}")
    try:
        offset = index.week_offset(query.week)
    except WeekOutOfRangeError as exc:
        raise RowError(Status.INVALID_ARGUMENT, f"week: {exc}") from None
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
