"""Pictures of a market: weekly postings and median rates of a few skills, against the truth.

Matplotlib runs headless (Agg); figures are returned for the caller to save.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from training.panels import demand_panel, rate_observations, rate_panel

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def market_figure(postings: pl.DataFrame, skills: list[str], truth: pl.DataFrame | None = None) -> Figure:
    """Two panels, postings per week and the weekly median hourly rate, one line per skill."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import StrMethodFormatter

    demand = demand_panel(postings)
    rates = rate_panel(rate_observations(postings))
    figure = Figure(figsize=(10, 7), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    for index, skill in enumerate(skills):
        colour = f"C{index}"
        own = demand.filter(pl.col("skill") == skill)
        top.plot(own["week_start"], own["postings"], color=colour, linewidth=1.2, label=skill)
        rate = rates.filter(pl.col("skill") == skill)
        bottom.plot(rate["week_start"], rate["rate"], color=colour, linewidth=1.0, label=skill)
        if truth is not None:
            known = truth.filter(pl.col("skill") == skill)
            top.plot(
                known["week_start"], known["expected_postings"], color=colour, linestyle="--", linewidth=0.8
            )
            bottom.plot(
                known["week_start"], known["median_rate"], color=colour, linestyle="--", linewidth=0.8
            )
    top.set_ylabel("postings per week")
    top.set_title(
        "Synthetic market: observed (solid) and ground truth (dashed)" if truth is not None else "Market"
    )
    top.legend(loc="upper left", fontsize="small")
    bottom.set_ylabel("median hourly rate, USD")
    bottom.yaxis.set_major_formatter(StrMethodFormatter("${x:,.0f}"))
    for axes in (top, bottom):
        axes.grid(alpha=0.3)
    return figure
