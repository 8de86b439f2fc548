"""The training job: postings in, a registered model version out, promoted when it beats the champion.

Ingest → check what was quarantined → train → write the bundle → log the run and register the
bundle → judge it against the champion → promote it. ``gigcast-train run`` and the benchmarks
call :func:`run_job`; what they show on the way comes through :class:`Hooks`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import polars as pl

from gigcast.bundle import write_bundle
from gigcast.settings import MODEL_NAME
from gigcast.taxonomy import Taxonomy
from training.data.columns import Separator, resolve
from training.data.database import DatabaseSource, Source, column_names, named
from training.data.ingest import IngestResult, ingest, write_quarantine
from training.data.limits import Limits
from training.data.store import OVERLAP, StoreError, clear, merge, read_state, stored
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
    sources, read_since = _incremental(config) if config.store else (config.sources, None)
    ingested = ingest(
        sources,
        taxonomy=config.taxonomy,
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
    kept: dict[str, str] = {}  # what the run logs of the store
    postings, taxonomy = ingested.accepted, ingested.taxonomy
    if config.store is not None:
        postings, taxonomy, kept = _kept(config, config.store, ingested, read_since)
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
        verdict = judge(trained.holdout, trained.metrics, current[1] if current else None)
    except DamagedChampionError as exc:  # any whole version is better than one that cannot serve
        current = None
        verdict = Verdict(True, Basis.DAMAGED_CHAMPION, None, None, f"{exc}; the new version replaces it")
    promoted = verdict.promote or config.force_promote
    if promoted:
        promote(tracking_uri=uri, model_name=name, version=registered.version)
    record_verdict(tracking_uri=uri, run_id=registered.run_id, verdict=verdict, promoted=promoted)
    return JobResult(ingested, trained, registered, verdict, promoted, current[0] if current else None)


def _incremental(config: JobConfig) -> tuple[list[Source], datetime | None]:
    """The database source, asked only for rows since the store's watermark less the overlap."""
    assert config.store is not None
    (source,) = config.sources
    assert isinstance(source, DatabaseSource)
    state = None if config.full else read_state(config.store)
    if state is None:
        return [source], None
    if state.source != source.label:
        raise StoreError(
            f"{config.store} holds postings of {state.source}, not of {source.label}; "
            "use another --store, or --full to fill it anew"
        )
    found = resolve(column_names(source), config.columns, where=source.label)
    if "posted_at" not in found:
        raise StoreError(f"{source.label}: no posted_at column to read new rows by")
    since = state.watermark - OVERLAP
    return [replace(source, since=(found["posted_at"], since))], since


def _kept(
    config: JobConfig, store: Path, ingested: IngestResult, read_since: datetime | None
) -> tuple[pl.DataFrame, Taxonomy, dict[str, str]]:
    """The rows read merged into the store; every stored posting, its taxonomy, what to log of it."""
    (source,) = config.sources
    known = {skill.id for skill in config.taxonomy.skills}
    labels = {s.id: s.display_name for s in ingested.taxonomy.skills if s.id not in known}
    if config.full:  # only now that the new read is whole
        clear(store)
    state = merge(store, source=named(source), accepted=ingested.accepted, labels=labels)
    postings = stored(store)
    logged = {
        "store": str(store),
        "read_since": read_since.isoformat() if read_since else "everything",
        "watermark": state.watermark.isoformat() if state else "",
        "store_postings": str(postings.height),
    }
    return postings, config.taxonomy.with_labels(state.labels if state else {}), logged


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
    with tempfile.TemporaryDirectory() as folder:
        return log_training(
            tracking_uri=config.tracking_uri,
            model_name=config.model_name,
            bundle_dir=write_bundle(trained.bundle, Path(folder) / "bundle"),
            params=params,
            metrics={**trained.metrics, **{key: float(n) for key, n in counts.items()}},
            tables={"scores": trained.scores, "holdout": trained.holdout, "quarantine": ingested.quarantined},
            figures=forecast_figures(trained.scores, trained.history, trained.bundle),
            example_skill=trained.bundle.skills["skill"][0],
            tags=config.tags,
            skill_figures=skill_metrics(trained.scores),
        )
