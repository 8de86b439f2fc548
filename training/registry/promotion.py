"""Whether a newly trained model should replace the champion.

The fair test depends on what the champion has seen. When its data ends before the new run's
holdout (the last backtest fold), its stored forecasts for those weeks are out of sample: both
models are scored there, on the same weeks and skills, with the same MASE scales. Otherwise both
were backtested the same way on overlapping data, and their headline backtest MASE is compared.
Lower is better; the challenger must be strictly better.

Either way the data must be alike: a challenger holding fewer postings than the champion did in
the weeks both cover (a store half filled, a source cut short) scores on other data, however low
its MASE, and is not promoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from gigcast.bundle import Bundle, Manifest

HEADLINE = ("demand_mase", "rate_mase")
#: The share of the champion's postings, in the weeks both cover, that a challenger must hold for
#: their scores to be compared: rows deleted at the source since may take a little.
ALIKE_SHARE = 0.98


class Basis(StrEnum):
    """What a verdict was reached on."""

    NO_CHAMPION = "no champion"
    DAMAGED_CHAMPION = "damaged champion"  # its bundle cannot be served: any whole version replaces it
    HOLDOUT = "holdout"  # both models' forecasts of the new run's last backtest fold
    LESS_DATA = "less data"  # the new run holds fewer of the postings the champion was trained on
    BACKTEST = "backtest"  # both models' headline backtest MASE


@dataclass(frozen=True)
class Verdict:
    promote: bool
    basis: Basis
    challenger: float | None  # mean over targets of the median MASE over skills
    champion: float | None
    reason: str


def judge(holdout: pl.DataFrame, challenger: Manifest, champion: Bundle | None) -> Verdict:
    """Promote the challenger when there is no champion, or when it scores lower on alike data."""
    if champion is None:
        return Verdict(True, Basis.NO_CHAMPION, None, None, "there is no champion yet")
    thinner = less_data(challenger, champion.manifest)
    if thinner is not None:
        return Verdict(False, Basis.LESS_DATA, None, None, thinner)
    first = holdout["week_start"].min() if holdout.height else None
    if first is not None and champion.manifest.data_end < first:  # type: ignore[operator]
        scored = holdout_scores(holdout, champion)
        if scored is not None:
            return _compare(Basis.HOLDOUT, *scored)
    return _compare(Basis.BACKTEST, _headline(challenger.metrics), _headline(champion.manifest.metrics))


def less_data(challenger: Manifest, champion: Manifest) -> str | None:
    """Why the challenger's data is less than the champion's: it ends sooner, or holds fewer postings.

    Postings are counted over the weeks both data windows cover, so a source that drops its oldest
    weeks is still compared; a champion trained before the counts were kept has none to count.
    """
    if challenger.data_end < champion.data_end:
        return (
            f"the new run's data ends with the week of {challenger.data_end}, before the champion's "
            f"({champion.data_end}): its scores are of other weeks; train on the latest data, or "
            "--force-promote"
        )
    start, end = max(challenger.data_start, champion.data_start), min(challenger.data_end, champion.data_end)
    shared = [w for w in champion.postings_per_week if start.isoformat() <= w <= end.isoformat()]
    held = sum(champion.postings_per_week[w] for w in shared)
    holds = sum(challenger.postings_per_week.get(w, 0) for w in shared)
    if holds >= ALIKE_SHARE * held:
        return None
    missing = sum(1 for w in shared if w not in challenger.postings_per_week)
    return (
        f"the new run holds {holds:,} of the champion's {held:,} postings in the {len(shared)} weeks both "
        f"cover from {start} ({missing} of them missing): its scores are of other data; read the source "
        "whole (--full with a --store), or --force-promote"
    )


def holdout_scores(holdout: pl.DataFrame, champion: Bundle) -> tuple[float, float] | None:
    """MASE of the challenger's and the champion's forecasts on the weeks and skills both cover."""
    forecasts = pl.concat(
        [
            champion.demand.select("skill", "week_start", "p50", target=pl.lit("demand")),
            champion.rates.select("skill", "week_start", "p50", target=pl.lit("rate")),
        ]
    )
    joined = holdout.join(forecasts, on=["skill", "target", "week_start"]).filter(pl.col("scale") > 0)
    if joined.is_empty():
        return None
    per_series = joined.group_by("skill", "target").agg(
        challenger=(pl.col("actual") - pl.col("predicted")).abs().mean() / pl.col("scale").first(),
        champion=(pl.col("actual") - pl.col("p50")).abs().mean() / pl.col("scale").first(),
    )
    per_target = per_series.group_by("target").agg(pl.col("challenger", "champion").median())
    return float(per_target["challenger"].mean()), float(per_target["champion"].mean())  # type: ignore[arg-type]


def _headline(metrics: dict[str, float]) -> float | None:
    values = [metrics[key] for key in HEADLINE if key in metrics]
    return sum(values) / len(values) if values else None


def _compare(basis: Basis, challenger: float | None, champion: float | None) -> Verdict:
    if champion is None:
        return Verdict(True, basis, challenger, None, "the champion has no score to defend")
    if challenger is None:
        return Verdict(False, basis, None, champion, "the new model has no score to compare")
    better = challenger < champion
    word = "beats" if better else "does not beat"
    reason = f"on the {basis}, MASE {challenger:.3f} {word} the champion's {champion:.3f}"
    return Verdict(better, basis, challenger, champion, reason)
