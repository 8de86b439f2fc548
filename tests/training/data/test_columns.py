from __future__ import annotations

from pathlib import Path

import pytest

from training.data.columns import ColumnError, load_mapping, parse_pairs, resolve

UPWORK_2023 = [
    "uid",
    "published_on",
    "title",
    "hourly_rate",
    "type",
    "amount_amount",
    "tier",
    "client_location_country",
    "occupations_category_pref_label",
    "occupations_oservice_pref_label",
]


def test_common_export_names_are_recognised() -> None:
    found = resolve(UPWORK_2023, {}, where="f")
    assert found == {
        "posting_id": "uid",
        "posted_at": "published_on",
        "skills": "occupations_oservice_pref_label",
        "title": "title",
        "category": "occupations_category_pref_label",
        "hourly_rate": "hourly_rate",
        "is_hourly": "type",
        "budget_usd": "amount_amount",
        "experience_level": "tier",
        "country": "client_location_country",
    }


def test_names_match_in_any_case_and_explicit_mapping_wins() -> None:
    found = resolve(["ID", "Posted_At", "Created_On", "Skills"], {"posted_at": "Created_On"}, where="f")
    assert found["posting_id"] == "ID"
    assert found["posted_at"] == "Created_On"
    assert found["skills"] == "Skills"


def test_a_source_column_serves_one_canonical_column_only() -> None:
    found = resolve(["link", "posted_date", "skills"], {"posting_id": "posted_date"}, where="f")
    assert found["posting_id"] == "posted_date"
    assert "posted_at" not in found


def test_a_mapping_to_a_missing_column_is_named() -> None:
    with pytest.raises(ColumnError, match="no column 'when' \\(mapped to posted_at\\)"):
        resolve(["id"], {"posted_at": "when"}, where="f")


@pytest.mark.parametrize("pair", ["posted_at", "posted_at=", "=x", "when=x"])
def test_malformed_pairs_are_refused(pair: str) -> None:
    with pytest.raises(ColumnError):
        parse_pairs([pair])


def test_mapping_file_is_a_saved_profile(tmp_path: Path) -> None:
    path = tmp_path / "upwork-rss.toml"
    path.write_text('# Upwork RSS\n[columns]\nposting_id = "link"\nposted_at = "posted_date"\n')
    assert load_mapping(path) == {"posting_id": "link", "posted_at": "posted_date"}
    path.write_text("[columns]\nwhen = 'x'\n")
    with pytest.raises(ColumnError, match="'when' is not a posting column"):
        load_mapping(path)
