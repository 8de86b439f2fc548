"""A file's version: what tells a read of one version from a read that mixed two."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from training.data.sources import SourceError, check_unchanged, head, version_of

WRITTEN_BEFORE = 1_700_000_000_000_000_000  # ns: an export written a while before it is read
ROWS = "posting_id,posted_at,skills\n1,2026-11-02,sql\n2,2026-11-03,rag\n"


def export(tmp_path: Path) -> Path:
    path = tmp_path / "p.csv"
    path.write_text(ROWS)
    os.utime(path, ns=(WRITTEN_BEFORE, WRITTEN_BEFORE))
    return path


def refused(path: Path) -> pytest.RaisesExc[SourceError]:
    return pytest.raises(SourceError, match=re.escape(f"{path}: changed while it was read; read it again"))


def test_reading_a_file_leaves_its_version_as_it_was(tmp_path: Path) -> None:
    path = export(tmp_path)
    version = version_of(path)
    assert head(path, 10, ["skills"])["skills"].to_list() == ["sql", "rag"]
    check_unchanged(path, version)


def test_a_rewrite_in_place_of_the_same_size_is_seen(tmp_path: Path) -> None:
    path = export(tmp_path)
    version = version_of(path)
    with path.open("r+") as file:  # the same bytes count, another row in the middle
        file.seek(ROWS.index("1,2026"))
        file.write("9")
    assert version_of(path).size == version.size
    with refused(path):
        check_unchanged(path, version)


def test_a_file_replaced_by_another_of_the_same_size_and_time_is_seen(tmp_path: Path) -> None:
    path = export(tmp_path)
    version = version_of(path)
    other = tmp_path / "other.csv"
    other.write_text(ROWS.replace("sql", "SQL"))
    os.utime(other, ns=(WRITTEN_BEFORE, WRITTEN_BEFORE))
    os.replace(other, path)  # as an exporter that writes beside and renames does
    with refused(path):
        check_unchanged(path, version)


def test_rows_appended_are_seen(tmp_path: Path) -> None:
    path = export(tmp_path)
    version = version_of(path)
    with path.open("a") as file:
        file.write("3,2026-11-04,sql\n")
    with refused(path):
        check_unchanged(path, version)
