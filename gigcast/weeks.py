"""Weeks start on Monday everywhere in gigcast (Prophet's ``W`` would mean Sunday)."""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["monday_of"]


def monday_of(day: date) -> date:
    """The Monday that starts ``day``'s week."""
    return day - timedelta(days=day.weekday())
