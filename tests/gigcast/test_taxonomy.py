from __future__ import annotations

from datetime import date

import pytest

from gigcast.countries import to_alpha2
from gigcast.taxonomy import UNCATEGORISED, SkillInfo, Taxonomy, slugify
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


def test_labels_add_skills_named_as_the_data_names_them(taxonomy: Taxonomy) -> None:
    extended = taxonomy.with_labels({"sql": "SQL", "quantum-knitting": "Quantum Knitting"})
    assert extended.get("sql") == taxonomy.get("sql")
    assert extended.get("quantum-knitting") == SkillInfo(
        "quantum-knitting", "Quantum Knitting", UNCATEGORISED
    )
    assert taxonomy.with_labels({"sql": "SQL"}) is taxonomy


def test_an_alias_that_is_a_skill_of_its_own_keeps_the_category_and_leaves_the_aliases(
    taxonomy: Taxonomy,
) -> None:
    sql = taxonomy.get("sql")
    extended = taxonomy.with_labels({"mysql": "MySQL", "postgresql": "PostgreSQL"})
    assert extended.get("mysql") == SkillInfo("mysql", "MySQL", sql.category)
    assert extended.get("postgresql").category == sql.category
    assert [a for a in sql.aliases if a not in extended.get("sql").aliases] == ["mysql", "postgresql"]
    # each name now answers for its own skill, in any spelling; the skill's other names stay its own
    assert [extended.resolve(name) for name in ("my-sql", "mysql", "POSTGRESQL", "SQL", "database")] == [
        None,
        "mysql",
        "postgresql",
        "sql",
        "sql",
    ]


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
