"""From an export's raw cells to canonical values.

Two kinds of helpers. Columns with few distinct values (skill tags, levels, countries,
categories, hourly flags) are normalised once per distinct value by the plain functions here,
and the result is applied to every row as a polars lookup. Columns with a value per row
(timestamps, rates, free text) are normalised by polars expressions. No Python runs per row,
so the same code streams over files larger than memory.

Unparseable numbers become NaN (present but wrong) rather than null (absent), so that the
rules can tell them apart.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from gigcast.names import name_key
from gigcast.taxonomy import EXPERIENCE_LEVELS, SkillInfo, Taxonomy, slugify
from training.data.columns import Separator

#: Timestamp layouts seen in exports, zoned ones converted to UTC and naive ones read as UTC.
ZONED_LAYOUTS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z")
LAYOUTS = (
    *ZONED_LAYOUTS,
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
LEVEL_WORDS = {"beginner": "entry", "junior": "entry", "mid": "intermediate", "medium": "intermediate"}
LEVEL_WORDS |= {"senior": "expert", "advanced": "expert"} | {level: level for level in EXPERIENCE_LEVELS}
HOURLY_WORDS = {"true": True, "1": True, "yes": True, "hourly": True}
HOURLY_WORDS |= dict.fromkeys(
    ("false", "0", "no", "fixed", "fixed_budget", "fixed-price", "fixed price", "no_budget"), False
)
QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""


# Distinct values, one at a time.


def level_of(text: str | None) -> str | None:
    """``"Entry level"`` -> ``"entry"``; None when empty; ``"unknown"`` when not a level."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    if not words:
        return None
    return LEVEL_WORDS.get(words[0], "unknown")


def hourly_of(text: str | None) -> bool | None:
    """True for hourly, False for fixed price, None when the export does not say."""
    return HOURLY_WORDS.get((text or "").strip().lower())


def plain_text(text: str | None) -> str | None:
    """Text without HTML tags or entities, as scraped exports carry them."""
    if text is None:
        return None
    return html.unescape(re.sub(r"<[^>]*>", " ", text)).strip() or None


@dataclass(frozen=True, slots=True)
class SetAside:
    """A label of the data that names a taxonomy skill by an alias, kept as a skill of its own.

    The data holds it apart from ``beside``, its other labels naming the same taxonomy skill: an
    alias merging them would train that skill on their sum and answer it for each.
    """

    label: str  # the data's most common spelling of it
    skill: str  # the skill it is: its slug
    alias_of: str  # the taxonomy skill the alias names
    beside: tuple[str, ...]  # the data's other labels naming ``alias_of``, most common first


@dataclass(frozen=True)
class Labels:
    """The skills a data set's tags name, as :func:`resolve_tags` reads them."""

    ids: dict[str, str | None]  # raw tag -> skill id; None for blank tags
    names: dict[str, str]  # skill id -> the data's most common spelling of it
    set_aside: tuple[SetAside, ...] = ()

    def found(self, names: Iterable[str], taxonomy: Taxonomy) -> dict[str, str | None]:
        """Skill ids of taxonomy names found in free text: a label set aside is its own skill there too."""
        own = {name_key(s.label): s.skill for s in self.set_aside}
        return {name: own.get(name_key(name), taxonomy.names.get(name)) for name in names}


def resolve_tags(tags: Sequence[str], taxonomy: Taxonomy) -> Labels:
    """The skill of each distinct tag of a data set, ``tags`` listed most common first.

    Spellings of one name (``gigcast.names.name_key``) are one label. A label maps onto the
    taxonomy skill it names unless another label of the data names that skill too: the skill's
    own id or display name keeps it, and a label naming it only by an alias is then a skill of
    its own, under its slug. A label the taxonomy lacks is a skill of its own as well.
    """
    spellings: dict[str, list[str]] = {}  # label key -> its spellings, most common first
    for tag in tags:
        spellings.setdefault(name_key(tag), []).append(tag)
    blank = spellings.pop("", [])
    resolved = {key: taxonomy.resolve(spelt[0]) for key, spelt in spellings.items()}
    named: dict[str, list[str]] = {}  # taxonomy skill -> keys of the labels naming it
    for key, skill in resolved.items():
        if skill is not None:
            named.setdefault(skill, []).append(key)
    taken = {s.id for s in taxonomy.skills}
    ids: dict[str, str | None] = dict.fromkeys(blank)
    set_aside: list[SetAside] = []
    for key, spelt in spellings.items():
        slug = next((slug for tag in spelt if (slug := slugify(tag))), None)
        if (skill := resolved[key]) is not None:
            others = [other for other in named[skill] if other != key]
            if _kept_apart(key, others, taxonomy.get(skill)) and slug and slug not in taken:
                beside = tuple(spellings[other][0].strip() for other in others)
                set_aside.append(SetAside(spelt[0].strip(), slug, skill, beside))
            else:
                slug = skill
        ids |= dict.fromkeys(spelt, slug)
    names: dict[str, str] = {}
    for tag in tags:
        if (skill := ids[tag]) is not None:
            names.setdefault(skill, tag.strip())
    return Labels(ids, names, tuple(set_aside))


def _kept_apart(key: str, others: list[str], skill: SkillInfo) -> bool:
    """Whether the label ``key``, naming ``skill`` beside the labels ``others``, is a skill of its own."""
    own = {name_key(skill.id), name_key(skill.display_name)}
    return bool(others) and key not in own


# Every row, as polars expressions.


def mapped(raw: pl.Expr, mapping: dict[str, object], dtype: pl.DataType) -> pl.Expr:
    """Each raw value looked up in a mapping built from the column's distinct values."""
    return raw.cast(pl.String).replace_strict(mapping, default=None, return_dtype=dtype)


def timestamps(raw: pl.Expr, dtype: pl.DataType, *, layouts: tuple[str, ...] = LAYOUTS) -> pl.Expr:
    """UTC timestamps from text in ``layouts`` (first match wins), datetimes, dates or epochs."""
    if isinstance(dtype, pl.Datetime):
        zoned = raw.dt.convert_time_zone("UTC") if dtype.time_zone else raw.dt.replace_time_zone("UTC")
        return zoned.dt.cast_time_unit("us")
    if dtype == pl.Date:
        return raw.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_integer():
        return _epoch(raw)
    text = raw.cast(pl.String).str.strip_chars()
    parsed = [text.str.to_datetime(layout, strict=False, time_unit="us") for layout in layouts]
    in_utc = [
        value.dt.convert_time_zone("UTC") if layout in ZONED_LAYOUTS else value.dt.replace_time_zone("UTC")
        for layout, value in zip(layouts, parsed, strict=True)
    ]
    digits = pl.when(text.str.contains(r"^\d{9,13}$")).then(text).cast(pl.Int64)  # an epoch written as text
    return pl.coalesce(*in_utc, _epoch(digits))


def _epoch(number: pl.Expr) -> pl.Expr:
    """UTC timestamps from epoch seconds, or milliseconds when the number is that large."""
    micros = pl.when(number.abs() > 100_000_000_000).then(number * 1000).otherwise(number * 1_000_000)
    return micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def layouts_by_fit(sample: pl.Series) -> tuple[str, ...]:
    """Every layout, those that parse most of ``sample`` first: the usual one is tried first."""
    frame = sample.cast(pl.String).to_frame("t")
    hits = {
        layout: frame.select(
            timestamps(pl.col("t"), pl.String(), layouts=(layout,)).is_not_null().sum()
        ).item()
        for layout in LAYOUTS
    }
    return tuple(sorted(LAYOUTS, key=lambda layout: -hits[layout]))


def numbers(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Floats from numbers or text like ``"$1,200.50"``: null when empty, NaN when not a number."""
    if dtype.is_numeric():
        return raw.cast(pl.Float64)
    text = raw.cast(pl.String).str.replace_all(r"[\s$,]", "")
    value = text.cast(pl.Float64, strict=False)
    return pl.when(text.is_null() | (text == "")).then(None).otherwise(value.fill_null(float("nan")))


#: Share of a column's non-blank cells that must hold ``;`` or ``|`` for it to separate skills.
SEPARATED_SHARE = 0.05


def separator_of(sample: pl.Series, taxonomy: Taxonomy) -> Separator:
    """How a text column separates skills, judged from a sample of its cells.

    A list literal or ``;``/``|`` is a separator wherever it appears. A comma separates only
    when the parts it leaves recur: tags such as "Python, SQL" name skills that other rows name
    too, while a label such as "Email, Phone & Chat Support" leaves parts seen nowhere else.
    Cells the taxonomy knows whole are labels, whatever they hold.
    """
    cells = [c.strip() for c in sample.cast(pl.String).drop_nulls().to_list() if c.strip()]
    if not cells:
        return Separator.NONE
    if sum(c.startswith("[") for c in cells) > len(cells) / 2:
        return Separator.LITERAL
    for separator in (Separator.SEMICOLON, Separator.PIPE):
        if sum(separator.character in c for c in cells) >= SEPARATED_SHARE * len(cells):
            return separator
    listed = {c for c in set(cells) if "," in c and c not in taxonomy.resolver}
    if not listed:
        return Separator.NONE
    seen_in: dict[str, set[str]] = {}  # name -> the distinct cells naming it, whole or as a part
    for cell in set(cells):
        for name in cell.split(",") if cell in listed else [cell]:
            seen_in.setdefault(name_key(name), set()).add(cell)
    parts = [name_key(name) for cell in listed for name in cell.split(",") if name.strip()]
    recurring = sum(len(seen_in[part]) > 1 for part in parts)
    return Separator.COMMA if recurring >= len(parts) / 2 else Separator.NONE


def skill_tags(raw: pl.Expr, dtype: pl.DataType, separator: Separator, taxonomy: Taxonomy) -> pl.Expr:
    """Raw tags of each row: a list column as is, else the text split as ``separator`` says.

    A cell that is, whole, a name the taxonomy knows is never split.
    """
    if isinstance(dtype, pl.List):
        return raw.cast(pl.List(pl.String))
    text = raw.cast(pl.String).str.strip_chars()
    if separator == Separator.LITERAL:
        return text.str.extract_all(QUOTED).list.eval(
            pl.element().str.slice(1, pl.element().str.len_chars() - 2)
        )
    if separator in (Separator.NONE, Separator.AUTO):
        return pl.concat_list(text)
    whole = [name for name in taxonomy.names if separator.character in name]
    split = text.str.split(separator.character)
    if not whole:
        return split
    return pl.when(text.str.to_lowercase().is_in(whole)).then(pl.concat_list(text)).otherwise(split)


def canonical_skills(tags: pl.Expr, ids: dict[str, str | None]) -> pl.Expr:
    """Skill ids of each row's tags, through the distinct-tag mapping; no repeats, no blanks."""
    skill = pl.element().replace_strict(ids, default=None, return_dtype=pl.String)
    return tags.list.eval(skill.drop_nulls()).list.unique(maintain_order=True).fill_null([])


def named_in(text: pl.Expr, taxonomy: Taxonomy) -> pl.Expr:
    """Taxonomy names found in free text (title, description), lower-cased, matched on word boundaries.

    ``canonical_skills`` turns them into skills, through ``Labels.found`` once the tags are read.
    """
    spellings = sorted(
        {name for name in taxonomy.names if len(name) >= 3 and not name.isdigit()}, key=len, reverse=True
    )
    pattern = r"(?i)\b(?:" + "|".join(re.escape(s) for s in spellings) + r")\b"
    found = text.str.extract_all(pattern).list.eval(pl.element().str.to_lowercase())
    return found.list.unique(maintain_order=True).fill_null([])


def slugs(text: pl.Expr) -> pl.Expr:
    """The same ids as ``gigcast.taxonomy.slugify``, computed by polars."""
    return (
        text.str.strip_chars().str.to_lowercase().str.replace_all(r"[^a-z0-9+#]+", "-").str.strip_chars("-")
    )
