"""Forecasting: the calendar, the candidates, the race, intervals, and where series are fitted."""
