from __future__ import annotations

from client.render import postings


def test_postings_under_one_a_week_keep_two_significant_digits() -> None:
    """The top of an interval the data never saw is small, not nothing."""
    shown = [postings(value) for value in (0.0, 0.0183, 0.5, 12.34, 1234.5)]
    assert shown == ["0.0", "0.018", "0.5", "12.3", "1,234.5"]
