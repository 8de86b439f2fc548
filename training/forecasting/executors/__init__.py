"""Where series are fitted: one layer around the single-series path, as statsforecast's core.

Series go to workers in chunks, about four per worker, not one task each: a worker fits a fold
of its whole chunk in one statsforecast call and imports Prophet once. Results come back in input order
whichever executor ran them, so the same inputs give the same bundle.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the race imports every model; choosing an executor should not
    from training.forecasting.race import Plan, SeriesFit
    from training.forecasting.series import Series


class Executor(StrEnum):
    """Where series are fitted."""

    LOCAL = "local"  # a pool of processes on this machine
    RAY = "ray"  # a local Ray, or a running cluster


Work = Callable[["list[Series]"], "list[SeriesFit]"]


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
    executor: Executor = Executor.LOCAL,
    ray_address: str | None = None,
    on_done: Callable[[int], None] = lambda n: None,
) -> list[SeriesFit]:
    """Race every series on ``executor`` with ``workers`` processes; results in input order."""
    from training.forecasting.race import race

    work = partial(race, plan=plan)
    chunks = chunked(series, workers)
    done: dict[int, list[SeriesFit]] = {}
    for index, fitted in _runner(executor)(work, chunks, workers=workers, address=ray_address):
        done[index] = fitted
        on_done(len(fitted))
    return [fit for index in range(len(chunks)) for fit in done[index]]


def _runner(executor: Executor) -> Runner:
    match executor:
        case Executor.LOCAL:
            from training.forecasting.executors.local import run
        case Executor.RAY:
            from training.forecasting.executors.ray_cluster import run
    return run
