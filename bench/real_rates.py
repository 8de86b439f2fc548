"""Rate estimates on real postings: train on one Upwork export, ask about every hourly posting of a later one.

The two Upwork samples in ``../shared/data/real`` (2023-01-01 and 2023-01-03) are a real
train/test split. gigcast trains on the first; each hourly posting of the second asks
``EstimateRate`` for its skill, level and client country. Scored on the postings of skills the
model knows: the share whose rate falls inside p10-p90 (it should be 0.80) and the mean pinball
loss of p10 and p90, beside plain per-skill empirical quantiles of the training rows (the
baseline a platform would try first). One week of data is a cross-section, so time-series models
have nothing to race on here: this measures the spread and premiums the forecasts are served with.

Usage: python bench/real_rates.py [--shared ../shared/data/real] [--workers 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from summary import record

from gigcast.lookup import ForecastIndex
from gigcast.taxonomy import load_taxonomy
from training.forecasting.backtest import pinball
from training.ingest import ingest
from training.pipeline import TrainConfig, train

TRAIN_FILE = "upwork-2023-01-01-sample.csv"
TEST_FILE = "upwork-2023-01-03.csv"


def scored(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[float, float]:
    """Share inside [low, high], and the mean pinball loss of low as p10 and high as p90."""
    inside = float(np.mean((actual >= low) & (actual <= high)))
    return inside, (pinball(actual, low, 0.1) + pinball(actual, high, 0.9)) / 2


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

    taxonomy = load_taxonomy()
    seen = ingest([options.shared / TRAIN_FILE], taxonomy=taxonomy).accepted
    asked = ingest([options.shared / TEST_FILE], taxonomy=taxonomy).accepted
    index = ForecastIndex(train(seen, taxonomy=taxonomy, config=TrainConfig(workers=options.workers)).bundle)

    def rated(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("hourly_rate").is_not_null()).select(
            skill=pl.col("skills").list.first(),
            level="experience_level",
            country="country",
            rate="hourly_rate",
        )

    empirical = (
        rated(seen).group_by("skill").agg(q10=pl.col("rate").quantile(0.1), q90=pl.col("rate").quantile(0.9))
    )
    rows = []
    for skill, level, country, rate in rated(asked).iter_rows():
        entry = index.skills.get(skill)
        if entry is not None:
            answer = index.estimate_rate(entry, level=level, country=country, offset=0)
            rows.append((skill, rate, answer.p10, answer.p90))
    answers = pl.DataFrame(rows, schema=["skill", "rate", "p10", "p90"], orient="row").join(
        empirical, on="skill"
    )
    actual = answers["rate"].to_numpy()
    ours = scored(actual, answers["p10"].to_numpy(), answers["p90"].to_numpy())
    theirs = scored(actual, answers["q10"].to_numpy(), answers["q90"].to_numpy())
    print(
        f"trained on {TRAIN_FILE} ({seen.height:,} postings), asked about {len(rows):,} of the "
        f"{rated(asked).height:,} hourly postings of {TEST_FILE} (skills the model knows)"
    )
    print(f"{'':30} {'p10-p90 coverage':>17} {'pinball':>9}")
    print(f"{'gigcast EstimateRate':30} {ours[0]:17.3f} {ours[1]:9.3f}")
    print(f"{'per-skill empirical quantiles':30} {theirs[0]:17.3f} {theirs[1]:9.3f}")
    record("real rates", "p10-p90 coverage", ours[0], "share", "per-skill empirical", theirs[0])
    record("real rates", "pinball loss", ours[1], "USD/h", "per-skill empirical", theirs[1])


if __name__ == "__main__":
    main()
