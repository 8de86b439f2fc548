"""The pyfunc answers rows as the service answers requests, and refuses what the service refuses."""

from __future__ import annotations

import math
from datetime import timedelta
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from gigcast.bundle import BUNDLE_ARTIFACT, write_bundle
from gigcast.pyfunc import MODEL_CODE, OUTPUTS, predict, signature
from gigcast.query import ExperienceLevel
from service.store import LoadedModel
from tests.test_boundaries import loaded_after
from training.pipeline import Trained


def first_skill(model: LoadedModel) -> str:
    return next(iter(model.index.skills))


def test_rows_are_answered_by_the_same_lookups_as_the_service(model: LoadedModel) -> None:
    index, skill = model.index, first_skill(model)
    week = index.weeks[2] + timedelta(days=3)
    frame = pd.DataFrame(
        {
            "skill": [skill.upper(), skill],
            "experience_level": ["Expert", None],
            "country": ["united states", float("nan")],
            "week": [week.isoformat(), None],
        }
    )
    answer = predict(index, frame)
    assert list(answer.columns) == list(OUTPUTS)
    entry = index.skills[skill]
    expert = index.estimate_rate(entry, level=ExperienceLevel.EXPERT, country="US", offset=2)
    market = index.estimate_rate(entry, level=None, country=None, offset=0)  # missing cells: any, all, first
    for row, estimate in zip(answer.to_dict("records"), (expert, market), strict=True):
        assert row["skill"] == skill and row["week_start"] == estimate.week_start.isoformat()
        assert math.isclose(row["p50"], estimate.p50)
        assert row["basis"] == estimate.basis.source.value
        assert row["observations"] == estimate.basis.observations


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"country": "Narnia"}, "row 7: country: 'Narnia' is not an ISO 3166-1 country code or English name"),
        ({"experience_level": "senior"}, "row 7: experience_level: 'senior' is not one of entry, "),
        ({"skill": "basket weaving"}, "row 7: skill: unknown skill 'basket weaving'"),
        ({"skill": None}, "row 7: skill: must not be empty"),
        ({"week": "1999-01-04"}, "row 7: week: week 1999-01-04 is outside the forecast"),
        ({"week": "soon"}, "row 7: week: 'soon' is not an ISO date"),
    ],
)
def test_a_row_that_cannot_be_answered_is_a_value_error_naming_the_row_and_field(
    model: LoadedModel, row: dict[str, object], message: str
) -> None:
    good = {"skill": first_skill(model), "experience_level": "entry", "country": "PL", "week": ""}
    frame = pd.DataFrame([good, {**good, **row}], index=[3, 7])
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        predict(model.index, frame)


def test_weeks_may_be_dates_or_times(model: LoadedModel) -> None:
    week = model.index.weeks[1]
    frame = pd.DataFrame({"skill": [first_skill(model)] * 2, "week": [pd.Timestamp(week), week]})
    assert list(predict(model.index, frame)["week_start"]) == [week.isoformat()] * 2


def test_an_empty_frame_answers_no_rows_with_every_column(model: LoadedModel) -> None:
    answer = predict(model.index, pd.DataFrame({"skill": []}))
    assert answer.empty and list(answer.columns) == list(OUTPUTS)


def test_importing_the_pyfunc_or_gigcast_loads_neither_mlflow_nor_pandas() -> None:
    for code in ("import gigcast", "import gigcast.pyfunc", "import gigcast.query"):
        loaded = {name.split(".")[0] for name in loaded_after(code)}
        assert not loaded & {"mlflow", "pandas"}, code


def test_mlflow_loads_the_model_code_and_answers_from_the_bundle(
    trained: Trained, model: LoadedModel, tmp_path: Path
) -> None:
    import mlflow

    bundle = write_bundle(trained.bundle, tmp_path / "bundle")
    skill = first_skill(model)
    mlflow.pyfunc.save_model(
        path=tmp_path / "model",
        python_model=str(MODEL_CODE),
        artifacts={BUNDLE_ARTIFACT: str(bundle)},
        code_paths=[str(resources.files("gigcast"))],
        signature=signature(),
        input_example=pd.DataFrame({"skill": [skill], "experience_level": ["expert"], "country": ["US"]}),
        pip_requirements=["mlflow", "pandas", "polars", "pycountry"],
    )
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    answer = loaded.predict(
        pd.DataFrame({"skill": [skill], "experience_level": ["expert"], "country": ["US"]})
    )
    assert list(answer["skill"]) == [skill] and answer["p10"][0] <= answer["p50"][0] <= answer["p90"][0]
    with pytest.raises(ValueError, match="row 0: country: 'Narnia'"):
        loaded.predict(pd.DataFrame({"skill": [skill], "country": ["Narnia"]}))
