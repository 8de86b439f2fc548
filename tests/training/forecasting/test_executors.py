"""The same inputs give the same forecasts whichever executor fits them."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta

import numpy as np
import pytest

from training.forecasting.executors import Executor, chunked, fit_all
from training.forecasting.race import Plan
from training.forecasting.series import Series, Target


def market(count: int) -> list[Series]:
    rng = np.random.default_rng(8)
    weeks = [date(2024, 1, 1) + timedelta(weeks=w) for w in range(40)]
    demand = [
        Series(f"s{i}", Target.DEMAND, weeks, list(rng.poisson(20 + i, 40).astype(float)))
        for i in range(count)
    ]
    rates = [Series(f"s{i}", Target.RATE, weeks, list(np.exp(rng.normal(3, 0.2, 40)))) for i in range(count)]
    return demand + rates


PLAN = Plan(horizon=4, end=date(2024, 1, 1) + timedelta(weeks=39), calendars={})


def fitted(executor: Executor, workers: int, series: list[Series]) -> list[tuple[str, str, str, np.ndarray]]:
    fits = fit_all(series, plan=PLAN, workers=workers, executor=executor)
    return [(f.skill, f.target, f.model, f.point) for f in fits]


def test_chunks_cover_every_series_once_in_order() -> None:
    series = market(7)
    chunks = chunked(series, workers=2)
    assert [s for chunk in chunks for s in chunk] == series
    assert len(chunks) == 14  # about four chunks a worker, at least one series each


@pytest.mark.parametrize("executor", list(Executor))
def test_executors_agree_with_one_process(executor: Executor) -> None:
    series = market(4)
    alone = fitted(Executor.LOCAL, 1, series)
    # from a fresh process, as gigcast-train starts it: a local Ray started inside a test worker
    # that had run other tests' servers and pools did not come up (its control store never started)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as fresh:
        other = fresh.submit(fitted, executor, 2, series).result()
    assert [row[:3] for row in other] == [row[:3] for row in alone]  # same order, same choices
    for (_, _, _, a), (_, _, _, b) in zip(alone, other, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9)
