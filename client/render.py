"""Responses as rich renderables: pure functions, printed in one place by the CLI."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from gigcast.v1 import forecast_pb2 as pb

BASIS_NAMES = {
    pb.BASIS_SOURCE_SKILL_LEVEL_COUNTRY: "skill, level and country",
    pb.BASIS_SOURCE_SKILL_LEVEL: "skill and level",
    pb.BASIS_SOURCE_SKILL_COUNTRY: "skill and country",
    pb.BASIS_SOURCE_SKILL: "skill",
    pb.BASIS_SOURCE_CATEGORY: "category",
    pb.BASIS_SOURCE_SKILL_LEVEL_REGION: "skill, level and the country's region",
    pb.BASIS_SOURCE_SKILL_REGION: "skill and the country's region",
}
BARS = " ▁▂▃▄▅▆▇█"


def rate(response: pb.EstimateRateResponse) -> Group:
    level = pb.ExperienceLevel.Name(response.experience_level).removeprefix("EXPERIENCE_LEVEL_").lower()
    where = response.country or "all markets"
    level = "all levels" if level == "unspecified" else level
    heading = Text(f"{response.skill} · {level} · {where} · week of {response.week_start}", style="bold")
    table = Table()
    for name in ("p10", "p25", "p50", "p75", "p90"):
        table.add_column(name, justify="right", style="bold" if name == "p50" else None)
    table.add_row(*(f"${getattr(response, name):,.0f}/h" for name in ("p10", "p25", "p50", "p75", "p90")))
    interval = response.median_interval
    return Group(
        heading,
        table,
        Text(
            f"median forecast ${response.p50:,.2f}/h, {interval.coverage:.0%} interval "
            f"${interval.lower:,.2f}–${interval.upper:,.2f}"
        ),
        _footer(response.basis, response.model),
    )


def demand(response: pb.ForecastDemandResponse) -> Group:
    where = response.country or "all markets"
    heading = Text(f"{response.skill} · {where} · postings per week", style="bold")
    table = Table()
    table.add_column("week")
    table.add_column("p10", justify="right")
    table.add_column("p50", justify="right", style="bold")
    table.add_column("p90", justify="right")
    table.add_column("")
    top = max((p.p90 for p in response.points), default=0.0) or 1.0
    for point in response.points:
        table.add_row(
            point.week_start,
            f"{point.p10:,.1f}",
            f"{point.p50:,.1f}",
            f"{point.p90:,.1f}",
            _bar(point.p50 / top),
        )
    return Group(heading, table, _footer(response.basis, response.model))


def _bar(share: float, width: int = 20) -> str:
    filled = max(0.0, min(1.0, share)) * width
    whole = int(filled)
    return "█" * whole + (BARS[int((filled - whole) * 8)] if whole < width else "")


def _footer(basis: pb.Basis, model: pb.ModelRef) -> Text:
    source = BASIS_NAMES.get(basis.source, "unknown")
    return Text(f"basis: {source} ({basis.description}) · model {model.name} v{model.version}", style="dim")
