"""Country names and codes to ISO 3166-1 alpha-2, shared by ingestion and the service.

pycountry is imported on the first lookup, so importing this module stays light.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["to_alpha2"]


@lru_cache(maxsize=4096)
def to_alpha2(text: str) -> str | None:
    """``"PL"``, ``"pl"``, ``"Poland"`` or ``"POL"`` -> ``"PL"``; None when not a country.

    Exact matches only (codes, common and official names): an unknown name is kept unknown,
    never guessed.
    """
    key = text.strip()
    if not key:
        return None
    import pycountry

    try:
        return str(pycountry.countries.lookup(key).alpha_2)
    except LookupError:
        return None
