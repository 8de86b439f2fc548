"""What the last monitoring run found of a model version, kept as tags on the version.

``gigcast-train monitor`` writes them; ``gigcast-serve`` reads them with the alias it follows
and shows them as Prometheus gauges, so an alert can fire without reading MLflow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from gigcast.bundle import Target

__all__ = ["TAG_PREFIX", "Monitored", "data_age_weeks"]

TAG_PREFIX = "gigcast.monitored."


@dataclass(frozen=True, kw_only=True)
class Monitored:
    """A monitoring run's headline, per target: how the version did on weeks it never saw."""

    run_id: str  # the monitoring run in MLflow
    through: date  # the Monday of the last week scored
    drifted: bool  # whether the run found drift (its exit code was 3)
    coverage: Mapping[Target, float]  # share of actuals inside the 80% interval
    mase_ratio: Mapping[Target, float]  # median MASE on the new weeks over the backtest's

    def tags(self) -> dict[str, str]:
        tags = {
            "run_id": self.run_id,
            "through": self.through.isoformat(),
            "drifted": str(self.drifted).lower(),
        }
        tags |= {f"{target}_coverage_80": repr(value) for target, value in self.coverage.items()}
        tags |= {f"{target}_mase_ratio": repr(value) for target, value in self.mase_ratio.items()}
        return {TAG_PREFIX + key: value for key, value in tags.items()}

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> Monitored | None:
        """The figures in a version's tags; None when it was never monitored or they are unreadable."""
        own = {
            key.removeprefix(TAG_PREFIX): value for key, value in tags.items() if key.startswith(TAG_PREFIX)
        }
        try:
            return cls(
                run_id=own["run_id"],
                through=date.fromisoformat(own["through"]),
                drifted=own["drifted"] == "true",
                coverage=_per_target(own, "coverage_80"),
                mase_ratio=_per_target(own, "mase_ratio"),
            )
        except (KeyError, ValueError):
            return None


def _per_target(tags: Mapping[str, str], figure: str) -> dict[Target, float]:
    values = {target: float(tags[f"{target}_{figure}"]) for target in Target if f"{target}_{figure}" in tags}
    return {target: value for target, value in values.items() if math.isfinite(value)}


def data_age_weeks(data_end: date, *, today: date) -> int:
    """Complete weeks that have ended since the week of ``data_end`` (a Monday): 0 when none have."""
    this_week = today - timedelta(days=today.weekday())
    return max((this_week - data_end).days // 7 - 1, 0)
