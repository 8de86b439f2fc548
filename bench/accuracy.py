"""The race's scoreboard: gigcast's forecasts beside statsforecast's models run plainly on the same panels.

For each seed, a synthetic market of ``--weeks`` + ``--ahead`` weeks is made; gigcast trains on
all but the last ``--ahead`` weeks, and every model forecasts those weeks for every skill. Each
is scored against the ground truth the market was drawn from (MASE per horizon bucket, median
over skills and the worst tenth; |p50 / truth - 1| at weeks 1, 4, 13 and 26) and against the
weeks observed (80% interval coverage per bucket). The peers are the models a user would try
first: each statsforecast model alone on every series, on the log scale, with its own intervals.
Per bucket, gigcast's gap to the best of them comes with a 95% bootstrap interval over skills.

A second scenario is short and broken: ``--short-weeks`` weeks across a year end with one week
half collected, asked ``--short-ahead`` weeks ahead, scored against "same as last week".

Coverage is also shown by series kind: by how many values a week a series had over its last 13
weeks (postings for demand, hourly rates for rates) and by its age at the cut; and gigcast's bias
over the next 13 weeks by age. ``--share 0.1`` keeps a tenth of the postings: a small platform.
``--launches 0.6 --ahead 13`` launches more AI skills near the cut: up to 21 weeks old there.

Usage: python bench/accuracy.py [--skills 100] [--weeks 156] [--ahead 26] [--seeds 7 8] [--share 1.0]
       [--launches 0.08] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
from summary import record

from gigcast.taxonomy import load_taxonomy
from training.data.ingest import ingest
from training.data.panels import demand_panel, rate_observations, rate_panel, within
from training.data.synth import LATE_SKILL_SHARE, Outage, synthesize
from training.forecasting.backtest import BUCKETS, mase_scale
from training.forecasting.calibrate import VOLUME_EDGES, VOLUME_WEEKS
from training.forecasting.candidates import Model, ProphetModel
from training.pipeline import TrainConfig, train

END = date(2026, 11, 22)
GIGCAST = "gigcast"
CHECK_WEEKS = (1, 4, 13, 26)
MOVE_WEEKS = 12
AGE_EDGES = (26, 52)  # age buckets: weeks from a skill's first posting to the cut


@dataclass(frozen=True)
class Split:
    """A market cut in two: the postings trained on, what was observed after, and the truth."""

    seen: pl.DataFrame
    unseen: pl.DataFrame
    truth: pl.DataFrame
    first_future: date


def split_market(
    *,
    skills: int,
    weeks: int,
    ahead: int,
    seed: int,
    end: date,
    outage: Outage | None = None,
    share: float = 1.0,
    launches: float = LATE_SKILL_SHARE,
) -> Split:
    """The market cut at ``ahead`` weeks before ``end``; ``share`` < 1 keeps that share of its
    postings, drawn at random: a smaller platform in the same market."""
    market = synthesize(
        skills=skills,
        weeks=weeks + ahead,
        end=end,
        seed=seed,
        outages=[outage] if outage else [],
        launches=launches,
    )
    postings = market.postings if share >= 1 else market.postings.sample(fraction=share, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "postings.parquet"
        postings.write_parquet(path)
        accepted = ingest([path], taxonomy=load_taxonomy()).accepted
    first_future = end - timedelta(days=6) - timedelta(weeks=ahead - 1)
    start = first_future - timedelta(weeks=weeks)
    seen = within(accepted, start, first_future - timedelta(weeks=1))
    truth = market.truth.with_columns(pl.col("expected_postings") * min(share, 1.0))
    return Split(seen, within(accepted, first_future, end), truth, first_future)


def panels(split: Split) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    """Per target: the training panel (skill, week_start, value) and the observed future."""

    def shaped(frame: pl.DataFrame, column: str) -> pl.DataFrame:
        return frame.select("skill", "week_start", value=pl.col(column).cast(pl.Float64))

    return {
        "demand": (
            shaped(demand_panel(split.seen), "postings"),
            shaped(demand_panel(split.unseen), "postings"),
        ),
        "rate": (
            shaped(rate_panel(rate_observations(split.seen)), "rate"),
            shaped(rate_panel(rate_observations(split.unseen)), "rate"),
        ),
    }


def peer_forecasts(history: pl.DataFrame, target: str, ahead: int) -> pl.DataFrame:
    """Each statsforecast model alone on every series (log scale), with its own 80% interval."""
    from statsforecast import StatsForecast
    from statsforecast.models import (
        AutoETS,
        AutoTheta,
        CrostonOptimized,
        DynamicOptimizedTheta,
        HistoricAverage,
        Naive,
        SeasonalNaive,
        WindowAverage,
    )

    forward, backward = (np.log1p, np.expm1) if target == "demand" else (np.log, np.exp)
    interval = [  # models with intervals of their own
        AutoETS(season_length=52),
        AutoTheta(season_length=52, decomposition_type="additive"),
        DynamicOptimizedTheta(season_length=52, decomposition_type="additive"),
        SeasonalNaive(season_length=52),
        Naive(),
        HistoricAverage(),
    ]
    plain = [  # and those that give a median only
        WindowAverage(window_size=13),
        ProphetModel(),
        *([CrostonOptimized()] if target == "demand" else []),
    ]
    models = interval + plain
    frame = history.select(unique_id="skill", ds="week_start", y=pl.col("value").map_batches(forward))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = StatsForecast(models=interval, freq="1w", n_jobs=1, fallback_model=Naive()).forecast(
            df=frame, h=ahead, level=[80]
        )
        out = out.join(
            StatsForecast(models=plain, freq="1w", n_jobs=1, fallback_model=Naive()).forecast(
                df=frame, h=ahead
            ),
            on=["unique_id", "ds"],
        )
    rows = []
    for model in models:
        name = repr(model)
        bounds = (
            (pl.col(f"{name}-lo-80").map_batches(backward), pl.col(f"{name}-hi-80").map_batches(backward))
            if model in interval
            else (pl.lit(None, pl.Float64), pl.lit(None, pl.Float64))
        )
        rows.append(
            out.select(
                skill="unique_id",
                week_start="ds",
                model=pl.lit(name),
                p50=pl.col(name).map_batches(backward),
                low=bounds[0],
                high=bounds[1],
            )
        )
    return pl.concat(rows)


def scoreboard(
    history: pl.DataFrame, future: pl.DataFrame, forecasts: pl.DataFrame, truth: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per model: MASE against the truth per bucket, the p50/truth error at set weeks, coverage.

    Also each model's MASE per skill and bucket, which the board's medians are taken over.
    """
    scales = pl.DataFrame(
        [
            (skill, mase_scale(part.sort("week_start")["value"].to_numpy()))
            for (skill,), part in history.partition_by("skill", as_dict=True).items()
        ],
        schema={"skill": pl.String, "scale": pl.Float64},
        orient="row",
    ).filter(pl.col("scale") > 0)
    first = forecasts["week_start"].min()
    joined = (
        forecasts.join(truth, on=["skill", "week_start"])
        .join(scales, on="skill")
        .join(future.rename({"value": "observed"}), on=["skill", "week_start"], how="left")
        .with_columns(step=((pl.col("week_start") - pl.lit(first)).dt.total_days() // 7 + 1).cast(pl.Int32))
    )
    bucket = pl.lit(None, pl.String)
    for b in reversed(BUCKETS):
        bucket = pl.when(pl.col("step").is_between(b.first, b.last)).then(pl.lit(b.name)).otherwise(bucket)
    joined = joined.with_columns(bucket=bucket)
    per_skill = joined.group_by("model", "skill", "bucket").agg(
        mase=(pl.col("p50") - pl.col("truth")).abs().mean() / pl.col("scale").first(),
        covered=((pl.col("observed") >= pl.col("low")) & (pl.col("observed") <= pl.col("high"))).mean(),
    )
    columns = []
    for b in BUCKETS:
        inside = per_skill.filter(pl.col("bucket") == b.name)
        if inside.is_empty():
            continue
        columns.append(
            inside.group_by("model").agg(
                pl.col("mase").median().alias(f"mase {b.name}"),
                pl.col("mase").quantile(0.9).alias(f"p90 {b.name}"),
                pl.col("covered").mean().alias(f"cov {b.name}"),
            )
        )
    for week in CHECK_WEEKS:
        at = joined.filter(pl.col("step") == week)
        if at.height:
            columns.append(
                at.group_by("model").agg(
                    ((pl.col("p50") / pl.col("truth") - 1).abs().median()).alias(f"err w{week}"),
                    ((pl.col("p50") / pl.col("truth") - 1).abs().quantile(0.9)).alias(f"err90 w{week}"),
                )
            )
    moves = (
        joined.filter(pl.col("step").is_in([1, MOVE_WEEKS]))
        .sort("step")
        .group_by("model", "skill")
        .agg(
            model_move=(pl.col("p50").last() / pl.col("p50").first() - 1).abs(),
            truth_move=(pl.col("truth").last() / pl.col("truth").first() - 1).abs(),
        )
    )
    columns.append(
        moves.group_by("model").agg(
            swings=((pl.col("model_move") > 0.10) & (pl.col("truth_move") < 0.03)).sum().cast(pl.Int64)
        )
    )
    board = columns[0]
    for frame in columns[1:]:
        board = board.join(frame, on="model", how="left")
    return board.sort(pl.col("model") != GIGCAST, "model"), per_skill


def kinds(split: Split) -> pl.DataFrame:
    """Per skill and target, its kind: how many values a week it had over its last ``VOLUME_WEEKS``
    weeks (postings for demand, hourly rates for rates) and how long before the cut it began."""
    first = split.first_future
    recent = first - timedelta(weeks=VOLUME_WEEKS)

    def kind_of(counted: pl.DataFrame, target: str) -> pl.DataFrame:
        counted = counted.filter(pl.col("count") > 0)
        return counted.group_by("skill").agg(
            target=pl.lit(target),
            per_week=pl.col("count").filter(pl.col("week_start") >= recent).sum() / VOLUME_WEEKS,
            age=(pl.lit(first) - pl.col("week_start").min()).dt.total_days() // 7,
        )

    postings = demand_panel(split.seen).select("skill", "week_start", count="postings")
    rates = rate_panel(rate_observations(split.seen)).select("skill", "week_start", count="observations")
    return pl.concat([kind_of(postings, "demand"), kind_of(rates, "rate")]).with_columns(
        volume=labelled("per_week", VOLUME_EDGES), age=labelled("age", AGE_EDGES, unit=" wk")
    )


def labels(edges: tuple[float, ...], *, unit: str = "") -> list[str]:
    """Names of the intervals ``edges`` cut, in order: <5, 5-20, 20-100, 100+."""
    whole = [f"{edge:g}" for edge in edges]
    inner = [f"{low}-{high}{unit}" for low, high in pairwise(whole)]
    return [f"<{whole[0]}{unit}", *inner, f"{whole[-1]}+{unit}"]


def labelled(column: str, edges: tuple[float, ...], *, unit: str = "") -> pl.Expr:
    names = labels(edges, unit=unit)
    label = pl.lit(names[-1])
    for edge, name in reversed(list(zip(edges, names, strict=False))):
        label = pl.when(pl.col(column) < edge).then(pl.lit(name)).otherwise(label)
    return label


def coverage_by_kind(per_skill: pl.DataFrame, kind: pl.DataFrame, *, by: str) -> pl.DataFrame:
    """Coverage of the observed weeks per model and ``by`` (volume or age), each with its skills'
    count; gigcast's also per horizon bucket."""
    joined = per_skill.filter(pl.col("covered").is_not_null()).join(kind, on="skill")
    present = set(joined[by])
    groups = [name for name in labels(VOLUME_EDGES) + labels(AGE_EDGES, unit=" wk") if name in present]
    overall = joined.group_by("model", by).agg(pl.col("covered").mean(), skills=pl.col("skill").n_unique())
    rows = overall.with_columns(cell=pl.format("{} ({})", pl.col("covered").round(2), pl.col("skills")))
    table = rows.pivot(on=by, index="model", values="cell").select("model", *groups)
    ours = (
        joined.filter(pl.col("model") == GIGCAST)
        .group_by("bucket", by)
        .agg(pl.col("covered").mean().round(2))
        .pivot(on=by, index="bucket", values="covered")
        .select(
            pl.format("gigcast, weeks {}", pl.col("bucket").str.replace("_", "-")).alias("model"), *groups
        )
        .sort("model")
    )
    return pl.concat(
        [table.sort(pl.col("model") != GIGCAST, "model"), ours.cast({g: pl.String for g in groups})]
    )


def young_bias(
    forecasts: pl.DataFrame, truth: pl.DataFrame, kind: pl.DataFrame, *, first: date
) -> pl.DataFrame:
    """gigcast's p50 over the next 13 weeks against the truth there, per age bucket: the median
    bias over skills and how many skills."""
    near = forecasts.filter(
        (pl.col("model") == GIGCAST) & (pl.col("week_start") < first + timedelta(weeks=13))
    ).join(truth, on=["skill", "week_start"])
    per_skill = near.group_by("skill").agg(bias=pl.col("p50").sum() / pl.col("truth").sum() - 1)
    return (
        per_skill.join(kind, on="skill")
        .group_by("age")
        .agg(
            median_abs_bias=pl.col("bias").abs().median(),
            median_bias=pl.col("bias").median(),
            skills=pl.len(),
        )
        .sort("age")
    )


def gaps_to_best(per_skill: pl.DataFrame, *, resamples: int = 2000) -> list[str]:
    """Per bucket: gigcast's median MASE minus the best single statsforecast model's, with a 95%
    bootstrap interval over skills (an interval across zero is a difference the skills cannot tell)."""
    rng = np.random.default_rng(0)
    lines = []
    for b in BUCKETS:
        inside = per_skill.filter(pl.col("bucket") == b.name)
        if inside.is_empty():
            continue
        wide = inside.pivot(on="model", index="skill", values="mase").drop_nulls().drop_nans()
        peers = [c for c in wide.columns if c not in ("skill", GIGCAST, Model.PROPHET)]
        best = min(peers, key=lambda model: float(wide[model].median()))  # type: ignore[arg-type]
        ours, theirs = wide[GIGCAST].to_numpy(), wide[best].to_numpy()
        draws = rng.integers(0, ours.size, (resamples, ours.size))
        gaps = np.median(ours[draws], axis=1) - np.median(theirs[draws], axis=1)
        low, high = np.quantile(gaps, [0.025, 0.975])
        gap = float(np.median(ours) - np.median(theirs))
        lines.append(f"weeks {b.first}-{b.last} {gap:+.3f} [{low:+.3f}, {high:+.3f}] against {best}")
    return lines


def gigcast_forecasts(trained_bundle, target: str) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    if target == "demand":
        table = trained_bundle.demand.rename({"p10": "low", "p90": "high"})
    else:
        table = trained_bundle.rates.rename({"lower": "low", "upper": "high"})
    return table.select("skill", "week_start", model=pl.lit(GIGCAST), p50="p50", low="low", high="high")


def share_note(share: float) -> str:
    return f", {share:.0%} of the market's postings" if share < 1 else ""


def print_board(title: str, board: pl.DataFrame) -> None:
    print(f"\n{title}")
    with pl.Config(
        tbl_rows=40, tbl_cols=40, tbl_width_chars=250, float_precision=3, tbl_hide_dataframe_shape=True
    ):
        print(board)


def run_seed(options: argparse.Namespace, seed: int) -> dict[str, pl.DataFrame]:
    split = split_market(
        skills=options.skills,
        weeks=options.weeks,
        ahead=options.ahead,
        seed=seed,
        end=END,
        share=options.share,
        launches=options.launches,
    )
    began = time.perf_counter()
    trained = train(
        split.seen, taxonomy=load_taxonomy(), config=TrainConfig(horizon=52, workers=options.workers)
    )
    seconds = time.perf_counter() - began
    print(
        f"\nseed {seed}: {options.skills} skills{share_note(options.share)}, "
        f"trained on {options.weeks} weeks in {seconds:.0f} s, "
        f"scored on the {options.ahead} weeks after; "
        f"served horizon {trained.bundle.manifest.horizon_weeks} weeks"
    )
    tried = {
        k.removeprefix("demand_reconciled_mase_"): v for k, v in trained.metrics.items() if "reconciled" in k
    }
    print(
        f"demand reconciled {trained.reconciliation} (backtest MASE "
        + ", ".join(f"{method} {score:.3f}" for method, score in tried.items())
        + ")"
    )
    boards = {}
    kind = kinds(split)
    truth_columns = {"demand": "expected_postings", "rate": "median_rate"}
    for target, (history, future) in panels(split).items():
        history = history.filter(pl.col("skill").is_in(trained.bundle.skills["skill"].implode()))
        ours = gigcast_forecasts(trained.bundle, target).filter(
            pl.col("week_start") < split.first_future + timedelta(weeks=options.ahead)
        )
        forecasts = pl.concat([ours, peer_forecasts(history, target, options.ahead)])
        truth = split.truth.select("skill", "week_start", truth=truth_columns[target])
        boards[target], per_skill = scoreboard(history, future, forecasts, truth)
        print_board(
            f"seed {seed}, {target}: MASE against the truth (median, 90th percentile), "
            "coverage of the observed weeks",
            boards[target],
        )
        print(
            "gigcast minus the best single model (95% bootstrap over skills): "
            + "; ".join(gaps_to_best(per_skill))
        )
        own_kind = kind.filter(pl.col("target") == target).drop("target")
        for by, title in (
            ("volume", f"{target}s a week over the last {VOLUME_WEEKS} weeks"),
            ("age", "age at the cut"),
        ):
            print_board(
                f"seed {seed}, {target}: 80% coverage of the observed weeks by {title} (skills)",
                coverage_by_kind(per_skill, own_kind, by=by),
            )
        print_board(
            f"seed {seed}, {target}: gigcast's p50 over the next 13 weeks against the truth, by age",
            young_bias(forecasts, truth, own_kind, first=split.first_future),
        )
        wins = (
            trained.scores.filter(pl.col("target") == target)["model"]
            .str.replace(r"\(.*", "")
            .value_counts(sort=True)
        )
        print("chosen: " + ", ".join(f"{m} {n}" for m, n in wins.iter_rows()))
    return boards


def short_and_broken(options: argparse.Namespace) -> None:
    """13 weeks across a year end, one week half collected, asked a few weeks ahead: against naive."""
    end = date(2026, 2, 15) + timedelta(weeks=options.short_ahead)  # a Sunday
    weeks, ahead = options.short_weeks, options.short_ahead
    first_future = end - timedelta(days=6) - timedelta(weeks=ahead - 1)
    outage = Outage(start=first_future - timedelta(weeks=5) + timedelta(days=2), days=3)
    split = split_market(
        skills=options.skills, weeks=weeks, ahead=ahead, seed=options.seeds[0], end=end, outage=outage
    )
    trained = train(
        split.seen, taxonomy=load_taxonomy(), config=TrainConfig(horizon=52, workers=options.workers)
    )
    history, future = panels(split)["demand"]
    last = history.sort("week_start").group_by("skill").agg(naive=pl.col("value").last())
    scored = (
        future.join(last, on="skill")
        .join(gigcast_forecasts(trained.bundle, "demand"), on=["skill", "week_start"])
        .join(
            split.truth.select("skill", "week_start", truth="expected_postings"), on=["skill", "week_start"]
        )
    )
    ours = (scored["p50"] - scored["value"]).abs().mean()
    naive = (scored["naive"] - scored["value"]).abs().mean()
    ours_truth = (scored["p50"] - scored["truth"]).abs().mean()
    naive_truth = (scored["naive"] - scored["truth"]).abs().mean()
    gaps = trained.metrics.get("collection_gap_weeks", 0)
    print(
        f"\nshort and broken: {weeks} weeks to {first_future - timedelta(days=1)}, "
        f"an outage of {outage.days} days from {outage.start}, {ahead} weeks ahead; "
        f"served horizon {trained.bundle.manifest.horizon_weeks} weeks, partial weeks found {gaps:.0f}"
    )
    for against, gigcast, naive_mae in (
        ("the observed weeks", ours, naive),
        ("the truth", ours_truth, naive_truth),
    ):
        ratio = gigcast / naive_mae
        print(f"  demand MAE against {against}: gigcast {gigcast:.2f}, naive {naive_mae:.2f} ({ratio:.2f}x)")
    record("accuracy", "short and broken: demand MAE", float(ours), "", "naive", float(naive))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skills", type=int, default=100)
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--ahead", type=int, default=26)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--share", type=float, default=1.0, help="Keep this share of the postings: a smaller platform."
    )
    parser.add_argument(
        "--launches",
        type=float,
        default=LATE_SKILL_SHARE,
        help="Share of AI skills launched in the market's last fifth (with --ahead 13: young skills).",
    )
    parser.add_argument("--short-weeks", type=int, default=13)
    parser.add_argument("--short-ahead", type=int, default=4)
    parser.add_argument("--short-only", action="store_true", help="Only the short and broken scenario.")
    options = parser.parse_args()

    if not options.short_only:
        for seed in options.seeds:
            boards = run_seed(options, seed)
            for target, board in boards.items():
                ours = board.filter(pl.col("model") == GIGCAST).row(0, named=True)
                peers = board.filter(pl.col("model") != GIGCAST)
                for b in BUCKETS:
                    column = f"mase {b.name}"
                    if column in board.columns:
                        best = peers.sort(column).row(0, named=True)
                        record(
                            "accuracy",
                            f"seed {seed}{share_note(options.share)} {target} MASE vs truth, "
                            f"weeks {b.first}-{b.last}",
                            ours[column],
                            "",
                            f"best peer ({best['model']})",
                            best[column],
                        )
    short_and_broken(options)


if __name__ == "__main__":
    main()
