"""What a posting must lie within to be accepted, and how wide a file may be to be read at all."""

from __future__ import annotations

from dataclasses import dataclass

#: Most columns a postings file may have. Exports have tens; a header of a million columns is a
#: broken file, and reading it would cost gigabytes before a single row.
MAX_COLUMNS = 10_000


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Hourly rates outside [min_rate, max_rate] USD/h are quarantined, and so are rows with a cell
    longer than ``max_chars`` characters in a column that is read (kept in the quarantine cut to
    that length)."""

    min_rate: float = 3.0  # the platform's floor
    max_rate: float = 1000.0
    #: Real descriptions run to about 12,000 characters; a longer cell is most often a quote left
    #: open, which swallows the rows after it.
    max_chars: int = 100_000

    def __post_init__(self) -> None:
        if not 0 <= self.min_rate < self.max_rate:
            raise ValueError(f"the lowest rate {self.min_rate} must be below the highest {self.max_rate}")
        if self.max_chars < 1:
            raise ValueError(f"the longest cell must be at least 1 character, not {self.max_chars}")
