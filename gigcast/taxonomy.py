"""The skill taxonomy: canonical ids, display names, categories and aliases.

Ingestion maps free-text tags onto it; unknown tags become skills of their own under a slug,
named as the data names them, so no posting loses its skill because the taxonomy is behind
the market. So does a tag that names a skill by an alias where the data names that skill
otherwise too: an alias never merges labels the data holds apart. Names are read through
``gigcast.names``, as the service reads them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from gigcast.names import NameResolver, name_key
from gigcast.query import ExperienceLevel

__all__ = [
    "EXPERIENCE_LEVELS",
    "UNCATEGORISED",
    "SkillInfo",
    "Taxonomy",
    "load_taxonomy",
    "slugify",
]

UNCATEGORISED = "other"


@dataclass(frozen=True, slots=True)
class SkillInfo:
    id: str
    display_name: str
    category: str
    aliases: tuple[str, ...] = ()


def slugify(text: str) -> str:
    """Lower-case, ASCII-ish id: ``"LLM Fine-Tuning"`` -> ``"llm-fine-tuning"``."""
    return re.sub(r"[^a-z0-9+#]+", "-", text.strip().lower()).strip("-")


class Taxonomy:
    """Skills by id, and every spelling that names one."""

    def __init__(self, skills: Iterable[SkillInfo]) -> None:
        self.skills = tuple(skills)
        self._by_id = {s.id: s for s in self.skills}
        self.resolver = NameResolver((s.id, (s.display_name, *s.aliases)) for s in self.skills)
        self._names: dict[str, str] = {}
        for skill in self.skills:
            for name in (skill.id, skill.display_name, *skill.aliases):
                self._names.setdefault(name.lower(), skill.id)

    @property
    def names(self) -> dict[str, str]:
        """Every lower-cased id, name or alias as written -> canonical id (to find in free text)."""
        return self._names

    def resolve(self, tag: str) -> str | None:
        """Canonical id for a tag (id, name or alias in any spelling), or None when unknown."""
        return self.resolver.resolve(tag)

    def canonical(self, tag: str) -> str:
        """The taxonomy id of a tag, or the tag's own slug when the taxonomy lacks it."""
        return self.resolve(tag) or slugify(tag)

    def get(self, skill_id: str) -> SkillInfo:
        """The skill's entry, or an uncategorised one named after the slug."""
        found = self._by_id.get(skill_id)
        if found is not None:
            return found
        return SkillInfo(skill_id, skill_id.replace("-", " ").title(), UNCATEGORISED)

    def with_labels(self, labels: Mapping[str, str]) -> Taxonomy:
        """This taxonomy and, for each id it lacks in ``labels``, a skill named as the data names it.

        A label that is one of this taxonomy's aliases (the data held it apart from the skill's
        other names) takes that skill's category, and is no skill's alias any more: its name now
        answers for the skill of its own.
        """
        new = {skill: label for skill, label in labels.items() if skill not in self._by_id}
        if not new:
            return self
        alias_of = {skill: self.resolve(label) for skill, label in new.items()}
        moved = {name_key(label) for skill, label in new.items() if alias_of[skill] is not None}
        kept = (
            replace(s, aliases=tuple(a for a in s.aliases if name_key(a) not in moved)) for s in self.skills
        )
        added = (
            SkillInfo(skill, label, self.get(of).category if (of := alias_of[skill]) else UNCATEGORISED)
            for skill, label in new.items()
        )
        return Taxonomy((*kept, *added))


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read a taxonomy CSV (id, display_name, category, aliases separated by ``|``).

    Lines starting with ``#`` are comments. Without a path, the taxonomy shipped with gigcast.
    """
    if path is None:
        text = resources.files("gigcast").joinpath("data/skills.csv").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return Taxonomy(
        tuple(
            SkillInfo(
                id=row["id"],
                display_name=row["display_name"],
                category=row["category"],
                aliases=tuple(a for a in (row.get("aliases") or "").split("|") if a),
            )
            for row in rows
        )
    )


#: Experience levels of the market as plain text, cheapest first: the ``level`` values of a bundle.
EXPERIENCE_LEVELS = tuple(level.value for level in ExperienceLevel)
