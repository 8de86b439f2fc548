"""The monitoring job: a registered version scored on the weeks that landed after its data.

Ingest → fetch the version with its backtest → score the new weeks → log a monitoring run
linked to the version, and keep its headline on the version. ``gigcast-train monitor`` calls
:func:`run_monitor`; ``gigcast-train run --if-drifted`` asks :func:`retrain_decision`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

import polars as pl

from gigcast.bundle import Target
from gigcast.monitored import Monitored
from gigcast.registry import version_by_alias
from gigcast.settings import CHAMPION_ALIAS, MODEL_NAME
from gigcast.taxonomy import Taxonomy
from training.data.columns import Separator
from training.data.database import Source, named
from training.data.ingest import IngestResult, ingest
from training.data.limits import Limits
from training.data.panels import demand_panel, rate_observations, rate_panel, within
from training.monitoring.drift import Drift, score
from training.monitoring.limits import DriftLimits
from training.plots import drift_figure
from training.registry.monitoring import Scored, log_monitoring, scored_version
from training.registry.tracking import RegistryError, checked, skill_metrics

__all__ = [
    "RETRAINED_FOR",
    "MonitorConfig",
    "MonitorResult",
    "RetrainDecision",
    "RetrainedFor",
    "retrain_decision",
    "run_monitor",
]

#: Series drawn in the monitoring run's plot: the drifted first, then the worst by MASE ratio.
PLOTTED = 4
#: Weeks before the forecast drawn beside it.
HISTORY_WEEKS = 26


@dataclass(frozen=True, kw_only=True)
class MonitorConfig:
    """What to score a version on, and when to call it drift."""

    sources: Sequence[Source]
    taxonomy: Taxonomy
    tracking_uri: str
    model_name: str = MODEL_NAME
    version: str | None = None  # None: the champion
    columns: dict[str, str] = field(default_factory=dict)
    separator: Separator = Separator.AUTO
    limits: Limits = Limits()
    drift: DriftLimits = DriftLimits()


@dataclass(frozen=True)
class MonitorResult:
    ingested: IngestResult
    version: str
    drift: Drift
    run_id: str


def run_monitor(config: MonitorConfig) -> MonitorResult:
    """Score the version on the new weeks of ``config.sources`` and log the monitoring run.

    Raises IngestError when the input cannot be read, RegistryError when the version cannot be
    had, and MonitoringError when the data holds nothing to score it on.
    """
    scored = scored_version(
        tracking_uri=config.tracking_uri, model_name=config.model_name, version=config.version
    )
    ingested = ingest(
        config.sources,
        taxonomy=config.taxonomy,
        columns=config.columns,
        limits=config.limits,
        separator=config.separator,
    )
    drift = score(
        scored.bundle,
        backtest=scored.backtest,
        holdout=scored.holdout,
        postings=ingested.accepted,
        limits=config.drift,
    )
    run_id = log_monitoring(
        tracking_uri=config.tracking_uri,
        scored=scored.version,
        monitored=_headline(drift),
        params={
            "data": ", ".join(map(named, config.sources)),
            "weeks": f"{drift.weeks[0]} to {drift.weeks[-1]}",
            "max_coverage_drop": str(config.drift.max_coverage_drop),
            "max_mase_ratio": str(config.drift.max_mase_ratio),
        },
        metrics=drift.metrics() | skill_metrics(drift.series),
        tables={"monitoring": drift.series, "headline": drift.headline},
        figures={"worst": drift_figure(drift.points, _history(scored, ingested.accepted), _worst(drift))},
    )
    return MonitorResult(ingested, scored.version.version, drift, run_id)


def _worst(drift: Drift, count: int = PLOTTED) -> pl.DataFrame:
    """The series that did worst: the drifted first, then by MASE against their backtest's."""
    return drift.series.sort("drifted", "mase_ratio", descending=True, nulls_last=True).head(count)


def _headline(drift: Drift) -> Monitored:
    rows = {Target(row["target"]): row for row in drift.headline.iter_rows(named=True)}
    return Monitored(
        run_id="",
        through=drift.weeks[-1],
        drifted=drift.drifted,
        coverage={target: row["coverage_80"] for target, row in rows.items()},
        mase_ratio={
            target: row["mase_ratio"] for target, row in rows.items() if row["mase_ratio"] is not None
        },
    )


def _history(scored: Scored, postings: pl.DataFrame) -> pl.DataFrame:
    """The weeks before the version's forecast, per series: skill, target, week_start, value."""
    end = scored.bundle.manifest.data_end
    before = within(postings, end - timedelta(weeks=HISTORY_WEEKS - 1), end)
    if before.is_empty():
        return pl.DataFrame(
            schema={"skill": pl.String, "target": pl.String, "week_start": pl.Date, "value": pl.Float64}
        )
    return pl.concat(
        [
            demand_panel(before, end=end).select(
                "skill",
                target=pl.lit(str(Target.DEMAND)),
                week_start="week_start",
                value=pl.col("postings").cast(pl.Float64),
            ),
            rate_panel(rate_observations(before)).select(
                "skill", target=pl.lit(str(Target.RATE)), week_start="week_start", value="rate"
            ),
        ]
    )


#: The tag of a run ``run --if-drifted`` trained: why it did.
RETRAINED_FOR = "gigcast.retrained_for"


class RetrainedFor(StrEnum):
    """Why ``run --if-drifted`` trained, as its run's ``gigcast.retrained_for`` tag says."""

    DRIFT = "drift"
    DAMAGED_CHAMPION = "damaged champion"  # its bundle cannot be served


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str
    tags: dict[str, str] = field(default_factory=dict)  # what the new run is tagged with: why it was trained


def retrain_decision(*, tracking_uri: str, model_name: str) -> RetrainDecision:
    """Whether the champion's latest monitoring found drift (or there is no champion to keep).

    A champion whose bundle cannot be served is replaced, as if there were none: monitoring
    cannot score it, so waiting for its drift would leave it in place for good.
    """
    champion = version_by_alias(tracking_uri=tracking_uri, name=model_name, alias=CHAMPION_ALIAS)
    if champion is None:
        return RetrainDecision(True, f"{model_name} has no @{CHAMPION_ALIAS} yet")
    try:
        checked(tracking_uri, champion)
    except RegistryError as exc:
        return RetrainDecision(
            True,
            f"@{CHAMPION_ALIAS} is {exc}: training a version to replace it",
            {RETRAINED_FOR: RetrainedFor.DAMAGED_CHAMPION, "gigcast.damaged_version": champion.version},
        )
    monitored = Monitored.from_tags(champion.tags)
    if monitored is None:
        return RetrainDecision(
            False,
            f"@{CHAMPION_ALIAS} (version {champion.version}) has not been monitored yet: "
            "run gigcast-train monitor first; nothing to train",
        )
    seen = f"monitoring run {monitored.run_id} through the week of {monitored.through}"
    if not monitored.drifted:
        return RetrainDecision(
            False,
            f"@{CHAMPION_ALIAS} (version {champion.version}) has not drifted ({seen}): nothing to train",
        )
    return RetrainDecision(
        True,
        f"@{CHAMPION_ALIAS} (version {champion.version}) drifted ({seen})",
        {
            RETRAINED_FOR: RetrainedFor.DRIFT,
            "gigcast.drifted_version": champion.version,
            "gigcast.monitoring_run": monitored.run_id,
        },
    )
