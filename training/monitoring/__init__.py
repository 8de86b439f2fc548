"""Scoring a registered version on the weeks after its data."""
