"""The training job: postings in, a registered model version out, promoted when it beats the champion.

Ingest → check what was quarantined → train → write the bundle → log the run and register the
bundle → judge it against the champion → promote it. ``gigcast-train run`` and the benchmarks
call :func:`run_job`; what they show on the way comes through :class:`Hooks`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gigcast.bundle import write_bundle
from gigcast.settings import MODEL_NAME
from gigcast.taxonomy import Taxonomy
from training.data import incremental
from training.data.columns import Separator
from training.data.database import DatabaseSource, Source, named
from training.data.ingest import IngestResult, ingest
from training.data.limits import Limits
from training.data.quarantine import write_quarantine
from training.data.store import writing
from training.pipeline import TrainConfig, Trained, TrainingError, train
from training.plots import forecast_figures
from training.registry.promotion import Basis, Verdict, judge
from training.registry.tracking import (
    DamagedChampionError,
    Registered,
    champion,
    close_abandoned_runs,
    log_training,
    promote,
    record_verdict,
    skill_metrics,
)

__all__ = ["Hooks", "JobConfig", "JobResult", "run_job"]


def _nothing(_: object) -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class JobConfig:
    """What to train on, how, and where the run is logged."""

    sources: Sequence[Source]  # postings files or directories, database tables or queries
    taxonomy: Taxonomy
    tracking_uri: str
    model_name: str = MODEL_NAME
    columns: dict[str, str] = field(default_factory=dict)  # canonical column -> the export's own
    separator: Separator = Separator.AUTO
    limits: Limits = Limits()
    quarantine: Path | None = None  # where quarantined rows are written, with their reasons
    max_rejected: float = 0.2  # a larger share of rows quarantined stops the job
    train: TrainConfig = field(default_factory=TrainConfig)
    force_promote: bool = False  # promote even when the new version scores worse
    #: Accepted postings of earlier runs: the one database source is asked only for newer rows.
    store: Path | None = None
    full: bool = False  # read everything and fill the store anew
    tags: dict[str, str] = field(default_factory=dict)  # on the run: why it was trained, say

    def __post_init__(self) -> None:
        if self.store is not None and not (
            len(self.sources) == 1 and isinstance(self.sources[0], DatabaseSource)
        ):
            raise ValueError("a store is filled from one database source (postgresql://)")


@dataclass(frozen=True)
class Hooks:
    """What the job tells its caller as it goes; each does nothing unless given."""

    closed: Callable[[str], None] = _nothing  # a run left RUNNING by a killed trainer, now FAILED
    reading: Callable[[Sequence[Source]], None] = _nothing
    read: Callable[[IngestResult], None] = _nothing
    fitting: Callable[[int], None] = _nothing  # how many series are about to be fitted
    fitted: Callable[[int], None] = _nothing  # how many series were just fitted


@dataclass(frozen=True)
class JobResult:
    ingested: IngestResult
    trained: Trained
    registered: Registered
    verdict: Verdict
    promoted: bool
    champion_before: str | None  # the version that was champion when the job judged, if any


def run_job(config: JobConfig, *, hooks: Hooks = Hooks()) -> JobResult:
    """Train on ``config.sources``, log and register the result, and promote it when it is better.

    Raises IngestError when the input cannot be read, and TrainingError when too much of it was
    quarantined, none of it was accepted, or what was accepted cannot be trained on.
    """
    for run_id in close_abandoned_runs(tracking_uri=config.tracking_uri):
        hooks.closed(run_id)
    hooks.reading(config.sources)
    if config.store is None:
        ingested = _read(config, config.sources, config.taxonomy, hooks)
        postings, taxonomy, kept = ingested.accepted, ingested.taxonomy, {}
    else:
        with writing(config.store):  # one writer: the plan, the read and the commit see one store
            (source,) = config.sources
            assert isinstance(source, DatabaseSource)
            plan = incremental.plan(config.store, source, columns=config.columns, full=config.full)
            # the names the store's data keeps apart stay apart in weeks that hold only one of them
            known = config.taxonomy.with_labels(plan.before.labels) if plan.before else config.taxonomy
            ingested = _read(config, [plan.source], known, hooks)
            done = incremental.commit(config.store, plan, ingested, taxonomy=config.taxonomy)
        postings, taxonomy, kept = done.postings, done.taxonomy, done.params
    if postings.is_empty():
        raise TrainingError("no posting was accepted; see the reasons above")
    trained = train(
        postings,
        taxonomy=taxonomy,
        config=config.train,
        on_start=hooks.fitting,
        on_fitted=hooks.fitted,
    )
    registered = _log(config, ingested, trained, kept)
    uri, name = config.tracking_uri, config.model_name
    try:
        current = champion(tracking_uri=uri, model_name=name)
        verdict = judge(trained.holdout, trained.bundle.manifest, current[1] if current else None)
    except DamagedChampionError as exc:  # any whole version is better than one that cannot serve
        current = None
        verdict = Verdict(True, Basis.DAMAGED_CHAMPION, None, None, f"{exc}; the new version replaces it")
    promoted = verdict.promote or config.force_promote
    if promoted:
        promote(tracking_uri=uri, model_name=name, version=registered.version)
    record_verdict(tracking_uri=uri, run_id=registered.run_id, verdict=verdict, promoted=promoted)
    return JobResult(ingested, trained, registered, verdict, promoted, current[0] if current else None)


def _read(config: JobConfig, sources: Sequence[Source], taxonomy: Taxonomy, hooks: Hooks) -> IngestResult:
    """Ingest ``sources``, write the quarantine, and stop when too much of it was quarantined."""
    ingested = ingest(
        sources,
        taxonomy=taxonomy,
        columns=config.columns,
        limits=config.limits,
        separator=config.separator,
    )
    if config.quarantine is not None:
        write_quarantine(ingested.quarantined, config.quarantine)
    hooks.read(ingested)
    if ingested.rejected_share > config.max_rejected:
        raise TrainingError(
            f"{ingested.rejected_share:.1%} of rows were quarantined, more than --max-rejected "
            f"{config.max_rejected:.0%}; see the reasons above"
        )
    return ingested


def _log(config: JobConfig, ingested: IngestResult, trained: Trained, kept: dict[str, str]) -> Registered:
    """Log the run with its inputs, scores and plots, and register its bundle."""
    counts = {
        "ingest_rows": ingested.rows,
        "ingest_accepted": ingested.accepted.height,
        "ingest_quarantined": ingested.quarantined.height,
        **{f"quarantined_{reason}": n for reason, n in ingested.reasons().items()},
    }
    params = {
        **config.train.params(),
        "data": ", ".join(map(named, config.sources)),
        "min_rate": str(config.limits.min_rate),
        "max_rate": str(config.limits.max_rate),
        **kept,
    }
    if trained.reconciliation is not None:
        params["demand_reconciliation"] = str(trained.reconciliation)
    busiest = trained.bundle.skills.sort("postings", descending=True, maintain_order=True)["skill"][0]
    with tempfile.TemporaryDirectory() as folder:
        return log_training(
            tracking_uri=config.tracking_uri,
            model_name=config.model_name,
            bundle_dir=write_bundle(trained.bundle, Path(folder) / "bundle"),
            params=params,
            metrics={**trained.metrics, **{key: float(n) for key, n in counts.items()}},
            tables={"scores": trained.scores, "holdout": trained.holdout, "quarantine": ingested.quarantined},
            figures=forecast_figures(trained.scores, trained.history, trained.bundle),
            example_skill=busiest,
            tags=config.tags,
            skill_figures=skill_metrics(trained.scores),
        )
