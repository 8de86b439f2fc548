from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.forecasting import backtest
from training.forecasting.backtest import BUCKETS, MIN_TRAIN, bucket_of, folds, served_buckets

END = date(2026, 11, 9)


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


def test_buckets_cover_every_week_the_service_answers_once() -> None:
    assert [bucket_of(step).name for step in (1, 4, 5, 13, 14, 26, 27, 52)] == [
        "1_4", "1_4", "5_13", "5_13", "14_26", "14_26", "27_52", "27_52"
    ]  # fmt: skip
    assert sum(b.last - b.first + 1 for b in BUCKETS) == 52
    assert [b.name for b in served_buckets(4)] == ["1_4"]
    assert [b.name for b in served_buckets(27)] == ["1_4", "5_13", "14_26", "27_52"]


def test_a_long_history_is_tested_out_to_a_year() -> None:
    weeks = [END - timedelta(weeks=w) for w in range(156)][::-1]
    found = folds(weeks, end=END, horizon=52)
    assert [f.back for f in found] == sorted(backtest.BACKS, reverse=True)
    assert max(f.steps for f in found) == 52
    assert all(f.cut == END - timedelta(weeks=f.back - 1) for f in found)


def test_the_horizon_caps_how_far_a_fold_scores() -> None:
    weeks = [END - timedelta(weeks=w) for w in range(156)][::-1]
    assert max(f.steps for f in folds(weeks, end=END, horizon=8)) == 8


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 120), st.integers(1, 52), st.sets(st.integers(0, 119), max_size=30))
def test_every_fold_trains_on_enough_weeks_and_scores_some(
    length: int, horizon: int, missing: set[int]
) -> None:
    weeks = [END - timedelta(weeks=w) for w in range(length) if w not in missing][::-1]
    for fold in folds(weeks, end=END, horizon=horizon):
        before = [w for w in weeks if w < fold.cut]
        scored = [w for w in weeks if fold.cut <= w < fold.cut + timedelta(weeks=fold.steps)]
        assert len(before) >= MIN_TRAIN and scored
        assert fold.steps == min(fold.back, horizon)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=50), st.sampled_from([0.5, 0.8, 0.9]))
def test_conformal_bounds_hold_at_least_the_share_asked(values: list[float], level: float) -> None:
    residuals = np.array(values)
    low, high = backtest.conformal_bounds(residuals, level)
    assert low <= high
    assert np.mean((residuals >= low) & (residuals <= high)) >= level - 1e-9
