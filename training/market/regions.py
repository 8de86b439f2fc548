"""Countries grouped into world regions (UN subregions), for pooling thin country premiums.

From the countryinfo package; its data spells one region two ways ("South-eastern Asia",
"South-Eastern Asia") and leaves a few codes blank in its list, so names are folded to one
spelling and blanks are looked up one by one.
"""

from __future__ import annotations

from functools import cache


@cache
def region_of() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> region name, for every country the data places."""
    from countryinfo import CountryInfo, CountryNotFoundError, all_countries

    spelling: dict[str, str] = {}
    regions: dict[str, str] = {}
    for country in all_countries():
        code, region = country.iso(2), country.subregion()
        if not code:
            continue
        if not region:
            try:
                region = CountryInfo(code).subregion()
            except CountryNotFoundError:
                continue
        if region:
            regions[code] = spelling.setdefault(region.casefold(), region)
    return regions
