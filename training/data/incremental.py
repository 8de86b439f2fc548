"""A database source read through a store: what to ask the database for, and what to keep.

:func:`plan` asks the source how many rows each week of ``posted_at`` holds (one query sending
back a number per week) and reads again, whole, the weeks from the store's watermark less a week
on and every earlier week whose count is not the one read last time: rows inserted late, deleted,
or moved to another week change a count. :func:`commit` puts that read into the store and returns
every posting stored, which are the rows a full read gives. What leaves an older week's count
as it was (a row changed in place, as many rows deleted as inserted, other ingestion flags since
the week was read) is read by ``--full``.

Both run while the caller holds the store's lock (:func:`training.data.store.writing`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import polars as pl

from gigcast.taxonomy import Taxonomy
from training.data.columns import resolve
from training.data.database import DatabaseSource, Weeks, Window, column_names, week_counts
from training.data.ingest import IngestResult
from training.data.store import State, StoreError, read_state, stored, write

__all__ = ["Plan", "Stored", "commit", "plan"]


@dataclass(frozen=True)
class Plan:
    source: DatabaseSource  # asking only for the weeks to read
    before: State | None  # the store as it was; None: filled anew
    window: Window
    counts: dict[date, int]  # the source's rows per week, as the plan found them


@dataclass(frozen=True)
class Stored:
    postings: pl.DataFrame  # every posting the store holds after the read
    taxonomy: Taxonomy  # with the names the data gave skills the taxonomy lacks
    params: dict[str, str]  # what the run logs of the store


def plan(store: Path, source: DatabaseSource, *, columns: dict[str, str], full: bool) -> Plan:
    """What to read of ``source`` into ``store``: everything when ``full`` or the store is new."""
    before = None if full else read_state(store)
    if before is not None and before.source != source.label:
        raise StoreError(
            f"{store} holds postings of {before.source}, not of {source.label}; "
            "use another --store, or --full to fill it anew"
        )
    found = resolve(column_names(source), columns, where=source.label)
    if "posted_at" not in found:
        raise StoreError(f"{source.label}: no posted_at column to read rows by")
    kind, counts = week_counts(source, found["posted_at"])
    window = Window() if before is None else before.window(counts)
    read = replace(source, within=Weeks(found["posted_at"], kind, window)) if before else source
    return Plan(read, before, window, counts)


def commit(store: Path, plan: Plan, ingested: IngestResult, *, taxonomy: Taxonomy) -> Stored:
    """Write what ``plan`` read (``ingested``) into the store; every posting it then holds."""
    known = {skill.id for skill in taxonomy.skills}
    labels = {s.id: s.display_name for s in ingested.taxonomy.skills if s.id not in known}
    state = write(
        store,
        before=plan.before,
        source=plan.source.label,
        accepted=ingested.accepted,
        window=plan.window,
        counts=plan.counts,
        labels=labels,
    )
    postings = stored(store, state)
    since = plan.window.since
    params = {
        "store": str(store),
        "read_since": since.isoformat() if since else "everything",
        "read_weeks_changed": str(len(plan.window.weeks)),
        "watermark": state.watermark.isoformat() if state else "",
        "store_postings": str(postings.height),
    }
    return Stored(postings, taxonomy.with_labels(state.labels if state else {}), params)
