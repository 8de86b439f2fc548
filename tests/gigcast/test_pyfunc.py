"""The pyfunc answers rows as the service answers requests; a row the service would refuse gets the
service's status and message, and the rest of its batch is answered all the same."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from gigcast.bundle import BUNDLE_ARTIFACT, Target, write_bundle
from gigcast.lookup import ForecastIndex
from gigcast.pyfunc import MODEL_CODE, OUTPUTS, predict, signature
from gigcast.query import ExperienceLevel
from service.store import LoadedModel
from tests.conftest import skills_with_postings
from tests.test_boundaries import loaded_after
from training.pipeline import Trained


def first_skill(model: LoadedModel) -> str:
    return skills_with_postings(model.index)[0]


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
    assert list(answer["status"]) == ["OK", "OK"] and list(answer["error"]) == ["", ""]
    entry = index.skills[skill]
    expert = index.estimate_rate(entry, level=ExperienceLevel.EXPERT, country="US", offset=2)
    market = index.estimate_rate(entry, level=None, country=None, offset=0)  # missing cells: any, all, first
    for row, estimate in zip(answer.to_dict("records"), (expert, market), strict=True):
        assert row["skill"] == skill and row["week_start"] == estimate.week_start.isoformat()
        assert math.isclose(row["p50"], estimate.p50)
        assert row["basis"] == estimate.basis.source.value
        assert row["observations"] == estimate.basis.observations


@pytest.mark.parametrize(
    ("row", "status", "message"),
    [
        ({"country": "Narnia"}, "INVALID_ARGUMENT", "country: 'Narnia' is not an ISO 3166-1 country code or"),
        (
            {"experience_level": "senior"},
            "INVALID_ARGUMENT",
            "experience_level: 'senior' is not one of entry, ",
        ),
        ({"skill": "basket weaving"}, "NOT_FOUND", "skill: unknown skill 'basket weaving'"),
        ({"skill": None}, "INVALID_ARGUMENT", "skill: must not be empty"),
        ({"week": "1999-01-04"}, "INVALID_ARGUMENT", "week: week 1999-01-04 is outside the forecast"),
        ({"week": "soon"}, "INVALID_ARGUMENT", "week: 'soon' is not an ISO date"),
    ],
)
def test_a_row_that_cannot_be_answered_gets_its_status_and_the_others_their_answers(
    model: LoadedModel, row: dict[str, object], status: str, message: str
) -> None:
    good = {"skill": first_skill(model), "experience_level": "entry", "country": "PL", "week": ""}
    frame = pd.DataFrame([good, {**good, **row}, good], index=[3, 7, 9])
    answer = predict(model.index, frame)
    assert list(answer.index) == [3, 7, 9]
    assert list(answer["status"]) == ["OK", status, "OK"]
    assert answer.loc[7, "error"].startswith(message) and answer.loc[3, "error"] == ""
    bad = answer.loc[7]
    assert bad[["skill", "week_start", "basis", "data_as_of"]].isna().all()
    assert bad[["p10", "p50", "p90", "observations"]].isna().all()
    assert answer.loc[3].equals(answer.loc[9]) and answer.loc[3, "p10"] <= answer.loc[3, "p50"]
    assert answer.loc[3, "observations"] > 0


def test_a_model_without_rates_answers_every_row_failed_precondition(trained: Trained) -> None:
    bundle = trained.bundle
    demand_only = replace(bundle, manifest=replace(bundle.manifest, targets=[Target.DEMAND]))
    index = ForecastIndex(demand_only)
    answer = predict(index, pd.DataFrame({"skill": [next(iter(index.skills)), "basket weaving"]}))
    assert list(answer["status"]) == ["FAILED_PRECONDITION"] * 2
    assert set(answer["error"]) == {"the model holds no rate forecasts: its training data had none"}


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
    batch = loaded.predict(
        pd.DataFrame(
            {
                "skill": [skill, "basket weaving", skill],
                "experience_level": ["expert"] * 3,
                "country": ["US", "US", "Narnia"],
            }
        )
    )
    assert list(batch["status"]) == ["OK", "NOT_FOUND", "INVALID_ARGUMENT"]
    assert batch["p50"][0] == answer["p50"][0]
    assert batch["error"][1].startswith("skill: unknown skill 'basket weaving'")
    assert batch["error"][2].startswith("country: 'Narnia'")
