"""The skill taxonomy: canonical ids, display names, categories and aliases.

Ingestion maps free-text tags onto it; unknown tags become skills of their own under a slug,
so no posting loses its skill because the taxonomy is behind the market.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

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
        self._names: dict[str, str] = {}
        for skill in self.skills:
            for name in (skill.id, skill.display_name, *skill.aliases):
                self._names.setdefault(name.lower(), skill.id)
                self._names.setdefault(slugify(name), skill.id)

    @property
    def names(self) -> dict[str, str]:
        """Every spelling (lower-cased name, alias or slug) -> canonical id."""
        return self._names

    def resolve(self, tag: str) -> str | None:
        """Canonical id for a tag (id, name or alias, any case), or None when unknown."""
        key = tag.strip().lower()
        return self._names.get(key) or self._names.get(slugify(key))

    def canonical(self, tag: str) -> str:
        """The taxonomy id of a tag, or the tag's own slug when the taxonomy lacks it."""
        return self.resolve(tag) or slugify(tag)

    def get(self, skill_id: str) -> SkillInfo:
        """The skill's entry, or an uncategorised one named after the slug."""
        found = self._by_id.get(skill_id)
        if found is not None:
            return found
        return SkillInfo(skill_id, skill_id.replace("-", " ").title(), UNCATEGORISED)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read a taxonomy CSV (id, display_name, category, aliases separated by ``|``).

    Without a path, the taxonomy shipped with gigcast.
    """
    if path is None:
        text = resources.files("gigcast").joinpath("data/skills.csv").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    rows = csv.DictReader(text.splitlines())
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


#: Experience levels of the market, cheapest first.
EXPERIENCE_LEVELS = ("entry", "intermediate", "expert")
