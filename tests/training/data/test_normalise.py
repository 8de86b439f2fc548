from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gigcast.names import name_key
from gigcast.taxonomy import SkillInfo, Taxonomy, slugify
from training.data import normalise
from training.data.columns import Separator

TEXT = pl.String()


def apply(values: list[object], expr: pl.Expr, dtype: pl.DataType = TEXT) -> list[object]:
    return pl.DataFrame({"x": values}, schema={"x": dtype}).select(expr.alias("y"))["y"].to_list()


@pytest.mark.parametrize(
    ("separator", "cell", "tags"),
    [
        (Separator.LITERAL, "['Microsoft Power BI', 'SQL']", ["Microsoft Power BI", "SQL"]),
        (Separator.SEMICOLON, "rag; langchain", ["rag", " langchain"]),
        (Separator.COMMA, "Excel, SQL", ["Excel", " SQL"]),
        (Separator.PIPE, "Excel|SQL", ["Excel", "SQL"]),
        (Separator.NONE, "Email, Phone & Chat Support", ["Email, Phone & Chat Support"]),
        (Separator.COMMA, "single", ["single"]),
    ],
)
def test_skill_tags_as_the_column_separates_them(
    taxonomy: Taxonomy, separator: Separator, cell: str, tags: list[str]
) -> None:
    assert apply([cell], normalise.skill_tags(pl.col("x"), TEXT, separator, taxonomy)) == [tags]


def test_a_list_column_is_taken_as_listed(taxonomy: Taxonomy) -> None:
    tags = normalise.skill_tags(pl.col("x"), pl.List(pl.String), Separator.COMMA, taxonomy)
    assert apply([["a, b", "c"]], tags, pl.List(pl.String)) == [["a, b", "c"]]


def test_a_label_the_taxonomy_knows_whole_is_never_split(taxonomy: Taxonomy) -> None:
    known = Taxonomy([*taxonomy.skills, SkillInfo("phone-support", "Email, Phone & Chat Support", "support")])
    tags = normalise.skill_tags(pl.col("x"), TEXT, Separator.COMMA, known)
    assert apply(["Email, Phone & Chat Support", "Excel, SQL"], tags) == [
        ["Email, Phone & Chat Support"],
        ["Excel", " SQL"],
    ]


def test_commas_separate_only_where_their_parts_recur(taxonomy: Taxonomy) -> None:
    tags = pl.Series(["Python, SQL", "SQL", "Python, Excel", "Excel, SQL", "Python"] * 20)
    labels = pl.Series(
        ["Email, Phone & Chat Support", "Web Design", "Other Marketing, PR & Brand Strategy"] * 20
    )
    assert normalise.separator_of(tags, taxonomy) == Separator.COMMA
    assert normalise.separator_of(labels, taxonomy) == Separator.NONE
    assert normalise.separator_of(pl.Series(["rag;langchain", "rag"]), taxonomy) == Separator.SEMICOLON
    assert normalise.separator_of(pl.Series(["['a', 'b']", "['a']"]), taxonomy) == Separator.LITERAL
    assert normalise.separator_of(pl.Series([None, " "], dtype=pl.String), taxonomy) == Separator.NONE


def test_tags_map_to_taxonomy_ids_then_slugs(taxonomy: Taxonomy) -> None:
    tags = normalise.skill_tags(pl.col("x"), TEXT, Separator.SEMICOLON, taxonomy)
    raw = ["Power BI; power-bi ; Quantum Knitting;;", None]
    distinct = [t for row in apply(raw, tags) if row for t in row]
    ids = normalise.resolve_tags(distinct, taxonomy).ids
    assert ids[" power-bi "] == "microsoft-power-bi" and ids[""] is None
    got = apply(raw, normalise.canonical_skills(tags, ids))
    assert got == [["microsoft-power-bi", "quantum-knitting"], []]


def test_one_label_alone_maps_onto_the_taxonomy_skill_it_names(taxonomy: Taxonomy) -> None:
    labels = normalise.resolve_tags(["MySQL", "Quantum Knitting"], taxonomy)
    assert taxonomy.resolve("MySQL") == "sql"  # an alias
    assert labels.ids == {"MySQL": "sql", "Quantum Knitting": "quantum-knitting"}
    assert labels.names == {"sql": "MySQL", "quantum-knitting": "Quantum Knitting"}
    assert labels.set_aside == ()


def test_two_labels_an_alias_would_merge_are_kept_apart(taxonomy: Taxonomy) -> None:
    labels = normalise.resolve_tags(["mysql", " PostgreSQL", "Python"], taxonomy)
    assert labels.ids == {"mysql": "mysql", " PostgreSQL": "postgresql", "Python": "python"}
    assert labels.names == {"mysql": "mysql", "postgresql": "PostgreSQL", "python": "Python"}
    assert labels.set_aside == (
        normalise.SetAside("mysql", "mysql", "sql", ("PostgreSQL",)),
        normalise.SetAside("PostgreSQL", "postgresql", "sql", ("mysql",)),
    )


def test_spellings_of_one_label_are_one_label(taxonomy: Taxonomy) -> None:
    # most common first: the first spelling names the label, and a skill of its own takes its slug
    labels = normalise.resolve_tags(
        ["MySQL", "mysql ", "MY-SQL", "Quantum Knittings", "quantum knitting"], taxonomy
    )
    assert labels.ids == {
        "MySQL": "sql",
        "mysql ": "sql",
        "MY-SQL": "my-sql",  # another name: "my sql", not "mysql"
        "Quantum Knittings": "quantum-knittings",
        "quantum knitting": "quantum-knittings",
    }
    assert labels.set_aside == ()


def test_the_skills_own_name_wins_it_and_its_aliases_are_kept_apart(taxonomy: Taxonomy) -> None:
    labels = normalise.resolve_tags(["mysql", "SQL", "Structured Query Language"], taxonomy)
    assert labels.ids == {
        "mysql": "mysql",
        "SQL": "sql",
        "Structured Query Language": "structured-query-language",
    }
    assert [(s.label, s.beside) for s in labels.set_aside] == [
        ("mysql", ("SQL", "Structured Query Language")),
        ("Structured Query Language", ("mysql", "SQL")),
    ]
    # a skill's id and its display name are both its own, however they differ
    own = normalise.resolve_tags(["Microsoft Azure", "azure", "Azure Cloud"], taxonomy)
    assert own.ids == {"Microsoft Azure": "azure", "azure": "azure", "Azure Cloud": "azure-cloud"}
    assert own.names["azure"] == "Microsoft Azure"


def test_a_label_whose_slug_another_skill_holds_stays_with_the_skill_it_names() -> None:
    # "SQL" is an alias of databases, and "sql" the id of another skill: as a skill of its own it
    # would be merged into that one, so it stays where the taxonomy maps it
    taxonomy = Taxonomy(
        [
            SkillInfo("databases", "Databases", "data", ("SQL", "NoSQL")),
            SkillInfo("sql", "Structured Query Language", "data"),
        ]
    )
    labels = normalise.resolve_tags(["SQL", "NoSQL"], taxonomy)
    assert labels.ids == {"SQL": "databases", "NoSQL": "nosql"}
    assert [s.label for s in labels.set_aside] == ["NoSQL"]


#: Names of three skills (ids, display names, aliases) and two the taxonomy lacks.
NAMES = (
    *("sql", "SQL", "mysql", "PostgreSQL", "database"),
    *("azure", "Microsoft Azure", "azure cloud", "azure developer"),
    *("Python", "python3", "Python Developer"),
    *("Quantum Knitting", "Bread Folding"),
)
SPELLINGS = st.tuples(st.sampled_from(NAMES), st.sampled_from((str, str.upper, str.lower, " {} ".format)))


@settings(max_examples=200, deadline=None)
@given(st.lists(SPELLINGS.map(lambda spelt: spelt[1](spelt[0])), unique=True, max_size=12))
def test_labels_share_a_skill_only_when_they_are_its_own_names(taxonomy: Taxonomy, tags: list[str]) -> None:
    labels = normalise.resolve_tags(tags, taxonomy)
    keys = {tag: name_key(tag) for tag in tags}
    naming = {taxonomy.resolve(tag) for tag in tags}
    for tag in tags:
        skill, named = labels.ids[tag], taxonomy.resolve(tag)
        alone = len({keys[other] for other in tags if taxonomy.resolve(other) == named}) == 1
        own = keys[tag] in {name_key(named), name_key(taxonomy.get(named).display_name)} if named else False
        # onto the taxonomy's skill when the label is the only one naming it or is its own name
        assert skill == (named if named and (alone or own) else slugify(tag)), tag
        assert skill not in naming - {named}  # never onto another taxonomy skill
        for other in tags:
            if labels.ids[other] == skill and keys[other] != keys[tag]:  # two labels, one skill:
                assert skill == named and own  # only the skill's own names
    assert set(labels.names) == set(labels.ids.values())
    assert {s.label for s in labels.set_aside} == {
        labels.names[skill] for tag, skill in labels.ids.items() if taxonomy.resolve(tag) not in (skill, None)
    }


def test_skills_in_titles_match_on_word_boundaries(taxonomy: Taxonomy) -> None:
    titles = [
        "Power BI dashboard for sales",
        "Paint my garden fence",
        "Prompt engineering + RAG pipeline",
        None,
    ]
    named = normalise.named_in(pl.col("x"), taxonomy)
    assert apply(titles, named) == [["power bi", "dashboard"], [], ["prompt engineering", "rag pipeline"], []]
    found = normalise.resolve_tags([], taxonomy).found(
        ["power bi", "dashboard", "prompt engineering", "rag pipeline"], taxonomy
    )
    assert apply(titles, normalise.canonical_skills(named, found)) == [
        ["microsoft-power-bi", "data-visualization"],
        [],
        ["prompt-engineering", "rag-development"],
        [],
    ]


def test_a_label_set_aside_is_its_own_skill_in_free_text_too(taxonomy: Taxonomy) -> None:
    labels = normalise.resolve_tags(["MySQL", "PostgreSQL"], taxonomy)
    assert labels.found(["mysql", "sql", "database"], taxonomy) == {
        "mysql": "mysql",
        "sql": "sql",
        "database": "sql",
    }


def test_numbers_tell_absent_from_broken() -> None:
    got = apply(["$1,200.50", " 30 ", "", None, "negotiable"], normalise.numbers(pl.col("x"), pl.String()))
    assert got[:4] == [1200.5, 30.0, None, None]
    assert got[4] != got[4]  # NaN


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("Entry level", "entry"),
        ("EXPERT", "expert"),
        ("intermediate", "intermediate"),
        ("Senior", "expert"),
        ("", None),
        (None, None),
        ("guru", "unknown"),
    ],
)
def test_levels(text: str | None, level: str | None) -> None:
    assert normalise.level_of(text) == level


def test_hourly_flags_and_plain_text() -> None:
    flags = ["True", "hourly", "fixed_budget", "no_budget", "maybe", None]
    assert [normalise.hourly_of(f) for f in flags] == [True, True, False, False, None, None]
    assert normalise.plain_text("Scripting &amp; Automation") == "Scripting & Automation"
    assert normalise.plain_text("<b>Posted</b>: now") == "Posted : now"


def test_layouts_are_tried_in_order_of_fit() -> None:
    sample = pl.Series(["2024-05-13T09:46:00"] * 5 + ["2024-05-13"])
    assert normalise.layouts_by_fit(sample)[0] == "%Y-%m-%dT%H:%M:%S%.f"
    got = apply(
        ["2024-05-13T09:46:00", "2024-05-13"],
        normalise.timestamps(pl.col("x"), pl.String(), layouts=normalise.layouts_by_fit(sample)),
    )
    assert got == [datetime(2024, 5, 13, 9, 46, tzinfo=UTC), datetime(2024, 5, 13, tzinfo=UTC)]


def test_epoch_milliseconds_and_seconds() -> None:
    got = apply([1672594409972, 1672594409], normalise.timestamps(pl.col("x"), pl.Int64()), pl.Int64())
    assert got == [
        datetime(2023, 1, 1, 17, 33, 29, 972000, tzinfo=UTC),
        datetime(2023, 1, 1, 17, 33, 29, tzinfo=UTC),
    ]


LAYOUTS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


@settings(max_examples=80, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.sampled_from(LAYOUTS),
)
def test_timestamps_read_back_what_was_written(moment: datetime, layout: str) -> None:
    got = apply([moment.strftime(layout)], normalise.timestamps(pl.col("x"), pl.String()))
    assert got == [moment.replace(tzinfo=UTC)]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=30))
def test_polars_slugs_equal_the_python_slugs(text: str) -> None:
    assert apply([text], normalise.slugs(pl.col("x"))) == [slugify(text)]
