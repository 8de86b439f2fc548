"""Training cost: how wall time grows with skills on 2 workers, what one fit of each candidate
costs, how many fits the race makes per series, and how much of a run is spent outside fitting.

Fitting is timed from the first series handed out to the last one back; everything else in the
training job (synthesis excluded: imports, ingest, panels, calibration, premiums, bundle, MLflow,
judging and promoting) is "outside".

Each candidate is also fitted alone, one statsforecast call over every demand series of the
first market, to price one fit of it; the race's fits per series come from its scores table
(every backtest fold for a candidate that went on, the screening folds for one screened out,
plus the winners' fit on the whole history). Their product, summed, is the fit time the
screening leaves beside the time racing every candidate on every fold would take.

Usage: python bench/fitting.py [--skills 100 400 1000] [--weeks 156] [--workers 2] [--speedup-skills 100]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import polars as pl
from summary import record

from gigcast.bundle import Target
from gigcast.taxonomy import load_taxonomy
from training.data.panels import demand_panel
from training.data.synth import synthesize
from training.forecasting.backtest import SCREENING_FOLDS
from training.forecasting.calendar import Calendar
from training.forecasting.candidates import Model, candidates
from training.forecasting.race import forecast_weeks
from training.forecasting.series import Series
from training.job import Hooks, JobConfig, JobResult, run_job
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

    @property
    def per_series(self) -> float:
        """Milliseconds of a worker per series: the fit phase's wall time, all workers busy."""
        return self.fitting * self.workers / self.series * 1000


def timed_run(skills: int, weeks: int, workers: int, folder: Path) -> tuple[Timing, JobResult]:
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
        tracking_uri=f"sqlite:///{folder / f'mlflow-{skills}-{workers}.db'}",
        model_name="bench",
        train=TrainConfig(workers=workers),
    )
    began = time.perf_counter()
    done = run_job(config, hooks=Hooks(fitting=started, fitted=fitted))
    wall = time.perf_counter() - began
    return Timing(skills, count["series"], workers, wall, marks["end"] - marks["start"]), done


def fit_cost(demand: pl.DataFrame) -> dict[str, float]:
    """Milliseconds per series of one fit and 52-week forecast of each demand candidate alone."""
    weeks = demand.sort("week_start").group_by("skill", maintain_order=True).agg("week_start", "postings")
    series = {
        i: Series(skill, Target.DEMAND, list(starts), [float(v) for v in values])
        for i, (skill, starts, values) in enumerate(weeks.iter_rows())
    }
    first = max(w for one in series.values() for w in one.weeks) + timedelta(weeks=1)
    cost = {}
    for model in candidates(Target.DEMAND):
        began = time.perf_counter()
        with warnings.catch_warnings():  # young skills are shorter than a season; that is expected
            warnings.simplefilter("ignore", UserWarning)
            forecast_weeks(series, [model], first=first, steps=52, calendar=Calendar())
        cost[repr(model)] = (time.perf_counter() - began) / len(series) * 1000
    return cost


def fits_per_series(scores: pl.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """Per candidate, the mean fits per raced demand series: in the race, and with every fold."""
    raced = scores.filter((pl.col("target") == Target.DEMAND) & (pl.col("folds") > 0))
    made: dict[str, float] = {}
    every: dict[str, float] = {}
    for name in (repr(m) for m in candidates(Target.DEMAND)):
        final = pl.col("model").str.contains(rf"(^|[(, ]){name}($|[,)])").cast(pl.Int64)  # a winner
        out = pl.col("screened_out").fill_null("").str.split(";").list.contains(name)
        backtest = pl.when(out).then(pl.min_horizontal("folds", SCREENING_FOLDS)).otherwise("folds")
        made[name], every[name] = raced.select(
            made=(backtest + final).mean(), every=(pl.col("folds") + final).mean()
        ).row(0)
    return made, every


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skills", type=int, nargs="+", default=[100, 400, 1000])
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--speedup-skills", type=int, default=100)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        runs = [timed_run(skills, options.weeks, options.workers, folder) for skills in options.skills]
        one, _ = timed_run(options.speedup_skills, options.weeks, 1, folder)
        first, first_done = runs[0]
        cost = fit_cost(demand_panel(first_done.ingested.accepted))
    same = [timing for timing, _ in runs if timing.skills == options.speedup_skills]

    print(f"synthetic markets of {options.weeks} weeks, {options.workers} workers")
    header = ("skills", "series", "wall s", "fit s", "outside", "ms/series", "wall / first")
    print(" ".join(f"{title:>{width}}" for title, width in zip(header, (7, 7, 8, 7, 8, 10, 13), strict=True)))
    for timing, _ in runs:
        print(
            f"{timing.skills:7d} {timing.series:7d} {timing.wall:8.1f} {timing.fitting:7.1f} "
            f"{timing.outside:8.1%} {timing.per_series:10.0f} {timing.wall / first.wall:12.2f}x"
        )
    if same:
        two = same[0]
        print(
            f"fit phase, {one.skills} skills: 1 worker {one.fitting:.1f} s, {two.workers} workers "
            f"{two.fitting:.1f} s: speed-up {one.fitting / two.fitting:.2f}x"
        )

    made, every = fits_per_series(first_done.trained.scores)
    print(f"demand candidates, {first.skills} skills: one fit, and fits per series (backtest folds + final)")
    print(f"{'candidate':<22} {'ms per fit':>10} {'fits':>6} {'every fold':>11} {'ms per series':>14}")
    for name, ms in cost.items():
        print(f"{name:<22} {ms:10.1f} {made[name]:6.2f} {every[name]:11.2f} {ms * made[name]:14.0f}")
    raced = sum(cost[name] * made[name] for name in cost)
    full = sum(cost[name] * every[name] for name in cost)
    print(
        f"fit time per demand series: {raced:.0f} ms as raced, {full:.0f} ms with every candidate "
        f"on every fold ({1 - raced / full:.0%} saved by the screening folds)"
    )

    last = runs[-1][0]
    record(
        "training",
        f"wall, {last.skills} skills, {last.workers} workers",
        last.wall,
        "s",
        f"wall, {first.skills} skills",
        first.wall,
    )
    record(
        "training",
        "share outside fitting",
        last.outside * 100,
        "%",
        f"at {first.skills} skills",
        first.outside * 100,
    )
    record("training", "demand fit time per series, raced", raced, "ms", "every candidate, every fold", full)
    if same:
        record(
            "training",
            f"fit {one.skills} skills, {same[0].workers} workers",
            same[0].fitting,
            "s",
            "1 worker",
            one.fitting,
        )
    prophet = Model.PROPHET.value
    record("training", "Prophet fits per demand series", made[prophet], "", "every fold", every[prophet])


if __name__ == "__main__":
    main()
