"""When a version's scores on new weeks count as drift: the limits ``gigcast-train monitor`` takes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class DriftLimits:
    max_coverage_drop: float = 0.3  # coverage below the backtest's by more than this is drift
    max_mase_ratio: float = 2.0  # MASE above this many times the backtest's is drift
