"""Where series are fitted: one layer around the single-series path.

Series go to workers in chunks, not one task each, so that a worker imports Prophet once and
the pool's overhead stays small against the fits.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial

from training.models import Series, SeriesFit, fit_chunk


def default_workers() -> int:
    return os.cpu_count() or 1


def chunked(series: Sequence[Series], workers: int) -> list[list[Series]]:
    """About four chunks per worker: even load without a task per series."""
    size = max(1, len(series) // (workers * 4) or 1)
    return [list(series[i : i + size]) for i in range(0, len(series), size)]


def fit_all(
    series: Sequence[Series],
    *,
    horizon: int,
    backtest_horizon: int,
    folds: int,
    min_weeks: int,
    workers: int,
    on_done: Callable[[int], None] = lambda n: None,
) -> list[SeriesFit]:
    """Fit every series on ``workers`` local processes (in this process when 1)."""
    work = partial(
        fit_chunk, horizon=horizon, backtest_horizon=backtest_horizon, folds=folds, min_weeks=min_weeks
    )
    results: list[SeriesFit] = []
    for chunk_results in _run(work, chunked(series, workers), workers):
        results.extend(chunk_results)
        on_done(len(chunk_results))
    return results


def _run(
    work: Callable[[list[Series]], list[SeriesFit]], chunks: list[list[Series]], workers: int
) -> Iterator[list[SeriesFit]]:
    if workers <= 1:
        yield from map(work, chunks)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(work, chunk) for chunk in chunks]
        for future in as_completed(futures):
            yield future.result()
