"""Drift found where markets changed, and only there: gigcast's rule beside the plain thresholds.

For each seed, two synthetic markets share every posting until ``--ahead`` weeks before their
end; in one, a tenth of the skills change regime from then (demand to 30%, demand 2.5 times,
or rates 1.6 times, in turn). A model trained on the shared weeks is scored on each market's
last weeks. Reported per rule: the share of calm series flagged (false alarms, in both
markets), whether a calm market was called drifted, and the share of changed series flagged.

The rules: gigcast's (coverage drop past the limit and more misses than chance allows, with
the Benjamini-Hochberg correction over series), and the plain one a team would write first:
a series drifts when its coverage drop or its MASE ratio crosses the limit.

A real check follows, where available: the Power BI RSS export of ``../shared/data/real``
(14 weeks of real postings) trained on all but its last ``--real-ahead`` complete weeks and
scored on those; nothing is known to have changed, so every flag there is a likely false alarm.

Usage: python bench/monitoring.py [--skills 40] [--weeks 104] [--ahead 8] [--seeds 7 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from summary import record

from gigcast.taxonomy import load_taxonomy
from training.data.ingest import ingest
from training.data.panels import complete_window
from training.data.synth import RegimeShift, pick_skills, synthesize
from training.monitoring.drift import Drift, MonitoringError, score
from training.monitoring.limits import DriftLimits
from training.pipeline import TrainConfig, Trained, train

END = date(2026, 11, 22)
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "upwork-powerbi-rss-2024.csv"
CHANGES = ({"level": 0.3}, {"level": 2.5}, {"rate": 1.6})
LIMITS = DriftLimits()


def plain_rule(drift: Drift) -> pl.Series:
    """Per series: coverage drop or MASE ratio past its limit."""
    series = drift.series
    crossed = (series["coverage_drop"] > LIMITS.max_coverage_drop) | (
        series["mase_ratio"] > LIMITS.max_mase_ratio
    )
    return crossed.fill_null(False)


def accepted(postings: pl.DataFrame, folder: Path, name: str) -> pl.DataFrame:
    path = folder / f"{name}.parquet"
    postings.write_parquet(path)
    return ingest([path], taxonomy=load_taxonomy()).accepted


def fitted(postings: pl.DataFrame, workers: int) -> Trained:
    return train(postings, taxonomy=load_taxonomy(), config=TrainConfig(workers=workers))


def scored(trained: Trained, postings: pl.DataFrame) -> Drift:
    return score(
        trained.bundle, backtest=trained.scores, holdout=trained.holdout, postings=postings, limits=LIMITS
    )


def flags(drift: Drift, changed: set[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Per rule: series flagged among the changed and among the calm, and how many of each."""
    keys = list(zip(drift.series["skill"], drift.series["target"], strict=True))
    is_changed = pl.Series([key in changed for key in keys])
    counts = {}
    for rule, flagged in (("gigcast", drift.series["drifted"]), ("plain", plain_rule(drift))):
        counts[rule] = {
            "changed_flagged": int((flagged & is_changed).sum()),
            "calm_flagged": int((flagged & ~is_changed).sum()),
        }
    counts["series"] = {"changed": int(is_changed.sum()), "calm": int((~is_changed).sum())}
    return counts


def synthetic(args: argparse.Namespace) -> None:
    totals = {
        rule: {"changed_flagged": 0, "calm_flagged": 0, "calm_markets_drifted": 0}
        for rule in ("gigcast", "plain")
    }
    changed_series = calm_series = 0
    for seed in args.seeds:
        start = END - timedelta(weeks=args.ahead) + timedelta(days=1)
        skills = [s.id for s in pick_skills(load_taxonomy(), args.skills)]
        shifted = skills[::10]
        shifts = [
            RegimeShift(start=start, skills=(skill,), **CHANGES[n % 3]) for n, skill in enumerate(shifted)
        ]
        changed = {
            (skill, "rate" if "rate" in CHANGES[n % 3] else "demand") for n, skill in enumerate(shifted)
        }
        weeks = args.weeks + args.ahead
        with tempfile.TemporaryDirectory() as scratch:
            calm = accepted(
                synthesize(skills=args.skills, weeks=weeks, end=END, seed=seed).postings,
                Path(scratch),
                "calm",
            )
            moved = accepted(
                synthesize(skills=args.skills, weeks=weeks, end=END, seed=seed, shifts=shifts).postings,
                Path(scratch),
                "moved",
            )
        began = time.perf_counter()
        trained = fitted(calm.filter(pl.col("posted_at").dt.date() < start), args.workers)
        took = time.perf_counter() - began
        print(f"seed {seed}: trained on {args.weeks} weeks of {args.skills} skills in {took:.0f}s")
        on_calm, on_moved = scored(trained, calm), scored(trained, moved)
        calm_counts, moved_counts = flags(on_calm, set()), flags(on_moved, changed)
        for rule in ("gigcast", "plain"):
            calm_market_drifted = calm_counts[rule]["calm_flagged"] > 0
            totals[rule]["calm_markets_drifted"] += int(calm_market_drifted)
            totals[rule]["calm_flagged"] += (
                calm_counts[rule]["calm_flagged"] + moved_counts[rule]["calm_flagged"]
            )
            totals[rule]["changed_flagged"] += moved_counts[rule]["changed_flagged"]
            print(
                f"  {rule:8} calm market: {calm_counts[rule]['calm_flagged']} of "
                f"{calm_counts['series']['calm']} series flagged; changed market: "
                f"{moved_counts[rule]['changed_flagged']} of "
                f"{moved_counts['series']['changed']} changed and {moved_counts[rule]['calm_flagged']} of "
                f"{moved_counts['series']['calm']} calm series flagged"
            )
        changed_rows = on_moved.series.filter(
            pl.struct("skill", "target").is_in([{"skill": s, "target": t} for s, t in changed])
        )
        print(
            changed_rows.select(
                "skill", "target", "weeks", "coverage", "misses", "chance", "mase_ratio", "drifted"
            )
        )
        calm_series += calm_counts["series"]["calm"] + moved_counts["series"]["calm"]
        changed_series += moved_counts["series"]["changed"]
    print(f"\nover {len(args.seeds)} seeds: {changed_series} changed series, {calm_series} calm ones")
    print(f"{'rule':8} {'changed flagged':>16} {'calm flagged':>13} {'calm markets called drifted':>28}")
    for rule, total in totals.items():
        changed_share, calm_share = (
            total["changed_flagged"] / changed_series,
            total["calm_flagged"] / calm_series,
        )
        drifted = f"{total['calm_markets_drifted']} of {len(args.seeds)}"
        print(f"{rule:8} {changed_share:>16.1%} {calm_share:>13.2%} {drifted:>28}")
    gigcast, plain = totals["gigcast"], totals["plain"]
    record(
        "drift",
        "changed series flagged",
        gigcast["changed_flagged"] / changed_series,
        "share",
        "plain thresholds",
        plain["changed_flagged"] / changed_series,
    )
    record(
        "drift",
        "calm series flagged",
        gigcast["calm_flagged"] / calm_series,
        "share",
        "plain thresholds",
        plain["calm_flagged"] / calm_series,
    )


def real(args: argparse.Namespace) -> None:
    if not REAL.is_file():
        print(f"\n{REAL} is absent: no real check")
        return
    postings = ingest([REAL], taxonomy=load_taxonomy()).accepted
    _, last = complete_window(postings)
    cut = last - timedelta(weeks=args.real_ahead - 1)
    trained = fitted(postings.filter(pl.col("posted_at").dt.date() < cut), args.workers)
    try:
        drift = scored(trained, postings)
    except MonitoringError as exc:  # too few weeks for a backtest to score series by
        print(f"\nreal: {REAL.name}, trained to {cut - timedelta(days=1)}, cannot be scored: {exc}")
        return
    counts = flags(drift, set())
    print(
        f"\nreal: {REAL.name}, trained to {cut - timedelta(days=1)}, scored on {len(drift.weeks)} weeks: "
        f"{counts['series']['calm']} series; flagged by gigcast {counts['gigcast']['calm_flagged']}, "
        f"by the plain thresholds {counts['plain']['calm_flagged']}"
    )
    print(
        drift.headline.select(
            "target", "series", "mase", "mase_backtest", "coverage_80", "coverage_80_backtest", "drifted"
        )
    )
    record(
        "drift",
        "real series flagged (Power BI RSS)",
        counts["gigcast"]["calm_flagged"],
        "series",
        "plain thresholds",
        counts["plain"]["calm_flagged"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skills", type=int, default=40)
    parser.add_argument("--weeks", type=int, default=104, help="weeks trained on")
    parser.add_argument("--ahead", type=int, default=8, help="weeks scored after them")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    parser.add_argument("--real-ahead", type=int, default=4, help="weeks of the real export scored")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    synthetic(args)
    real(args)


if __name__ == "__main__":
    main()
