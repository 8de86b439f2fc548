"""Demand forecasts on short, broken weekly series: real Elance postings, and a synthetic market
whose year-end dip is followed by weeks not collected, beside naive, AutoETS and AutoTheta.

Elance (``../shared/data/real``): 8 categories of real postings, 2012-10-25 to 2013-02-28, with
the Christmas and New Year dip and a week collected in part. gigcast trains on the postings
before ``--cut`` (once per ``--horizons``) and its served p50 of the ``--ahead`` weeks from the cut
is asked by the data's own category names; only whole weeks are scored. The peers get what a user
would build from the same file: postings counted by the Monday of ``posted_at`` (UTC) per
category, over the same training weeks as gigcast, the partial week as it is. Scored: MAE (summed
and averaged over series), MASE (scale: each series' in-sample naive MAE over its training
weeks as counted, ``mase_scale``; median over series) and MAE as a ratio to naive's.

Synthetic: ``synthesize(skills=30, weeks=60, end=2026-03-29)`` with no postings from 2026-01-05
for 21 days; gigcast trains on the weeks before 2026-03-02 and the 4 weeks from it are scored
against the market's truth: the share of skills whose mean p50 over weeks 1-4 is more than 10%
off the truth's mean (too low, too high) and the median MASE. The peers get the postings gigcast
accepted, counted by week with weeks without postings as zeros (as ``bench/accuracy.py``). For
reference, what counting noise alone allows: the share of skills whose last 13 collected weeks
outside the year end hold over 10% more or fewer postings than the truth expected there (a
forecast told each skill's growth and season, reading only its level from those weeks, would be
that far off).
``--deep``: the same market with the postings of its two year-end weeks thinned to ``--keep``
(the synthetic market's holiday dip is fixed, with no parameter to deepen it).

The peers run plainly (statsforecast defaults, ``season_length=52``: with under two years of
history none fits a season) on the raw counts; then AutoETS and AutoTheta on log1p counts, and on
the raw counts with the weeks gigcast finds partly collected left out ("gaps out").

Usage: python bench/real_demand.py [--only elance|synthetic] [--cut 2013-01-28] [--ahead 4]
       [--horizons 4 52] [--seeds 7 8] [--deep] [--keep 0.5] [--workers 2] [--verbose] [--shared DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import numpy as np
import polars as pl
from summary import record

from gigcast.bundle import Target
from gigcast.lookup import ForecastIndex
from gigcast.taxonomy import load_taxonomy
from training.data.ingest import ingest
from training.data.panels import WEEK, collection_gaps, complete_window, demand_panel, week_of, within
from training.data.synth import Outage, synthesize
from training.forecasting.backtest import mase_scale
from training.forecasting.calendar import holiday_of
from training.pipeline import TrainConfig, train

ELANCE_FILE = "elance-2012-2013-postings.csv"
SYNTH_SKILLS, SYNTH_WEEKS, SYNTH_AHEAD = 30, 60, 4
SYNTH_END, SYNTH_CUT = date(2026, 3, 29), date(2026, 3, 2)
SYNTH_OUTAGE = Outage(start=date(2026, 1, 5), days=21)
YEAR_END = (date(2025, 12, 22), date(2026, 1, 4))  # the market's two year-end weeks, Monday to Sunday
OFF = 0.10  # a forecast this far from the truth's level, either way, is off
ORACLE_WEEKS = 13  # weeks the counting-noise reference reads each skill's level from
NAIVE = "Naive"


class Scale(StrEnum):
    RAW = "raw"
    LOG1P = "log1p"


@dataclass(frozen=True)
class Peers:
    """How the statsforecast models see the series: on which scale, and whether gap weeks are out."""

    scale: Scale
    gaps_out: bool = False

    def label(self, model: str) -> str:
        suffix = ", gaps out" if self.gaps_out else "" if self.scale is Scale.RAW else f", {self.scale}"
        return model + suffix


PEER_RUNS = (Peers(Scale.RAW), Peers(Scale.LOG1P), Peers(Scale.RAW, gaps_out=True))


def peer_forecasts(history: pl.DataFrame, *, h: int, peers: Peers) -> pl.DataFrame:
    """AutoETS and AutoTheta (and naive, on the raw scale) on every series of ``history``
    (skill, week_start, value), ``h`` weeks ahead: model, skill, week_start, p50."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta, Naive

    models = [AutoETS(season_length=52), AutoTheta(season_length=52)]
    if peers == Peers(Scale.RAW):
        models.insert(0, Naive())
    forward, backward = (np.log1p, np.expm1) if peers.scale is Scale.LOG1P else (np.asarray, np.asarray)
    frame = history.sort("skill", WEEK).select(
        unique_id="skill", ds=WEEK, y=pl.col("value").cast(pl.Float64).map_batches(forward)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = StatsForecast(models=models, freq="1w", n_jobs=1, fallback_model=Naive()).forecast(
            df=frame, h=h
        )
    return pl.concat(
        out.select(
            model=pl.lit(peers.label(repr(m))),
            skill="unique_id",
            week_start=pl.col("ds").cast(pl.Date),
            p50=pl.col(repr(m)).map_batches(backward),
        )
        for m in models
    )


def per_series(forecasts: pl.DataFrame, actual: pl.DataFrame, scales: pl.DataFrame) -> pl.DataFrame:
    """Per model and series, over the scored weeks the model answers: MAE and MASE, naive's on the
    same weeks, and how far the mean p50 is from the mean actual."""
    naive = forecasts.filter(pl.col("model") == NAIVE).select("skill", WEEK, naive="p50")
    error, naive_error = (pl.col("p50") - pl.col("actual")).abs(), (pl.col("naive") - pl.col("actual")).abs()
    return (
        forecasts.join(actual, on=["skill", WEEK])
        .join(naive, on=["skill", WEEK])
        .join(scales, on="skill")
        .group_by("model", "skill", maintain_order=True)
        .agg(
            mae=error.mean(),
            naive_mae=naive_error.mean(),
            mase=error.mean() / pl.col("scale").first(),
            naive_mase=naive_error.mean() / pl.col("scale").first(),
            level=pl.col("p50").mean() / pl.col("actual").mean() - 1,
            weeks=pl.len(),
        )
    )


def scales_of(history: pl.DataFrame) -> pl.DataFrame:
    """Each series' MASE scale from its training weeks, as the backtest computes it."""
    rows = [
        (skill, mase_scale(part.sort(WEEK)["value"].cast(pl.Float64).to_numpy()))
        for (skill,), part in history.partition_by("skill", as_dict=True).items()
    ]
    return pl.DataFrame(rows, schema={"skill": pl.String, "scale": pl.Float64}, orient="row").filter(
        pl.col("scale") > 0
    )


def weeks_from(first: date, count: int) -> list[date]:
    return [first + timedelta(weeks=k) for k in range(count)]


def at_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# -- Elance ----------------------------------------------------------------------------------


def user_counts(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Postings per category and Monday-week of ``posted_at`` (UTC) as the file holds them, and per
    week the days on which any posting was made."""
    raw = pl.read_csv(path, schema_overrides={"posted_at": pl.String}).with_columns(
        pl.col("posted_at").str.to_datetime(time_zone="UTC")
    )
    counts = raw.group_by(skill="skills", week_start=week_of()).agg(value=pl.len().cast(pl.Float64))
    days = raw.group_by(week_of()).agg(days=pl.col("posted_at").dt.date().n_unique()).sort(WEEK)
    return counts, days


def served(index: ForecastIndex, names: list[str], weeks: list[date], model: str) -> pl.DataFrame:
    """gigcast's served p50 of each of ``weeks`` it answers, asked by each series' own name."""
    rows = []
    for name in names:
        entry = index.find_skill(name)
        if entry is None:
            raise SystemExit(f"error: gigcast does not answer for {name!r}")
        for week in weeks:
            if week in index.weeks:  # beyond the served horizon gigcast does not answer
                offset = index.week_offset(week)
                p50 = index.demand(entry, country=None, horizon=offset + 1)[offset].p50
                rows.append((model, name, week, p50))
    return pl.DataFrame(rows, schema=["model", "skill", WEEK, "p50"], orient="row")


def elance(options: argparse.Namespace) -> None:
    path = options.shared / ELANCE_FILE
    if not path.is_file():
        print(f"{path} is not here: Elance skipped")
        return
    read = ingest([path], taxonomy=load_taxonomy())
    before = read.accepted.filter(pl.col("posted_at") < at_midnight(options.cut))
    start, end = complete_window(before)
    gaps = collection_gaps(within(before, start, end), start=start, end=end)
    counts, days = user_counts(path)
    names = sorted(counts["skill"].unique())
    last_day = read.accepted.select(pl.col("posted_at").max().dt.date()).item()
    whole = days.filter((pl.col("days") == 7) & (pl.col(WEEK) + timedelta(days=6) <= last_day))[WEEK]
    asked = weeks_from(options.cut, options.ahead)
    scored = [w for w in asked if w in whole.to_list()]
    if not scored:
        raise SystemExit(f"error: none of the {options.ahead} weeks from {options.cut} is whole in the data")
    history = counts.filter(pl.col(WEEK).is_between(start, end))
    actual = counts.filter(pl.col(WEEK).is_in(scored)).rename({"value": "actual"})
    scales = scales_of(history)
    partial = days.filter(pl.col("days") < 7)
    print(
        f"Elance: {len(names)} series, trained on the {history[WEEK].n_unique()} weeks {start} to {end}, "
        f"scored on {len(scored)} whole weeks {scored[0]} to {scored[-1]}"
        + (
            f" (not scored, partial or past the end: {', '.join(map(str, sorted(set(asked) - set(scored))))})"
            if scored != asked
            else ""
        )
    )
    print(
        "weeks that look partial (postings on fewer than 7 days): "
        + ", ".join(f"{w} ({d} days)" for w, d in partial.iter_rows())
        + "; the peers keep those inside the training weeks as they are; gigcast finds gaps: "
        + (", ".join(map(str, gaps)) or "none")
    )

    forecasts, indexes = [], {}
    for horizon in options.horizons:
        trained = train(
            before, taxonomy=read.taxonomy, config=TrainConfig(horizon=horizon, workers=options.workers)
        )
        index = indexes[horizon] = ForecastIndex(trained.bundle)
        forecasts.append(served(index, names, scored, f"gigcast h={horizon}"))
        chosen = trained.scores.filter(pl.col("target") == "demand")["model"].str.replace(r"\(.*", "")
        print(
            f"gigcast h={horizon}: serves {index.manifest.horizon_weeks} week(s) from "
            f"{index.manifest.first_forecast_week}; chosen: "
            + ", ".join(f"{m} {n}" for m, n in chosen.value_counts(sort=True).iter_rows())
        )
    index = next(iter(indexes.values()))
    mapping = {name: index.find_skill(name) for name in names}
    renamed = [
        f"{n} → {e.skill} ({e.display_name}, {e.category})"
        for n, e in mapping.items()
        if e and e.display_name != n
    ]
    print(f"served under other names: {'; '.join(renamed) or 'none'}; the others under their own")
    if len({e.skill for e in mapping.values() if e}) < len(names):
        print("note: some names resolve to one skill: gigcast answers them with one forecast")

    h = (scored[-1] - end).days // 7  # the peers forecast from the week after their last
    for peers in PEER_RUNS:
        seen = history.filter(~pl.col(WEEK).is_in(gaps)) if peers.gaps_out else history
        forecasts.append(peer_forecasts(seen, h=h, peers=peers))
    board = per_series(pl.concat(forecasts), actual, scales)
    totals = board.group_by("model", maintain_order=True).agg(
        weeks=pl.col("weeks").max(),
        mae_sum=pl.col("mae").sum(),
        mae_mean=pl.col("mae").mean(),
        mase=pl.col("mase").median(),
        ratio=pl.col("mae").sum() / pl.col("naive_mae").sum(),
    )
    print(f"\n{'model':<22} {'weeks':>5} {'MAE sum':>9} {'MAE mean':>9} {'MASE med':>9} {'MAE/naive':>10}")
    for model, weeks, mae_sum, mae_mean, mase, ratio in totals.iter_rows():
        print(f"{model:<22} {weeks:5d} {mae_sum:9.1f} {mae_mean:9.1f} {mase:9.3f} {ratio:9.2f}x")
    print("(MAE per series over the weeks the model answers; MAE/naive: beside naive on the same weeks)")
    for row in totals.filter(pl.col("model").str.starts_with("gigcast")).iter_rows(named=True):
        naive = row["mae_mean"] / row["ratio"]
        figure = f"Elance MAE, {row['weeks']} wk ahead ({row['model'].removeprefix('gigcast ')})"
        record("demand", figure, row["mae_mean"], "", "naive", naive)
    if options.verbose:
        print_series(pl.concat(forecasts), history, actual, scored)


def print_series(
    forecasts: pl.DataFrame, history: pl.DataFrame, actual: pl.DataFrame, weeks: list[date]
) -> None:
    """Per series: its last 4 training weeks, what came, and gigcast's and naive's forecasts."""
    shown = forecasts.filter(pl.col("model").str.starts_with("gigcast") | (pl.col("model") == NAIVE))
    print(f"\n{'series':<28} {'':<22} " + " ".join(f"{w:%m-%d}" for w in weeks))
    for (name,), part in sorted(history.partition_by("skill", as_dict=True).items()):
        last = part.sort(WEEK).tail(4)
        print(f"{name:<28} {'last 4 training weeks':<22} " + " ".join(f"{v:5.0f}" for v in last["value"]))
        rows = [("actual", actual.filter(pl.col("skill") == name).rename({"actual": "p50"}))]
        rows += [
            (m, g)
            for (m,), g in shown.filter(pl.col("skill") == name).partition_by("model", as_dict=True).items()
        ]
        for label, frame in rows:
            values = dict(zip(frame[WEEK], frame["p50"], strict=True))
            print(
                f"{'':<28} {label:<22} "
                + " ".join(f"{values[w]:5.0f}" if w in values else "    -" for w in weeks)
            )


# -- synthetic -------------------------------------------------------------------------------


def synthetic_postings(seed: int, *, keep: float | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The market's accepted postings (its year-end weeks thinned to ``keep``, if given) and its truth."""
    market = synthesize(
        skills=SYNTH_SKILLS, weeks=SYNTH_WEEKS, end=SYNTH_END, seed=seed, outages=[SYNTH_OUTAGE]
    )
    postings = market.postings
    if keep is not None:
        day = pl.col("posted_at").str.slice(0, 10).str.to_date(strict=False)
        draw = np.random.default_rng([seed, 2]).random(postings.height)
        postings = postings.filter(~day.is_between(*YEAR_END).fill_null(False) | (pl.Series(draw) < keep))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "postings.parquet"
        postings.write_parquet(path)
        accepted = ingest([path], taxonomy=load_taxonomy()).accepted
    return accepted, market.truth


def synthetic(options: argparse.Namespace, seed: int, *, keep: float | None) -> None:
    accepted, truth = synthetic_postings(seed, keep=keep)
    seen = accepted.filter(pl.col("posted_at") < at_midnight(SYNTH_CUT))
    start, end = complete_window(seen)
    seen = within(seen, start, end)
    gaps = collection_gaps(seen, start=start, end=end)
    history = demand_panel(seen, end=end).select("skill", WEEK, value="postings")
    config = TrainConfig(horizon=52, targets=(Target.DEMAND,), workers=options.workers)  # rates: not scored
    trained = train(seen, taxonomy=load_taxonomy(), config=config)
    weeks = weeks_from(SYNTH_CUT, SYNTH_AHEAD)
    ours = trained.bundle.demand.filter(pl.col(WEEK).is_in(weeks)).select(
        model=pl.lit("gigcast"), skill="skill", week_start=WEEK, p50="p50"
    )
    forecasts = [ours]
    for peers in PEER_RUNS:
        forecasts.append(
            peer_forecasts(
                history.filter(~pl.col(WEEK).is_in(gaps)) if peers.gaps_out else history,
                h=SYNTH_AHEAD,
                peers=peers,
            )
        )
    actual = truth.select("skill", WEEK, actual="expected_postings").filter(pl.col(WEEK).is_in(weeks))
    board = per_series(
        pl.concat(forecasts).filter(pl.col("skill").is_in(ours["skill"].implode())),
        actual,
        scales_of(history),
    )
    totals = board.group_by("model", maintain_order=True).agg(
        off=(pl.col("level").abs() > OFF).mean(),
        low=(pl.col("level") < -OFF).mean(),
        high=(pl.col("level") > OFF).mean(),
        mase=pl.col("mase").median(),
        ratio=pl.col("mase").median() / pl.col("naive_mase").median(),
        weeks=pl.col("weeks").max(),
    )
    # Postings counted under the truth's skills, against the truth, where collected: near 1 unless
    # ingestion reads the market's skill names as other skills (then no model can match the truth).
    counted = truth.join(history.filter(~pl.col(WEEK).is_in(gaps)), on=["skill", WEEK])
    read_share = float(counted["value"].sum()) / float(counted["expected_postings"].sum())
    variant = f"year-end weeks thinned to {keep:.0%}" if keep is not None else "plain"
    print(
        f"\nsynthetic seed {seed}, {variant}: {board['skill'].n_unique()} skills, "
        f"trained on {start} to {end} (gigcast finds gaps: {', '.join(map(str, gaps)) or 'none'}), "
        f"scored on {weeks[0]} to {weeks[-1]} against the truth; "
        f"gigcast serves {trained.bundle.manifest.horizon_weeks} weeks; "
        f"postings counted / truth over the training weeks {read_share:.2f}"
    )
    print(f"{'model':<22} {'weeks':>5} {'off >10%':>9} {'low':>6} {'high':>6} {'MASE med':>9} {'/naive':>11}")
    for model, off, low, high, mase, ratio, weeks_scored in totals.iter_rows():
        print(f"{model:<22} {weeks_scored:5d} {off:9.2f} {low:6.2f} {high:6.2f} {mase:9.3f} {ratio:10.2f}x")
    print(
        f"counting noise alone: the truth's own course, its level read from each skill's last "
        f"{ORACLE_WEEKS} collected weeks outside the year end, is off >10% for "
        f"{counting_noise_off(counted):.2f} of skills"
    )
    others = totals.filter(pl.col("model") != "gigcast")
    gigcast = totals.filter(pl.col("model") == "gigcast").row(0, named=True)
    name = "deep" if keep is not None else "synthetic"
    for column, figure in (("off", "skills off >10%, weeks 1-4"), ("mase", "MASE vs truth, weeks 1-4")):
        best = others.sort(column).row(0, named=True)
        peer = f"best peer ({best['model']})"
        record("demand", f"{name} seed {seed}: {figure}", gigcast[column], "", peer, best[column])


def counting_noise_off(counted: pl.DataFrame) -> float:
    """The share of skills whose postings over their last ``ORACLE_WEEKS`` collected weeks outside
    the year end are more than ``OFF`` from the truth's expected postings there: how far off a
    forecast that knew each skill's growth and season exactly, and read only its level from those
    weeks, would be."""
    ordinary = counted.filter(
        pl.col(WEEK).map_elements(lambda w: holiday_of(w) is None, return_dtype=pl.Boolean)
    )
    last = (
        ordinary.sort(WEEK)
        .group_by("skill")
        .agg(
            ratio=pl.col("value").tail(ORACLE_WEEKS).sum()
            / pl.col("expected_postings").tail(ORACLE_WEEKS).sum()
        )
    )
    return float(((last["ratio"] - 1).abs() > OFF).mean())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["elance", "synthetic"])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real"
    )
    parser.add_argument("--cut", type=date.fromisoformat, default=date(2013, 1, 28), help="a Monday")
    parser.add_argument("--ahead", type=int, default=4)
    parser.add_argument("--horizons", type=int, nargs="+", default=[4, 52])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    parser.add_argument("--deep", action="store_true", help="Also the market, its year-end weeks thinned.")
    parser.add_argument("--keep", type=float, default=0.5, help="Share of year-end postings --deep keeps.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="Elance's weeks, series by series.")
    options = parser.parse_args()
    if options.cut.weekday() != 0:
        parser.error(f"--cut {options.cut} is not a Monday")
    if options.ahead < 1 or not 0 < options.keep <= 1:
        parser.error("--ahead must be 1 or more and --keep in (0, 1]")

    began = time.perf_counter()
    if options.only in (None, "elance"):
        elance(options)
        print(f"Elance: {time.perf_counter() - began:.0f} s")
    if options.only in (None, "synthetic"):
        start = time.perf_counter()
        for seed in options.seeds:
            synthetic(options, seed, keep=None)
            if options.deep:
                synthetic(options, seed, keep=options.keep)
        print(f"synthetic: {time.perf_counter() - start:.0f} s")
    print(f"wall time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
