"""Training cost: seconds per series, the speed-up from more workers, how cost grows with skills,
and how much of a run is spent outside fitting. Each figure comes from one run of this script.

Fitting is timed from the first series handed out to the last one back; everything else in the
training job (synthesis excluded: ingest, panels, calibration, premiums, bundle, MLflow, judging
and promoting) is "outside".
statsforecast's AutoTheta and SeasonalNaive alone, fitted once on the same demand series, are
timed as a reference for what one series of the race costs (every candidate on every backtest
fold, then the winners on the whole history).

Usage: python bench/fitting.py [--skills 100 200 400] [--weeks 156] [--speedup-skills 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from summary import record

from gigcast.taxonomy import load_taxonomy
from training.data.panels import demand_panel
from training.data.synth import synthesize
from training.job import Hooks, JobConfig, run_job
from training.pipeline import TrainConfig

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@dataclass
class Timing:
    skills: int
    series: int
    workers: int
    wall: float
    fitting: float

    @property
    def outside(self) -> float:
        return 1 - self.fitting / self.wall


def timed_run(skills: int, weeks: int, workers: int, folder: Path) -> tuple[Timing, pl.DataFrame]:
    postings = folder / f"market-{skills}.parquet"
    if not postings.exists():
        synthesize(skills=skills, weeks=weeks, seed=3).postings.write_parquet(postings)
    marks: dict[str, float] = {}
    count = {"series": 0}

    def started(n: int) -> None:
        marks["start"] = time.perf_counter()
        count["series"] = n

    def fitted(n: int) -> None:
        marks["end"] = time.perf_counter()

    config = JobConfig(
        sources=[postings],
        taxonomy=load_taxonomy(),
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        model_name="bench",
        train=TrainConfig(workers=workers),
    )
    began = time.perf_counter()
    done = run_job(config, hooks=Hooks(fitting=started, fitted=fitted))
    wall = time.perf_counter() - began
    timing = Timing(skills, count["series"], workers, wall, marks["end"] - marks["start"])
    return timing, demand_panel(done.ingested.accepted)


def statsforecast_reference(demand: pl.DataFrame) -> dict[str, float]:
    """Milliseconds per series of single statsforecast models, one fit and forecast each."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoTheta, SeasonalNaive

    frame = demand.select(
        unique_id="skill", ds=pl.col("week_start").cast(pl.Datetime), y=pl.col("postings").cast(pl.Float64)
    ).to_pandas()
    series = frame["unique_id"].nunique()
    cost = {}
    for model in (AutoTheta(season_length=52), SeasonalNaive(season_length=52)):
        began = time.perf_counter()
        with warnings.catch_warnings():  # young skills are shorter than a season; that is expected
            warnings.simplefilter("ignore", UserWarning)
            StatsForecast(models=[model], freq="W-MON", n_jobs=1).forecast(df=frame, h=52)
        cost[type(model).__name__] = (time.perf_counter() - began) / series * 1000
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skills", type=int, nargs="+", default=[100, 200, 400])
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--speedup-skills", type=int, default=100)
    options = parser.parse_args()

    speedup = options.speedup_skills
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        one, _ = timed_run(speedup, options.weeks, 1, folder)
        runs = [timed_run(skills, options.weeks, 2, folder) for skills in options.skills]
        same = [timing for timing, _ in runs if timing.skills == speedup]
        two = same[0] if same else timed_run(speedup, options.weeks, 2, folder)[0]
    print(f"synthetic markets of {options.weeks} weeks; each series races every candidate on every fold")
    print(
        f"fit phase, {one.skills} skills ({one.series} series): 1 worker {one.fitting:.1f} s "
        f"({one.fitting / one.series * 1000:.0f} ms/series), 2 workers {two.fitting:.1f} s "
        f"({two.fitting / two.series * 1000:.0f} ms/series): speed-up {one.fitting / two.fitting:.2f}x"
    )
    print(f"{'skills':>7} {'series':>7} {'wall s':>8} {'fit s':>7} {'outside':>8} {'wall / first':>13}")
    first = runs[0][0]
    for timing, _ in runs:
        print(
            f"{timing.skills:7d} {timing.series:7d} {timing.wall:8.1f} {timing.fitting:7.1f} "
            f"{timing.outside:8.1%} {timing.wall / first.wall:12.2f}x"
        )
    per_series = one.fitting / one.series * 1000
    peers = statsforecast_reference(runs[0][1])
    models = ", ".join(f"{name} {ms:.1f} ms/series" for name, ms in peers.items())
    print(f"one process: the race {per_series:.0f} ms/series; one fit and forecast alone: {models}")
    record("training", f"fit {one.skills} skills, 2 workers", two.fitting, "s", "1 worker", one.fitting)
    record("training", "race, 1 process", per_series, "ms/series", "AutoTheta alone", peers["AutoTheta"])
    last = runs[-1][0]
    scale = f"wall, {first.skills} skills"
    record("training", f"wall, {last.skills} skills", last.wall, "s", scale, first.wall)


if __name__ == "__main__":
    main()
