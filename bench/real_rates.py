"""Rate estimates on real postings: train on one Upwork export, ask about every hourly posting of a later one.

The two Upwork samples in ``../shared/data/real`` (2023-01-01 and 2023-01-03) are a real
train/test split. gigcast trains on the first; each hourly posting of the second asks
``EstimateRate`` as a user would, under the export's own labels: skill = the sub-category label,
level = tier, country = the client's country name. Reported: the share answered (and why not),
the share of rates inside p10-p90 (it should be 0.80) and the mean pinball loss of p10 and p90,
beside plain per-skill empirical quantiles of the training rows (the baseline a platform would
try first), overall, by level and by the country's region.

Usage: python bench/real_rates.py [--shared ../shared/data/real] [--workers 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from summary import record

from gigcast.countries import to_alpha2
from gigcast.lookup import ForecastIndex
from gigcast.taxonomy import load_taxonomy
from training.data.ingest import ingest
from training.data.normalise import level_of
from training.forecasting.backtest import pinball
from training.market.regions import region_of
from training.pipeline import TrainConfig, train

TRAIN_FILE = "upwork-2023-01-01-sample.csv"
TEST_FILE = "upwork-2023-01-03.csv"
LABEL, TIER, COUNTRY, RATE = (
    "occupations_oservice_pref_label",
    "tier",
    "client_location_country",
    "hourly_rate",
)


def hourly(path: Path) -> pl.DataFrame:
    """The export's hourly postings with a rate, as the export writes them."""
    return (
        pl.read_csv(path, infer_schema_length=0)
        .filter(pl.col("type") == "hourly")
        .select(
            label=LABEL, tier=TIER, country_name=COUNTRY, rate=pl.col(RATE).cast(pl.Float64, strict=False)
        )
        .filter(pl.col("rate").is_between(3, 1000) & pl.col("label").is_not_null())
    )


def scored(frame: pl.DataFrame, low: str, high: str) -> tuple[float, float]:
    """Share of rates inside [low, high], and the mean pinball loss of low as p10 and high as p90."""
    actual = frame["rate"].to_numpy()
    lows, highs = frame[low].to_numpy(), frame[high].to_numpy()
    inside = float(np.mean((actual >= lows) & (actual <= highs)))
    return inside, (pinball(actual, lows, 0.1) + pinball(actual, highs, 0.9)) / 2


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/real"
    )
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    if not (options.shared / TRAIN_FILE).is_file():
        print(f"{options.shared / TRAIN_FILE} is not here: real rates skipped")
        return

    read = ingest([options.shared / TRAIN_FILE], taxonomy=load_taxonomy())
    index = ForecastIndex(
        train(read.accepted, taxonomy=read.taxonomy, config=TrainConfig(workers=options.workers)).bundle
    )
    seen, asked = hourly(options.shared / TRAIN_FILE), hourly(options.shared / TEST_FILE)
    trained_labels = set(seen["label"])

    rows, unanswered = [], {"label not in training": 0, "label in training, not resolved": 0}
    for label, tier, country_name, rate in asked.iter_rows():
        entry = index.find_skill(label)
        if entry is None:
            unanswered[
                "label in training, not resolved" if label in trained_labels else "label not in training"
            ] += 1
            continue
        country = to_alpha2(country_name or "")
        level = level_of(tier)
        answer = index.estimate_rate(
            entry, level=level if level != "unknown" else None, country=country, offset=0
        )
        rows.append((label, level, region_of().get(country or "", "unknown"), rate, answer.p10, answer.p90))
    answers = pl.DataFrame(rows, schema=["label", "level", "region", "rate", "p10", "p90"], orient="row")
    empirical = seen.group_by("label").agg(q10=pl.col("rate").quantile(0.1), q90=pl.col("rate").quantile(0.9))
    answers = answers.join(empirical, on="label", how="left")

    in_training = asked.filter(pl.col("label").is_in(list(trained_labels))).height
    answered_known = in_training - unanswered["label in training, not resolved"]
    print(
        f"trained on {TRAIN_FILE} ({read.accepted.height:,} postings, data to {index.manifest.data_as_of}); "
        f"asked about the {asked.height:,} hourly postings of {TEST_FILE} by their own labels"
    )
    print(
        f"answered {answers.height:,} ({answers.height / asked.height:.1%}); of the {in_training:,} "
        f"whose label training saw, {answered_known / in_training:.1%}; not answered: "
        + ", ".join(f"{why} {n}" for why, n in unanswered.items())
    )
    compared = answers.drop_nulls("q10")  # the baseline answers only labels training saw with a rate
    header = (
        ("n", 6),
        ("gigcast cov", 12),
        ("pinball", 8),
        ("empirical cov", 14),
        ("pinball", 8),
        ("ratio", 6),
    )
    print("\n" + " " * 34 + "".join(f" {name:>{width}}" for name, width in header))
    groups = [("all", compared)]
    groups += [
        (f"level {k}", g) for (k,), g in sorted(compared.partition_by("level", as_dict=True).items(), key=str)
    ]
    groups += [
        (f"region {k}", g)
        for (k,), g in sorted(
            compared.partition_by("region", as_dict=True).items(), key=lambda kv: -kv[1].height
        )
    ][:6]
    for name, group in groups:
        ours, theirs = scored(group, "p10", "p90"), scored(group, "q10", "q90")
        print(
            f"{name:34} {group.height:6d} {ours[0]:12.3f} {ours[1]:8.3f} {theirs[0]:14.3f} {theirs[1]:8.3f} "
            f"{ours[1] / theirs[1]:6.2f}"
        )
    ours, theirs = scored(compared, "p10", "p90"), scored(compared, "q10", "q90")
    record("real rates", "share of known labels answered", answered_known / in_training, "share", "all", 1.0)
    record("real rates", "p10-p90 coverage", ours[0], "share", "per-skill empirical", theirs[0])
    record("real rates", "pinball loss", ours[1], "USD/h", "per-skill empirical", theirs[1])


if __name__ == "__main__":
    main()
