from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from training.calibrate import calibrate
from training.models import Series, fit_series


def noisy_series(count: int, weeks: int, seed: int) -> list[Series]:
    rng = np.random.default_rng(seed)
    start = date(2024, 1, 1)
    return [
        Series(
            f"s{i}",
            "rate",
            [start + timedelta(weeks=w) for w in range(weeks)],
            list(np.exp(3 + 0.003 * np.arange(weeks) + rng.normal(0, 0.2, weeks))),
        )
        for i in range(count)
    ]


def test_intervals_cover_about_what_they_claim_out_of_sample() -> None:
    """Calibrated on the backtest, scored on weeks no fold has seen."""
    series = noisy_series(25, 52, seed=4)
    fits = [fit_series(s, horizon=8, backtest_horizon=4, folds=3) for s in series]
    calibrated = calibrate(fits, horizon=8)
    fresh = noisy_series(25, 60, seed=4)  # the same processes, 8 weeks further
    future = np.array([s.values[52:] for s in fresh])
    lower = np.array([c.p10 for c in calibrated])
    upper = np.array([c.p90 for c in calibrated])
    inside = np.mean((future >= lower) & (future <= upper))
    assert 0.65 <= inside <= 0.95
    reported = np.median([c.coverage for c in calibrated])
    assert 0.65 <= reported <= 0.95


def test_level_widens_the_interval() -> None:
    fits = [fit_series(s, horizon=4, backtest_horizon=4, folds=2) for s in noisy_series(6, 40, seed=1)]
    narrow = calibrate(fits, horizon=4, level=0.5)[0]
    wide = calibrate(fits, horizon=4, level=0.9)[0]
    assert wide.p10[0] < narrow.p10[0] < narrow.p50[0] < narrow.p90[0] < wide.p90[0]
    assert narrow.p50 == pytest.approx(wide.p50)
