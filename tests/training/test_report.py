from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.console import Console

from gigcast.taxonomy import Taxonomy
from training.data.ingest import ingest
from training.report import validation_table


def shown(tags: list[str], tmp_path: Path, taxonomy: Taxonomy) -> str:
    """The postings table of an ingest of one posting per tag, as ``validate`` prints it."""
    path = tmp_path / "p.csv"
    rows = {"posting_id": [str(i) for i in range(len(tags))], "posted_at": "2026-11-02", "skills": tags}
    pl.DataFrame(rows).write_csv(path)
    console = Console(width=200, record=True)
    console.print(validation_table(ingest([path], taxonomy=taxonomy)))
    return console.export_text()


def test_the_postings_table_names_the_aliases_set_aside(tmp_path: Path, taxonomy: Taxonomy) -> None:
    text = shown(["mysql", "mysql", "PostgreSQL", "Data Entry"], tmp_path, taxonomy)
    assert "aliases set aside" in text and "2: mysql (sql), PostgreSQL (sql)" in text
    more = shown(["mysql", "PostgreSQL", "Database", "SQL"], tmp_path, taxonomy)
    assert "3: Database (sql), PostgreSQL (sql), …" in more  # the rest are in validate --json
    assert "aliases set aside" not in shown(["mysql", "Data Entry"], tmp_path, taxonomy)
