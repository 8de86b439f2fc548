"""Forecast accuracy on a synthetic market: backtest metrics, and the future the model never saw.

The market is generated with ``--ahead`` more weeks than the model is trained on. On those weeks
the forecasts are scored against what happened (MASE, 80% coverage) and against the ground
truth the market was drawn from, beside the seasonal naive forecast scored the same way.

Usage: python bench/accuracy.py [--skills 100] [--weeks 156] [--ahead 13] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from summary import record

from gigcast.taxonomy import load_taxonomy
from training.backtest import mase_scale, seasonal_naive
from training.ingest import ingest
from training.panels import demand_panel, rate_observations, rate_panel, within
from training.pipeline import TrainConfig, train
from training.synth import synthesize

END = date(2026, 11, 22)


def future_scores(
    history: pl.DataFrame, future: pl.DataFrame, forecast: pl.DataFrame, truth: pl.DataFrame, column: str
) -> dict[str, float]:
    """Medians over skills: MASE of the forecast and of seasonal naive, coverage, error against truth."""
    rows = []
    for (skill,), past in history.partition_by("skill", as_dict=True).items():
        seen = future.filter(pl.col("skill") == skill)
        ahead = (
            forecast.filter(pl.col("skill") == skill)
            .join(seen, on="week_start")
            .join(truth.filter(pl.col("skill") == skill), on=["skill", "week_start"], how="left")
        )
        values = past.sort("week_start")[column].to_numpy()
        scale = mase_scale(values)
        if ahead.is_empty() or not scale > 0 or values.size <= 52:
            continue
        actual = ahead[column].to_numpy()
        naive = seasonal_naive(values, len(values) + 52)[len(values) : len(values) + actual.size]
        expected = ahead["expected"].to_numpy()
        rows.append(
            {
                "mase": np.mean(np.abs(actual - ahead["p50"].to_numpy())) / scale,
                "mase_snaive": np.mean(np.abs(actual - naive)) / scale,
                "mase_truth": np.mean(np.abs(actual - expected)) / scale,
                "coverage": np.mean(
                    (actual >= ahead["low"].to_numpy()) & (actual <= ahead["high"].to_numpy())
                ),
                "error_vs_truth": np.mean(np.abs(ahead["p50"].to_numpy() - expected) / expected),
            }
        )
    frame = pl.DataFrame(rows)
    return {name: float(frame[name].median()) for name in frame.columns}  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skills", type=int, default=100)
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--ahead", type=int, default=13)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()

    market = synthesize(skills=options.skills, weeks=options.weeks + options.ahead, end=END, seed=7)
    taxonomy = load_taxonomy()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "postings.parquet"
        market.postings.write_parquet(path)
        accepted = ingest([path], taxonomy=taxonomy).accepted
    first_future = END - timedelta(days=6) - timedelta(weeks=options.ahead - 1)
    start = first_future - timedelta(weeks=options.weeks)
    seen = within(accepted, start, first_future - timedelta(weeks=1))
    unseen = within(accepted, first_future, END)

    began = time.perf_counter()
    config = TrainConfig(horizon=options.ahead, workers=options.workers)
    trained = train(seen, taxonomy=taxonomy, config=config)
    seconds = time.perf_counter() - began

    bundle, truth = trained.bundle, market.truth
    demand = future_scores(
        demand_panel(seen),
        demand_panel(unseen).filter(pl.col("week_start") >= first_future),
        bundle.demand.rename({"p10": "low", "p90": "high"}),
        truth.select("skill", "week_start", expected="expected_postings"),
        "postings",
    )
    rate = future_scores(
        rate_panel(rate_observations(seen)),
        rate_panel(rate_observations(unseen)),
        bundle.rates.rename({"lower": "low", "upper": "high"}),
        truth.select("skill", "week_start", expected="median_rate"),
        "rate",
    )
    metrics = trained.metrics
    trained_on = f"trained on {options.weeks} weeks in {seconds:.1f} s"
    print(f"{options.skills} skills, {trained_on}, scored on {options.ahead} weeks it never saw")
    print(
        f"{'':10} {'backtest MASE':>14} {'snaive':>8} {'ratio':>6} {'cov80':>6} | "
        f"{'future MASE':>12} {'snaive':>8} {'ratio':>6} {'truth':>6} {'cov80':>6} {'p50 vs truth':>12}"
    )
    for target, future in (("demand", demand), ("rate", rate)):
        mase, snaive, cover = (metrics[f"{target}_{k}"] for k in ("mase", "mase_snaive", "coverage_80"))
        past = f"{mase:14.3f} {snaive:8.3f} {mase / snaive:6.2f} {cover:6.2f}"
        ratio = future["mase"] / future["mase_snaive"]
        ahead = f"{future['mase']:12.3f} {future['mase_snaive']:8.3f} {ratio:6.2f}"
        rest = f"{future['mase_truth']:6.3f} {future['coverage']:6.2f} {future['error_vs_truth']:11.1%}"
        print(f"{target:10} {past} | {ahead} {rest}")
        record("accuracy", f"{target}: backtest MASE", mase, "", "seasonal naive", snaive)
        unseen = future["mase"], future["mase_snaive"]
        record("accuracy", f"{target}: MASE on unseen weeks", unseen[0], "", "seasonal naive", unseen[1])
        record("accuracy", f"{target}: 80% interval coverage, unseen", future["coverage"], "", "nominal", 0.8)
    print(
        "ratio: MASE / seasonal naive's (goal <= 0.80); truth: MASE of the true expectation (the noise floor)"
    )


if __name__ == "__main__":
    main()
