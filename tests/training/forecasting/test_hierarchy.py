from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from training.forecasting.calendar import Calendar
from training.forecasting.hierarchy import CLEAR_GAIN, DEFAULT_METHOD, Method, Tree, coherent, reconcile
from training.forecasting.race import Plan, race
from training.forecasting.series import Series, Target, backward

START = date(2024, 1, 1)
WEEKS = 40
TREE = Tree(market="*", categories={"llm": ["rag", "agents"], "data": ["sql"]})


def series_of(values: dict[str, np.ndarray]) -> dict[str, Series]:
    weeks = [START + timedelta(weeks=i) for i in range(len(values["*"]))]
    return {key: Series(key, Target.DEMAND, weeks, [float(v) for v in part]) for key, part in values.items()}


def market(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    skills = {
        "rag": rng.poisson(np.linspace(20, 40, WEEKS)),
        "agents": rng.poisson(np.full(WEEKS, 8.0)),
        "sql": rng.poisson(np.linspace(30, 20, WEEKS)),
    }
    totals = {key: sum(skills[s] for s in members) for key, members in TREE.categories.items()}
    return skills | totals | {"*": sum(skills.values())}


def fitted(values: dict[str, np.ndarray], horizon: int = 8) -> tuple[dict, dict]:  # type: ignore[type-arg]
    series = series_of(values)
    end = START + timedelta(weeks=WEEKS - 1)
    firsts = [end - timedelta(weeks=k) for k in range(60)] + [end + timedelta(weeks=1)]
    plan = Plan(horizon=horizon, end=end, calendars=dict.fromkeys(firsts, Calendar()))
    fits = {fit.skill: fit for fit in race(list(series.values()), plan)}
    return series, fits


@pytest.fixture(scope="module")
def tested() -> tuple[dict, dict]:  # type: ignore[type-arg]
    return fitted(market(seed=3))


def test_every_method_adds_up_and_the_backtest_picks_one(tested) -> None:  # type: ignore[no-untyped-def]
    series, fits = tested
    base = {key: backward(fit.point, Target.DEMAND) for key, fit in fits.items()}
    result = reconcile(TREE, base=base, series=series, fits=fits)
    assert set(result.scores) == set(Method) and all(math.isfinite(s) for s in result.scores.values())
    best = min(result.scores, key=result.scores.__getitem__)
    clear = result.scores[best] < CLEAR_GAIN * result.scores[DEFAULT_METHOD]
    assert result.method == (best if clear else DEFAULT_METHOD)
    p50 = result.p50
    for category, skills in TREE.categories.items():
        np.testing.assert_allclose(p50[category], sum(p50[s] for s in skills))
    np.testing.assert_allclose(p50["*"], p50["llm"] + p50["data"])
    assert all((p50[key] >= 0).all() for key in TREE.nodes)


def test_bottom_up_leaves_the_skills_as_they_were(tested) -> None:  # type: ignore[no-untyped-def]
    _, fits = tested
    base = {key: backward(fit.point, Target.DEMAND) for key, fit in fits.items()}
    bottom_up = coherent(TREE, Method.BOTTOM_UP, base)
    for skill in TREE.skills:
        np.testing.assert_allclose(bottom_up[skill], base[skill])
    top_down = coherent(TREE, Method.TOP_DOWN, base)
    np.testing.assert_allclose(top_down["*"], base["*"])  # top-down keeps the market's own forecast


def test_without_a_backtest_of_the_totals_the_skills_forecasts_stand() -> None:
    short = {key: values[:6] for key, values in market(seed=4).items()}  # too short for any fold
    series, fits = fitted(short, horizon=4)
    assert all(fit.backtest is None for fit in fits.values())
    base = {key: backward(fit.point, Target.DEMAND) for key, fit in fits.items()}
    result = reconcile(TREE, base=base, series=series, fits=fits)
    assert result.method == DEFAULT_METHOD and all(math.isnan(s) for s in result.scores.values())
    for skill in TREE.skills:
        np.testing.assert_allclose(result.p50[skill], base[skill])


@pytest.mark.parametrize("method", [Method.MIN_TRACE_OLS, Method.MIN_TRACE_WLS])
def test_min_trace_sets_a_skill_it_would_push_below_zero_to_zero_and_still_adds_up(method: Method) -> None:
    # the totals say far less than the skills: the nearest coherent forecasts take a small skill below zero
    base = {key: np.full(2, value) for key, value in {"*": 20.0, "llm": 10.0, "data": 10.0}.items()}
    base |= {key: np.full(2, value) for key, value in {"rag": 0.5, "agents": 40.0, "sql": 10.0}.items()}
    p50 = coherent(TREE, method, base)
    assert (p50["rag"] == 0).all() and all((p50[key] > 0).all() for key in TREE.nodes if key != "rag")
    np.testing.assert_allclose(p50["llm"], p50["rag"] + p50["agents"])
    np.testing.assert_allclose(p50["*"], p50["llm"] + p50["data"])
