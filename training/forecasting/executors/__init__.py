"""Where series are fitted: one layer around the single-series path, as statsforecast's core.

Series go to workers in chunks, about four per worker, not one task each: a worker fits a fold
of its whole chunk in one statsforecast call and imports Prophet once. Results come back in input order
whichever executor ran them, so the same inputs give the same bundle.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Protocol

from training.forecasting.race import Plan, SeriesFit, race
from training.forecasting.series import Series

EXECUTORS = ("local", "ray")
Work = Callable[[list[Series]], list[SeriesFit]]


class Runner(Protocol):
    def __call__(
        self, work: Work, chunks: list[list[Series]], *, workers: int, address: str | None
    ) -> Iterator[tuple[int, list[SeriesFit]]]: ...


def default_workers() -> int:
    return os.cpu_count() or 1


def chunked(series: Sequence[Series], workers: int) -> list[list[Series]]:
    """About four chunks per worker: even load without a task per series."""
    size = max(1, len(series) // (workers * 4))
    return [list(series[i : i + size]) for i in range(0, len(series), size)]


def fit_all(
    series: Sequence[Series],
    *,
    plan: Plan,
    workers: int,
    executor: str = "local",
    ray_address: str | None = None,
    on_done: Callable[[int], None] = lambda n: None,
) -> list[SeriesFit]:
    """Race every series on ``executor`` with ``workers`` processes; results in input order."""
    work = partial(race, plan=plan)
    chunks = chunked(series, workers)
    done: dict[int, list[SeriesFit]] = {}
    for index, fitted in _runner(executor)(work, chunks, workers=workers, address=ray_address):
        done[index] = fitted
        on_done(len(fitted))
    return [fit for index in range(len(chunks)) for fit in done[index]]


def _runner(executor: str) -> Runner:
    if executor == "local":
        from training.forecasting.executors.local import run
    elif executor == "ray":
        from training.forecasting.executors.ray_cluster import run
    else:
        raise ValueError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    return run
