from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training import backtest


def test_baselines() -> None:
    y = np.arange(60, dtype=float)
    assert backtest.naive(y, 3).tolist() == [59.0, 59.0, 59.0]
    assert backtest.seasonal_naive(y, 3).tolist() == [8.0, 9.0, 10.0]  # 52 weeks back
    assert backtest.seasonal_naive(y[:10], 2).tolist() == [9.0, 9.0]  # shorter than a season: naive
    assert backtest.drift(y, 2).tolist() == [60.0, 61.0]
    assert backtest.drift(np.array([5.0]), 2).tolist() == [5.0, 5.0]


def test_mase_is_scaled_by_seasonal_naive_once_there_is_a_season() -> None:
    weekly = np.tile([1.0, 3.0], 20)  # naive errs by 2 every week
    assert backtest.mase_scale(weekly) == 2.0
    seasonal = np.concatenate([np.arange(52.0), np.arange(52.0) + 1])  # a season later, one higher
    assert backtest.mase_scale(seasonal) == 1.0
    assert backtest.mase(np.array([3.0, 5.0]), np.array([1.0, 1.0]), 2.0) == 1.5
    assert np.isnan(backtest.mase(np.array([1.0]), np.array([1.0]), 0.0))


def test_smape_coverage_and_pinball() -> None:
    assert backtest.smape(np.array([0.0, 100.0]), np.array([0.0, 100.0])) == 0.0
    assert backtest.smape(np.array([100.0]), np.array([0.0])) == 2.0
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    assert backtest.coverage(actual, np.full(4, 1.5), np.full(4, 3.5)) == 0.5
    assert backtest.pinball(np.array([10.0]), np.array([8.0]), 0.9) == pytest.approx(1.8)
    assert backtest.pinball(np.array([10.0]), np.array([12.0]), 0.9) == pytest.approx(0.2)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=50), st.sampled_from([0.5, 0.8, 0.9]))
def test_conformal_bounds_hold_at_least_the_share_asked(values: list[float], level: float) -> None:
    residuals = np.array(values)
    low, high = backtest.conformal_bounds(residuals, level)
    assert low <= high
    assert np.mean((residuals >= low) & (residuals <= high)) >= level - 1e-9


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 200), st.integers(1, 10), st.integers(1, 5), st.integers(1, 30))
def test_origins_leave_a_horizon_after_each_cut(
    length: int, horizon: int, folds: int, min_train: int
) -> None:
    cuts = backtest.origins(length, horizon=horizon, folds=folds, min_train=min_train)
    assert cuts == sorted(cuts) and len(cuts) <= folds
    assert all(min_train <= cut <= length - horizon for cut in cuts)
    if cuts:
        assert cuts[-1] == length - horizon
