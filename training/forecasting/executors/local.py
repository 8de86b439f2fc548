"""Fitting on this machine: a pool of processes, or this process alone for one worker."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.forecasting.executors import Work
    from training.forecasting.race import SeriesFit
    from training.forecasting.series import Series


def run(
    work: Work, chunks: list[list[Series]], *, workers: int, address: str | None = None
) -> Iterator[tuple[int, list[SeriesFit]]]:
    """Each chunk's index and fits, as chunks finish."""
    if workers <= 1:
        yield from enumerate(map(work, chunks))
        return
    # spawn, not fork: the parent holds polars' thread pool, which a fork would copy mid-flight
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(work, chunk): index for index, chunk in enumerate(chunks)}
        for future in as_completed(futures):
            yield futures[future], future.result()
