"""One way to read a skill's name, for training, the service, the pyfunc and the CLI alike.

A name is reduced to a key that ignores what people vary without meaning another skill: case,
accents, punctuation and extra spaces, "&" for "and", and plurals. ``"Front-End Development"``,
``"front end development"`` and ``"front-end-development"`` share one key; ``"C++"`` and
``"C#"`` keep theirs. Standard library only: the thin client may import it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

__all__ = ["NameResolver", "name_key"]

#: Word endings that are not plurals: "analysis", "business", "status", "aws".
SINGULAR_ENDINGS = ("ss", "us", "is", "ws", "ys")


def name_key(text: str) -> str:
    """The key all spellings of a name share: ``"Chat & Email Supports"`` -> ``"chat and email support"``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9+#]+", " ", ascii_text.lower().replace("&", " and ").replace("'", "")).split()
    return " ".join(_singular(word) for word in words)


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith(SINGULAR_ENDINGS):
        return word[:-1]
    return word


class NameResolver:
    """Every name of every skill (id, display name, aliases), read through ``name_key``.

    The first skill to claim a key keeps it, so an id or display name listed first wins over a
    later skill's alias. Each name as listed resolves without being read again: a service is
    mostly asked by the ids and names it gave out.
    """

    def __init__(self, names: Iterable[tuple[str, Iterable[str]]]) -> None:
        self._by_key: dict[str, str] = {}
        listed: list[tuple[str, str]] = []
        for skill, spellings in names:
            for spelling in (skill, *spellings):
                key = name_key(spelling)
                if key:
                    self._by_key.setdefault(key, skill)
                    listed.append((spelling, key))
        #: Every name as listed -> the skill its key names (not always the skill that listed it).
        self._as_listed = {spelling: self._by_key[key] for spelling, key in listed}

    def __contains__(self, text: str) -> bool:
        return self.resolve(text) is not None

    @property
    def keys(self) -> dict[str, str]:
        """Every key -> the skill it names."""
        return self._by_key

    def resolve(self, text: str) -> str | None:
        """The skill ``text`` names, or None."""
        skill = self._as_listed.get(text)
        return skill if skill is not None else self._by_key.get(name_key(text))

    def suggest(self, text: str, *, limit: int = 3) -> list[str]:
        """Skills whose names are closest to ``text``, for "did you mean" answers."""
        close = difflib.get_close_matches(name_key(text), self._by_key, n=limit * 3, cutoff=0.5)
        return list(dict.fromkeys(self._by_key[key] for key in close))[:limit]
