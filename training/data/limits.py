"""What a posting's hourly rate must lie within to be accepted, in USD per hour."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Hourly rates outside [min_rate, max_rate] USD/h are quarantined."""

    min_rate: float = 3.0  # the platform's floor
    max_rate: float = 1000.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_rate < self.max_rate:
            raise ValueError(f"the lowest rate {self.min_rate} must be below the highest {self.max_rate}")
