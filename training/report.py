"""What gigcast-train prints: pure functions from results to rich renderables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from collections.abc import Sequence

    import polars as pl

    from training.data.database import Source
    from training.data.ingest import IngestResult
    from training.job import Hooks, JobResult
    from training.monitor import MonitorResult


def runs_table(model_name: str, runs: pl.DataFrame) -> Table:
    table = Table(title=f"runs of {model_name} (* champion)", title_justify="left")
    for column in ("version", "started", "demand MASE (snaive)", "rate MASE (snaive)", "coverage d/r", "run"):
        table.add_column(column)
    for row in runs.iter_rows(named=True):
        table.add_row(
            row["version"] + (" *" if row["champion"] else ""),
            row["started"][5:],
            _pair(row["demand_mase"], row["demand_mase_seasonalnaive"], "{:.3f} ({:.3f})"),
            _pair(row["rate_mase"], row["rate_mase_seasonalnaive"], "{:.3f} ({:.3f})"),
            _pair(row["demand_coverage_80"], row["rate_coverage_80"], "{:.2f}/{:.2f}"),
            row["run_id"][:8],
        )
    return table


def _pair(first: float | None, second: float | None, layout: str) -> str:
    return layout.format(first, second) if first is not None and second is not None else ""


def validation_table(result: IngestResult) -> Table:
    summary = result.summary()
    table = Table(title="postings", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("rows", f"{result.rows:,}")
    table.add_row("accepted", f"{result.accepted.height:,}")
    table.add_row("quarantined", f"{result.quarantined.height:,} ({result.rejected_share:.2%})")
    for reason, count in result.reasons().items():
        table.add_row(f"  {reason}", f"{count:,}")
    table.add_row("skills", f"{summary['skills']:,}")
    if result.set_aside:
        table.add_row("  aliases set aside", _set_aside(result))
    table.add_row("with an hourly rate", f"{summary['with_hourly_rate']:,}")
    table.add_row("countries", f"{summary['countries']:,}")
    table.add_row("posted", f"{str(summary['first_posted_at'])[:10]} → {str(summary['last_posted_at'])[:10]}")
    return table


#: Labels set aside that the postings table names; ``validate --json`` lists every one, and why.
SET_ASIDE_SHOWN = 2


def _set_aside(result: IngestResult) -> str:
    """``2: MySQL (sql), PostgreSQL (sql)``: labels kept as skills of their own, and the skill
    each one's alias names."""
    shown = [f"{s.label} ({s.alias_of})" for s in result.set_aside[:SET_ASIDE_SHOWN]]
    more = ", …" if len(result.set_aside) > SET_ASIDE_SHOWN else ""
    return f"{len(result.set_aside):,}: {', '.join(shown)}{more}"


class SeriesRate(ProgressColumn):
    """Series fitted per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} series/s" if speed else "", style="progress.data.speed")


class JobDisplay:
    """What ``gigcast-train run`` shows while the job runs: reading, the postings table, a progress bar.

    Used as a context manager, so that whatever is live on the terminal stops however the job ends.
    """

    def __init__(self, console: Console, *, quiet: bool) -> None:
        self.console = console
        self.status = console.status("reading")
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            SeriesRate(),
            TimeRemainingColumn(),
            console=console,
            disable=quiet,
            transient=True,
        )
        self.task = self.progress.add_task("fitting series", total=None, start=False)

    def __enter__(self) -> JobDisplay:
        return self

    def __exit__(self, *_: object) -> None:
        self.status.stop()
        self.progress.stop()

    def hooks(self) -> Hooks:
        from training.job import Hooks

        return Hooks(
            closed=lambda run_id: self.console.print(
                f"marked run {run_id} FAILED: the trainer logging it here was killed"
            ),
            reading=self.reading,
            read=self.read,
            fitting=self.fitting,
            fitted=self.fitted,
        )

    def reading(self, sources: Sequence[Source]) -> None:
        from training.data.database import named

        self.status.update(f"reading {', '.join(map(named, sources))}")
        self.status.start()

    def read(self, result: IngestResult) -> None:
        self.status.stop()
        self.console.print(validation_table(result))

    def fitting(self, series: int) -> None:
        self.progress.update(self.task, total=series)
        self.progress.start_task(self.task)
        self.progress.start()

    def fitted(self, series: int) -> None:
        self.progress.advance(self.task, series)
        if self.progress.finished:
            self.progress.stop()


def metrics_table(name: str, version: str, champion: bool, metrics: dict[str, float]) -> Table:
    table = Table(title=f"{name} version {version}" + (" → @champion" if champion else ""))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in sorted(metrics.items()):
        table.add_row(key, f"{value:.3f}")
    return table


def outcome(done: JobResult) -> str:
    """Whether the new version took over, and why."""
    verdict = done.verdict
    forced = " (forced)" if done.promoted and not verdict.promote else ""
    held = (
        f"; @champion stays version {done.champion_before}"
        if done.champion_before and not done.promoted
        else ""
    )
    return f"{verdict.reason}{forced}{held}"


def drift_table(done: MonitorResult) -> Table:
    """Per target: the version's scores on the new weeks beside its backtest's, and what drifted."""
    drift = done.drift
    weeks = f"{drift.weeks[0]} to {drift.weeks[-1]}" if len(drift.weeks) > 1 else str(drift.weeks[0])
    table = Table(
        title=f"version {done.version} on {len(drift.weeks)} new weeks ({weeks})", title_justify="left"
    )
    columns = ("target", "series", "MASE (backtest)", "coverage (backtest)", "bias", "naive MASE", "drifted")
    for column in columns:
        table.add_column(column, justify="left" if column == "target" else "right")
    for row in drift.headline.iter_rows(named=True):
        table.add_row(
            row["target"],
            str(row["series"]),
            _pair(row["mase"], row["mase_backtest"], "{:.3f} ({:.3f})"),
            _pair(row["coverage_80"], row["coverage_80_backtest"], "{:.2f} ({:.2f})"),
            f"{row['bias']:+.1%}" if row["bias"] is not None else "",
            f"{row['naive_mase']:.3f}",
            Text(_drifted(row), style="red" if row["drifted"] else ""),
        )
    return table


def _drifted(headline: dict[str, object]) -> str:
    """Why a target drifted: how many of its series did, or its figures over every series."""
    if not headline["drifted"]:
        return "no"
    return f"{headline['drifted_series']} series" if headline["drifted_series"] else "over all series"


def drifted_table(series: pl.DataFrame) -> Table:
    """The series that drifted, worst first."""
    table = Table(title="drifted series", title_justify="left")
    for column in ("skill", "target", "MASE ratio", "coverage (backtest)", "bias", "chance"):
        table.add_column(column, justify="left" if column in ("skill", "target") else "right")
    for row in series.filter(series["drifted"]).sort("chance").iter_rows(named=True):
        table.add_row(
            row["skill"],
            row["target"],
            f"{row['mase_ratio']:.1f}x" if row["mase_ratio"] is not None else "",
            _pair(row["coverage"], row["expected_coverage"], "{:.2f} ({:.2f})"),
            f"{row['bias']:+.1%}" if row["bias"] is not None else "",
            f"{row['chance']:.1e}",
        )
    return table


def skill_runs_table(model_name: str, skill: str, runs: pl.DataFrame) -> Table:
    """One skill's backtest and, where a version was monitored, its scores on the weeks after."""
    table = Table(
        title=f"{skill} in runs of {model_name} (* champion): backtest → new weeks", title_justify="left"
    )
    for column in (
        "version",
        "started",
        "demand MASE",
        "demand coverage",
        "rate MASE",
        "rate coverage",
        "run",
    ):
        table.add_column(column)
    for row in runs.iter_rows(named=True):
        table.add_row(
            row["version"] + (" *" if row["champion"] else ""),
            row["started"][5:],
            *(
                _moved(row[f"{target}_{figure}"], row[f"monitored_{target}_{figure}"], layout)
                for target in ("demand", "rate")
                for figure, layout in (("mase", "{:.3f}"), ("coverage_80", "{:.2f}"))
            ),
            row["run_id"][:8],
        )
    return table


def _moved(backtest: float | None, monitored: float | None, layout: str) -> str:
    """``0.512 → 0.871``: the backtest's figure and the monitored one, either left out when missing."""
    shown = [layout.format(value) if value is not None else "-" for value in (backtest, monitored)]
    if monitored is not None:
        return " → ".join(shown)
    return shown[0] if backtest is not None else ""
