"""``gigcast-train``: make a synthetic market, train on postings, register the model."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from gigcast.bundle import write_bundle
from gigcast.settings import MODEL_NAME, tracking_uri
from gigcast.taxonomy import load_taxonomy

# MLflow's per-file download bars would drown the output of a training run.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

app = typer.Typer(help="Train gigcast forecasts and register them in MLflow.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Postings file to write: .parquet or .csv.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same market.")] = 7,
    skills: Annotated[int, typer.Option(min=1, help="Number of skills.")] = 100,
    weeks: Annotated[int, typer.Option(min=1, help="Weeks of history.")] = 156,
    end: Annotated[
        str | None, typer.Option(help="Last day of the data (ISO date); default the last full week.")
    ] = None,
) -> None:
    """Write a seeded synthetic market of AI freelance postings.

    Example: gigcast-train synth --out postings.parquet --skills 50 --weeks 104
    """
    from training.synth import synthesize

    if out.suffix not in (".parquet", ".csv"):
        raise typer.BadParameter("use a .parquet or .csv file name", param_hint="--out")
    postings = synthesize(skills=skills, weeks=weeks, end=date.fromisoformat(end) if end else None, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        postings.write_parquet(out)
    else:
        postings.write_csv(out)
    console.print(f"wrote {postings.height:,} postings of {skills} skills over {weeks} weeks to {out}")


@app.command()
def run(
    data: Annotated[Path, typer.Option(help="Postings file: .csv, .parquet or .ndjson.")],
    horizon: Annotated[int, typer.Option(min=1, max=104, help="Weeks to forecast.")] = 52,
    holdout: Annotated[int, typer.Option(min=1, help="Weeks held out to score each series.")] = 8,
    workers: Annotated[int | None, typer.Option(min=1, help="Fitting processes; default every core.")] = None,
    max_rejected: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Stop when a larger share of rows is quarantined.")
    ] = 0.2,
    quarantine: Annotated[Path | None, typer.Option(help="Also write quarantined rows here (.csv).")] = None,
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = MODEL_NAME,
    if_no_champion: Annotated[
        bool, typer.Option(help="Do nothing when the model already has a champion.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train on postings, log the run to MLflow, register the bundle as a model version.

    The first version becomes @champion. Tracking URI: $MLFLOW_TRACKING_URI, else
    sqlite:///mlflow.db in the working folder.

    Example: gigcast-train run --data postings.parquet
    """
    from training.executors import default_workers
    from training.ingest import IngestError, ingest
    from training.pipeline import TrainConfig, train
    from training.tracking import has_champion, log_training

    uri = tracking_uri()
    if if_no_champion and has_champion(tracking_uri=uri, model_name=model_name):
        console.print(f"{model_name}@champion exists in {uri}: nothing to train")
        return
    taxonomy = load_taxonomy()
    try:
        result = ingest(data, taxonomy=taxonomy)
    except IngestError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    rejected = result.quarantined.height / max(result.rows, 1)
    console.print(
        f"{data}: {result.rows:,} rows, {result.accepted.height:,} accepted, "
        f"{result.quarantined.height:,} quarantined {result.reasons() or ''}"
    )
    if quarantine is not None:
        result.quarantined.write_csv(quarantine)
    if rejected > max_rejected:
        console.print(
            f"[red]error:[/] {rejected:.1%} of rows were quarantined, more than --max-rejected "
            f"{max_rejected:.0%}; see the reasons above"
        )
        raise typer.Exit(1)
    config = TrainConfig(horizon=horizon, holdout=holdout, workers=workers or default_workers())
    with _progress(quiet) as progress:
        task = progress.add_task("fitting series", total=None)
        trained = train(
            result.accepted,
            taxonomy=taxonomy,
            config=config,
            on_start=lambda n: progress.update(task, total=n),
            on_fitted=lambda n: progress.advance(task, n),
        )
    counts = {
        "rows": result.rows,
        "accepted": result.accepted.height,
        "quarantined": result.quarantined.height,
    }
    with tempfile.TemporaryDirectory() as folder:
        bundle_dir = write_bundle(trained.bundle, Path(folder) / "bundle")
        registered = log_training(
            tracking_uri=uri,
            model_name=model_name,
            bundle_dir=bundle_dir,
            params={**config.params(), "data": str(data)},
            metrics={**trained.metrics, **{f"ingest_{k}": float(v) for k, v in counts.items()}},
            tables={"scores": trained.scores, "quarantine": result.quarantined},
            example_skill=trained.bundle.skills["skill"][0],
        )
    console.print(_summary(model_name, registered.version, registered.champion, trained.metrics))
    console.print(f"MLflow run {registered.run_id} in {uri}")


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )


def _summary(name: str, version: str, champion: bool, metrics: dict[str, float]) -> Table:
    table = Table(title=f"{name} version {version}" + (" → @champion" if champion else ""))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in sorted(metrics.items()):
        table.add_row(key, f"{value:.3f}")
    return table
