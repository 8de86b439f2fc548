from __future__ import annotations

from datetime import date

import pytest

from gigcast.countries import to_alpha2
from gigcast.taxonomy import UNCATEGORISED, Taxonomy, slugify
from gigcast.weeks import monday_of


@pytest.mark.parametrize(
    ("tag", "skill"),
    [
        ("prompt-engineering", "prompt-engineering"),
        ("Prompt Engineering", "prompt-engineering"),
        ("PROMPT ENGINEER", "prompt-engineering"),
        ("Power BI", "microsoft-power-bi"),
        ("  retrieval augmented generation ", "rag-development"),
    ],
)
def test_names_and_aliases_resolve(taxonomy: Taxonomy, tag: str, skill: str) -> None:
    assert taxonomy.resolve(tag) == skill


def test_unknown_tag_becomes_its_own_slug(taxonomy: Taxonomy) -> None:
    assert taxonomy.resolve("Quantum Basket Weaving") is None
    assert taxonomy.canonical("Quantum Basket Weaving") == "quantum-basket-weaving"
    assert taxonomy.get("quantum-basket-weaving").category == UNCATEGORISED


def test_shipped_taxonomy_has_unique_ids_and_names(taxonomy: Taxonomy) -> None:
    ids = [s.id for s in taxonomy.skills]
    assert len(ids) == len(set(ids)) >= 90
    assert all(slugify(s.id) == s.id for s in taxonomy.skills)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("PL", "PL"),
        ("pl", "PL"),
        ("Poland", "PL"),
        ("POL", "PL"),
        ("United States", "US"),
        ("Narnia", None),
        ("", None),
    ],
)
def test_countries_resolve_exactly(text: str, code: str | None) -> None:
    assert to_alpha2(text) == code


def test_weeks_start_on_monday() -> None:
    assert monday_of(date(2026, 11, 29)) == date(2026, 11, 23)  # a Sunday
    assert monday_of(date(2026, 11, 23)) == date(2026, 11, 23)
