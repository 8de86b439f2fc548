from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    raw = ["Power BI; powerbi ; Quantum Knitting;;", None]
    distinct = [t for row in apply(raw, tags) if row for t in row]
    ids = normalise.tag_ids(distinct, taxonomy)
    assert ids[" powerbi "] == "microsoft-power-bi" and ids[""] is None
    got = apply(raw, normalise.canonical_skills(tags, ids))
    assert got == [["microsoft-power-bi", "quantum-knitting"], []]


def test_skills_in_titles_match_on_word_boundaries(taxonomy: Taxonomy) -> None:
    titles = [
        "Power BI dashboard for sales",
        "Paint my garden fence",
        "Prompt engineering + RAG pipeline",
        None,
    ]
    got = apply(titles, normalise.extracted_skills(pl.col("x"), taxonomy))
    assert got == [
        ["microsoft-power-bi", "data-visualization"],
        [],
        ["prompt-engineering", "rag-development"],
        [],
    ]


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
