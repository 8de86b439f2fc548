"""Forecasting: the market calendar, the candidates, the race between them, and intervals."""

from training.forecasting.calibrate import Calibrated, calibrate
from training.forecasting.race import Plan, SeriesFit, race
from training.forecasting.series import Series, Target

__all__ = ["Calibrated", "Plan", "Series", "SeriesFit", "Target", "calibrate", "race"]
