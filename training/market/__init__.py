"""Rates across a market: residuals, level and country premiums, rate cells, regions, borrowing."""
