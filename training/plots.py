"""Pictures of a market: weekly postings and median rates of a few skills, against the truth.

Matplotlib runs headless (Agg); figures are returned for the caller to save.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from gigcast.bundle import Bundle
from training.data.panels import demand_panel, rate_observations, rate_panel

UNITS = {"demand": "postings per week", "rate": "median hourly rate, USD"}

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def market_figure(postings: pl.DataFrame, skills: list[str], *, truth: pl.DataFrame | None = None) -> Figure:
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


def forecast_figures(scores: pl.DataFrame, history: pl.DataFrame, bundle: Bundle) -> dict[str, Figure]:
    """History, forecast and interval of the best, median and worst backtested skill per target."""
    figures = {}
    for target in ("demand", "rate"):
        ranked = scores.filter((pl.col("target") == target) & pl.col("mase").is_not_null()).sort("mase")
        if ranked.is_empty():
            continue
        picks = {"best": 0, "median": ranked.height // 2, "worst": ranked.height - 1}
        for rank, row in picks.items():
            picked = ranked.row(row, named=True)
            skill, model, mase = picked["skill"], picked["model"], picked["mase"]
            past = history.filter((pl.col("skill") == skill) & (pl.col("target") == target))
            ahead = (bundle.demand if target == "demand" else bundle.rates).filter(pl.col("skill") == skill)
            low, high = ("p10", "p90") if target == "demand" else ("lower", "upper")
            title = f"{target} of {skill} ({rank} MASE {mase:.2f}, {model})"
            figures[f"{target}_{rank}_{skill}"] = _forecast_figure(
                past, ahead, low, high, title, UNITS[target]
            )
    return figures


def _forecast_figure(
    past: pl.DataFrame, ahead: pl.DataFrame, low: str, high: str, title: str, unit: str
) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.subplots()
    axes.plot(past["week_start"], past["value"], color="C0", linewidth=1.0, label="history")
    axes.plot(ahead["week_start"], ahead["p50"], color="C1", linewidth=1.4, label="forecast (median)")
    axes.fill_between(
        ahead["week_start"], ahead[low], ahead[high], color="C1", alpha=0.25, label="80% interval"
    )
    axes.set_title(title)
    axes.set_ylabel(unit)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    return figure


def drift_figure(points: pl.DataFrame, history: pl.DataFrame, worst: pl.DataFrame) -> Figure:
    """One panel per series of ``worst``: what came before, the forecast and what happened after.

    ``points`` are the monitored weeks (skill, target, week_start, actual, p10, p50, p90) and
    ``history`` the weeks before (skill, target, week_start, value).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 2.6 * worst.height), layout="constrained")
    panels = figure.subplots(worst.height, 1, squeeze=False)[:, 0]
    for axes, row in zip(panels, worst.iter_rows(named=True), strict=True):
        mine = (pl.col("skill") == row["skill"]) & (pl.col("target") == row["target"])
        past, scored = history.filter(mine), points.filter(mine)
        axes.plot(past["week_start"], past["value"], color="C0", linewidth=1.0, label="before")
        axes.plot(scored["week_start"], scored["p50"], color="C1", linewidth=1.4, label="forecast (median)")
        axes.fill_between(
            scored["week_start"], scored["p10"], scored["p90"], color="C1", alpha=0.25, label="80% interval"
        )
        axes.plot(
            scored["week_start"], scored["actual"], "o-", color="C3", markersize=3, label="what happened"
        )
        axes.set_title(
            f"{row['target']} of {row['skill']}: MASE {row['mase_ratio']:.1f}x its backtest's, "
            f"coverage {row['coverage']:.0%}",
            fontsize="medium",
        )
        axes.set_ylabel(UNITS[row["target"]])
        axes.grid(alpha=0.3)
    panels[0].legend(loc="upper left", fontsize="small")
    return figure
