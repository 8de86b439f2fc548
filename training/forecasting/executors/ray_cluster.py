"""Fitting on Ray: a local Ray of ``workers`` CPUs, or an existing cluster at ``address``.

Every node of a cluster needs gigcast installed; chunks travel there pickled, fits come back.
A Ray this module starts, it also stops; one that was running already is left running.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import ray

if TYPE_CHECKING:
    from training.forecasting.executors import Work
    from training.forecasting.race import SeriesFit
    from training.forecasting.series import Series


@ray.remote(num_cpus=1)
def _fit(work: Work, chunk: list[Series]) -> list[SeriesFit]:
    return work(chunk)


def run(
    work: Work, chunks: list[list[Series]], *, workers: int, address: str | None = None
) -> Iterator[tuple[int, list[SeriesFit]]]:
    """Each chunk's index and fits, as chunks finish."""
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address,
            num_cpus=None if address else workers,
            include_dashboard=False,
            log_to_driver=False,
        )
    try:
        pending = {_fit.remote(work, chunk): index for index, chunk in enumerate(chunks)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started:
            ray.shutdown()
