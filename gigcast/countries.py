"""Country names and codes to ISO 3166-1 alpha-2, shared by ingestion and the service."""

from __future__ import annotations

from functools import lru_cache

import pycountry


@lru_cache(maxsize=4096)
def to_alpha2(text: str) -> str | None:
    """``"PL"``, ``"pl"``, ``"Poland"`` or ``"POL"`` -> ``"PL"``; None when not a country.

    Exact matches only (codes, common and official names): an unknown name is kept unknown,
    never guessed.
    """
    key = text.strip()
    if not key:
        return None
    try:
        return str(pycountry.countries.lookup(key).alpha_2)
    except LookupError:
        return None
