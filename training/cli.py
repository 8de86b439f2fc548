"""``gigcast-train``: make a synthetic market, check postings, train and register models."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from gigcast.bundle import Target
from gigcast.query import MAX_HORIZON_WEEKS
from gigcast.settings import MODEL_NAME, tracking_uri
from gigcast.uris import masked
from gigcast.weeks import monday_of
from training import report
from training.data.columns import Separator
from training.data.limits import Limits
from training.forecasting.executors import Executor
from training.monitoring.limits import DriftLimits

if TYPE_CHECKING:
    import polars as pl

    from gigcast.taxonomy import Taxonomy
    from training.data.database import Source
    from training.data.ingest import IngestResult
    from training.data.synth import Outage, RegimeShift

# MLflow's per-file download bars would drown the output of a training run.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# A team's MLflow server that dies fails a command in seconds (a request is tried three times
# within about 3 s; a server that hangs is given 15 s a try), not after MLflow's four minutes of
# retries for each request. Settings the user made are kept.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")

app = typer.Typer(help="Train gigcast forecasts and register them in MLflow.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # messages stay one line each, for grep too


END_HELP = (
    "A day in the last week of data (ISO date); the data runs to its Sunday. Default: the last full week."
)


Columns = Annotated[
    list[str] | None,
    typer.Option(
        "--column",
        metavar="CANONICAL=SOURCE",
        help="Read a canonical column from the export's own column, e.g. posted_at=published_on. Repeatable.",
    ),
]
Mapping = Annotated[
    Path | None,
    typer.Option(help='A saved column profile: TOML with a [columns] table of canonical = "source".'),
]
TaxonomyFile = Annotated[
    Path | None,
    typer.Option(help="Skill taxonomy CSV (id, display_name, category, aliases); default the shipped one."),
]
MinRate = Annotated[
    float, typer.Option(min=0.0, help="Lowest plausible hourly rate, USD; below is quarantined.")
]
MaxRate = Annotated[
    float, typer.Option(min=0.0, help="Highest plausible hourly rate, USD; above is quarantined.")
]
SkillSeparator = Annotated[
    Separator,
    typer.Option(
        help="How a text skills column lists skills; auto judges each file "
        "(a label such as 'Email, Phone & Chat Support' is not split on its comma)."
    ),
]
Table = Annotated[
    str | None,
    typer.Option(help="With a postgresql:// source: the table of postings (schema.table allowed)."),
]
Query = Annotated[
    str | None, typer.Option(help='With a postgresql:// source: a query, e.g. "SELECT … FROM …".')
]
ModelName = Annotated[str, typer.Option(help="Registered model name.")]
Quarantine = Annotated[
    Path | None, typer.Option(help="Write quarantined rows, with reasons, to this .csv or .parquet file.")
]


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Postings file to write: .parquet or .csv.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same market.")] = 7,
    skills: Annotated[int, typer.Option(min=1, help="Number of skills.")] = 100,
    weeks: Annotated[int, typer.Option(min=1, help="Weeks of history.")] = 156,
    end: Annotated[str | None, typer.Option(help=END_HELP)] = None,
    messy: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of rows broken as real exports are.")
    ] = 0.01,
    outage: Annotated[
        list[str] | None,
        typer.Option(
            metavar="DATE:DAYS",
            help="Days on which collection stopped, e.g. 2026-01-14:3: the file holds nothing of them. "
            "Repeatable.",
        ),
    ] = None,
    shift: Annotated[
        list[str] | None,
        typer.Option(
            metavar="DATE:SKILL[,SKILL…]:CHANGE[,CHANGE…]",
            help="From DATE's week on, the skills (ids, names or aliases) change: level=X multiplies their "
            "demand, growth=Y makes it grow Y-fold a year, rate=Z multiplies their hourly rates; postings "
            "before are as without it. E.g. 2026-10-05:prompt-engineering,rag:level=0.4,rate=1.5. "
            "Repeatable.",
        ),
    ] = None,
) -> None:
    """Write a seeded synthetic market, with its ground truth beside it (*.truth.parquet, *.truth.json).

    Example: gigcast-train synth --out postings.parquet --skills 50 --weeks 104
    """
    from training.data.synth import ShiftError, synthesize, write_market

    if out.suffix not in (".parquet", ".csv"):
        raise typer.BadParameter("use a .parquet or .csv file name", param_hint="--out")
    try:
        last_day = date.fromisoformat(end) if end else None
    except ValueError:
        raise typer.BadParameter(f"{end!r} is not an ISO date", param_hint="--end") from None
    if last_day is not None and monday_of(last_day) + timedelta(days=6) >= date.today():
        raise typer.BadParameter(
            f"the week of {last_day} is not over yet; the data must end in the past", param_hint="--end"
        )
    outages = [_outage(text) for text in outage or []]
    shifts = [_shift(text) for text in shift or []]
    try:
        market = synthesize(
            skills=skills, weeks=weeks, end=last_day, seed=seed, messy=messy, outages=outages, shifts=shifts
        )
    except ShiftError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shift") from None
    truth, facts = write_market(market, out)
    console.print(f"wrote {market.postings.height:,} postings of {skills} skills over {weeks} weeks to {out}")
    console.print(f"ground truth in {truth} and {facts}")


def _outage(text: str) -> Outage:
    from training.data.synth import Outage

    start, _, days = text.partition(":")
    try:
        parsed = Outage(start=date.fromisoformat(start), days=int(days))
    except ValueError:
        parsed = None
    if parsed is None or parsed.days < 1:
        raise typer.BadParameter(f"{text!r} is not DATE:DAYS, e.g. 2026-01-14:3", param_hint="--outage")
    return parsed


def _shift(text: str) -> RegimeShift:
    """DATE:SKILL[,SKILL…]:CHANGE[,CHANGE…], each CHANGE level=X, growth=Y or rate=Z."""
    from gigcast.taxonomy import load_taxonomy
    from training.data.synth import RegimeShift, ShiftError

    start, skills, changes = [*text.split(":", 2), "", ""][:3]
    factors: dict[str, float] = {}
    try:
        for change in changes.split(","):
            name, _, value = change.partition("=")
            if name not in ("level", "growth", "rate") or name in factors:
                raise ValueError(change)
            factors[name] = float(value)
        day = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not DATE:SKILLS:CHANGES, e.g. 2026-10-05:rag:level=0.4", param_hint="--shift"
        ) from None
    try:
        ids = tuple(load_taxonomy().canonical(skill) for skill in skills.split(","))
        return RegimeShift(start=day, skills=ids, **factors)
    except ShiftError as exc:
        raise typer.BadParameter(f"{text!r}: {exc}", param_hint="--shift") from None


@app.command()
def validate(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Postings files or directories (.csv, .parquet, .ndjson), or a postgresql:// URI "
            "with --table or --query."
        ),
    ],
    table: Table = None,
    query: Query = None,
    column: Columns = None,
    mapping: Mapping = None,
    taxonomy: TaxonomyFile = None,
    skill_separator: SkillSeparator = Separator.AUTO,
    min_rate: MinRate = Limits.min_rate,
    max_rate: MaxRate = Limits.max_rate,
    quarantine: Quarantine = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Check postings without training: what is accepted, what is quarantined and why.

    Exits 0 whenever the files could be read, even with quarantined rows.

    Example: gigcast-train validate export.csv --column posted_at=published_on --json
    """
    sources = _sources(paths, table, query)
    _check_quarantine(quarantine, sources)
    limits = _limits(min_rate, max_rate)
    result = _ingest(sources, column, mapping, taxonomy, skill_separator, limits, quarantine)
    if as_json:
        typer.echo(json.dumps(result.summary(), indent=2))
    else:
        console.print(report.validation_table(result))


@app.command()
def plot(
    paths: Annotated[list[Path], typer.Argument(help="Postings files or directories.")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")],
    skill: Annotated[
        list[str] | None, typer.Option(help="Skill to draw (id, name or alias); repeatable.")
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="Ground truth to draw dashed; default the *.truth.parquet beside a file."),
    ] = None,
    column: Columns = None,
    mapping: Mapping = None,
    taxonomy: TaxonomyFile = None,
    skill_separator: SkillSeparator = Separator.AUTO,
) -> None:
    """Draw weekly postings and median rates of a few skills.

    Example: gigcast-train plot postings.parquet --out market.png --skill "prompt engineering"
    """
    import polars as pl

    from training.plots import market_figure

    result = _ingest(list(paths), column, mapping, taxonomy, skill_separator, Limits(), None)
    chosen = [result.taxonomy.canonical(s) for s in skill] if skill else _busiest(result.accepted, 4)
    beside = paths[0].with_name(f"{paths[0].stem}.truth.parquet")
    truth_path = truth or (beside if beside.is_file() else None)
    figure = market_figure(result.accepted, chosen, truth=pl.read_parquet(truth_path) if truth_path else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    console.print(f"drew {', '.join(chosen)} to {out}")


@app.command()
def run(
    data: Annotated[
        list[str],
        typer.Option(
            help="Postings file or directory, or a postgresql:// URI with --table or --query; repeatable."
        ),
    ],
    table: Table = None,
    query: Query = None,
    column: Columns = None,
    mapping: Mapping = None,
    taxonomy: TaxonomyFile = None,
    skill_separator: SkillSeparator = Separator.AUTO,
    min_rate: MinRate = Limits.min_rate,
    max_rate: MaxRate = Limits.max_rate,
    quarantine: Quarantine = None,
    max_rejected: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Stop when a larger share of rows is quarantined.")
    ] = 0.2,
    horizon: Annotated[
        int,
        typer.Option(min=1, max=MAX_HORIZON_WEEKS, help="Weeks to forecast, as far as the service serves."),
    ] = MAX_HORIZON_WEEKS,
    target: Annotated[
        list[Target] | None,
        typer.Option(
            help="What to forecast; repeatable. Default: demand, and rate when the data holds hourly rates."
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Fitting processes; default every core.")] = None,
    executor: Annotated[
        Executor, typer.Option(help="Where series are fitted: local processes or Ray.")
    ] = Executor.LOCAL,
    ray_address: Annotated[
        str | None, typer.Option(help="Address of a running Ray cluster; default a local Ray.")
    ] = None,
    model_name: ModelName = MODEL_NAME,
    if_no_champion: Annotated[
        bool, typer.Option(help="Do nothing when the model already has a champion.")
    ] = False,
    if_drifted: Annotated[
        bool,
        typer.Option(
            help="Train only when the champion's latest gigcast-train monitor found drift (or there is "
            "no champion); the new run is tagged with the monitoring run it acted on."
        ),
    ] = False,
    force_promote: Annotated[
        bool, typer.Option(help="Make the new version champion even if it scores worse.")
    ] = False,
    store: Annotated[
        Path | None,
        typer.Option(
            help="Keep accepted postings here, by week; each run then reads from the database only the "
            "weeks whose count of rows changed, and the latest (from the newest stored, less a week)."
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option(help="With --store: read everything and fill the store anew.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train on postings, log the run to MLflow, register the bundle as a model version.

    The first version becomes @champion. Tracking URI: $MLFLOW_TRACKING_URI, else
    sqlite:///mlflow.db in the working folder.

    Example: gigcast-train run --data postings.parquet
    """
    from training.data.database import DatabaseSource
    from training.forecasting.executors import default_workers
    from training.job import JobConfig, run_job
    from training.pipeline import TrainConfig
    from training.registry.tracking import has_champion

    if full and store is None:
        raise typer.BadParameter("--full refills a --store; give one", param_hint="--full")
    sources = _sources(data, table, query)
    _check_quarantine(quarantine, sources)
    if store is not None and not (len(sources) == 1 and isinstance(sources[0], DatabaseSource)):
        raise typer.BadParameter(
            "a store is filled from one postgresql:// --data source", param_hint="--store"
        )
    uri = tracking_uri()
    if if_no_champion and if_drifted:
        raise typer.BadParameter("give --if-no-champion or --if-drifted, not both", param_hint="--if-drifted")
    if if_no_champion and has_champion(tracking_uri=uri, model_name=model_name):
        console.print(f"{model_name}@champion exists in {masked(uri)}: nothing to train")
        return
    tags: dict[str, str] = {}
    if if_drifted:
        from training.monitor import retrain_decision

        with _exits():
            decision = retrain_decision(tracking_uri=uri, model_name=model_name)
        console.print(decision.reason)
        if not decision.retrain:
            return
        tags = decision.tags
    with _exits():
        config = JobConfig(
            sources=sources,
            taxonomy=_taxonomy(taxonomy),
            tracking_uri=uri,
            model_name=model_name,
            columns=_columns(column, mapping),
            separator=skill_separator,
            limits=_limits(min_rate, max_rate),
            quarantine=quarantine,
            max_rejected=max_rejected,
            train=TrainConfig(
                horizon=horizon,
                targets=tuple(target) if target else None,
                workers=workers or default_workers(),
                executor=executor,
                ray_address=ray_address,
            ),
            force_promote=force_promote,
            store=store,
            full=full,
            tags=tags,
        )
        with report.JobDisplay(console, quiet=quiet) as display:
            done = run_job(config, hooks=display.hooks())
    console.print(
        report.metrics_table(model_name, done.registered.version, done.promoted, done.trained.metrics)
    )
    console.print(report.outcome(done))
    console.print(f"MLflow run {done.registered.run_id} in {masked(uri)}")


@app.command()
def monitor(
    data: Annotated[
        list[str],
        typer.Option(
            help="Postings that include the weeks after the version's data: a file or directory, or a "
            "postgresql:// URI with --table or --query; repeatable."
        ),
    ],
    version: Annotated[
        str | None, typer.Option(help="Registered version to score; default the champion.")
    ] = None,
    max_coverage_drop: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Drift: coverage of the 80% interval this far below the backtest's."
        ),
    ] = DriftLimits.max_coverage_drop,
    max_mase_ratio: Annotated[
        float, typer.Option(min=1.0, help="Drift: median MASE this many times the backtest's.")
    ] = DriftLimits.max_mase_ratio,
    table: Table = None,
    query: Query = None,
    column: Columns = None,
    mapping: Mapping = None,
    taxonomy: TaxonomyFile = None,
    skill_separator: SkillSeparator = Separator.AUTO,
    min_rate: MinRate = Limits.min_rate,
    max_rate: MaxRate = Limits.max_rate,
    model_name: ModelName = MODEL_NAME,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Score the champion (or --version) on the complete weeks after its data, against its backtest.

    Logs a monitoring run to MLflow, linked to the version, and keeps its headline on the version
    (the server's gauges and run --if-drifted read it there). Exits 3 when it finds drift, 0 when not.

    Example: gigcast-train monitor --data postings.parquet
    """
    from training.monitor import MonitorConfig, run_monitor

    uri = tracking_uri()
    with _exits():
        config = MonitorConfig(
            sources=_sources(data, table, query),
            taxonomy=_taxonomy(taxonomy),
            tracking_uri=uri,
            model_name=model_name,
            version=version,
            columns=_columns(column, mapping),
            separator=skill_separator,
            limits=_limits(min_rate, max_rate),
            drift=DriftLimits(max_coverage_drop=max_coverage_drop, max_mase_ratio=max_mase_ratio),
        )
        with console.status(f"scoring {model_name} version {version or '@champion'}"):
            done = run_monitor(config)
    drift = done.drift
    if as_json:
        findings = {
            "version": done.version,
            "weeks": [week.isoformat() for week in drift.weeks],
            "drifted": drift.drifted,
            "targets": drift.headline.to_dicts(),
            "drifted_series": drift.series.filter(drift.series["drifted"]).to_dicts(),
            "run_id": done.run_id,
        }
        typer.echo(json.dumps(findings, indent=2))
    else:
        console.print(report.drift_table(done))
        if drift.drifted:
            console.print(report.drifted_table(drift.series))
        console.print(f"MLflow monitoring run {done.run_id} in {masked(uri)}")
    if drift.drifted:
        console.print("[red]drift[/]: retrain with gigcast-train run --if-drifted")
        raise typer.Exit(3)


@app.command("promote")
def promote_version(
    version: Annotated[str, typer.Option(help="Registered version to make champion, e.g. 3.")],
    model_name: ModelName = MODEL_NAME,
) -> None:
    """Point @champion at a version by hand: to promote, or to roll back.

    Example: gigcast-train promote --version 3
    """
    from training.registry.tracking import promote

    with _exits():
        before = promote(tracking_uri=tracking_uri(), model_name=model_name, version=version)
    was = f" (was version {before})" if before else ""
    console.print(f"{model_name}@champion is version {version}{was}")


@app.command()
def runs(
    limit: Annotated[
        int, typer.Option(min=1, help="How many of the newest runs (all there are, when fewer).")
    ] = 10,
    model_name: ModelName = MODEL_NAME,
    skill: Annotated[
        str | None,
        typer.Option(
            help="One skill's figures instead (id, name or alias): its backtest in each version and "
            "what monitoring found of it."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
) -> None:
    """List recent training runs with their headline metrics; the champion is starred.

    Example: gigcast-train runs --limit 5 --skill "prompt engineering"
    """
    from training.registry.tracking import recent_runs

    # a name the taxonomy does not know is looked for by its slug, as training named it; text
    # without a slug (an emoji) by itself, so that the error quotes it
    skill_id = (_taxonomy(None).canonical(skill) or skill) if skill is not None else None
    with _exits():
        found = recent_runs(tracking_uri=tracking_uri(), model_name=model_name, limit=limit, skill=skill_id)
    if as_json:
        for row in found.iter_rows(named=True):
            typer.echo(json.dumps(row))
        return
    if skill_id is None:
        console.print(report.runs_table(model_name, found))
    else:
        console.print(report.skill_runs_table(model_name, skill_id, found))


def _busiest(accepted: pl.DataFrame, count: int) -> list[str]:
    skills = accepted["skills"].explode().value_counts(sort=True)
    return skills[accepted["skills"].explode().name].head(count).to_list()


def _taxonomy(path: Path | None) -> Taxonomy:
    from gigcast.taxonomy import load_taxonomy

    try:
        return load_taxonomy(path)
    except (OSError, KeyError, ValueError) as exc:
        console.print(f"[red]error:[/] taxonomy {path}: {exc}")
        raise typer.Exit(2) from None


def _columns(column: list[str] | None, mapping: Path | None) -> dict[str, str]:
    """Canonical column -> the export's own, from a mapping file and then --column pairs."""
    from training.data.columns import load_mapping, parse_pairs

    return {**(load_mapping(mapping) if mapping else {}), **parse_pairs(column or [])}


def _limits(min_rate: float, max_rate: float) -> Limits:
    try:
        return Limits(min_rate=min_rate, max_rate=max_rate)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--min-rate/--max-rate") from None


@contextlib.contextmanager
def _exits() -> Iterator[None]:
    """Input that cannot be read is one line and exit 2; data that cannot be trained on, exit 1."""
    from mlflow.exceptions import MlflowException
    from rich.markup import escape
    from sqlalchemy.exc import SQLAlchemyError

    from gigcast.registry import RegistryUnavailableError
    from training.data.columns import ColumnError
    from training.data.database import DatabaseError
    from training.data.ingest import IngestError
    from training.data.quarantine import QuarantineError
    from training.data.store import StoreBusyError, StoreError
    from training.monitoring.drift import MonitoringError
    from training.pipeline import TrainingError
    from training.registry.tracking import RegistryError

    try:
        yield
    # held by another process past the wait (a SQLite registry), or now (a store): a later run goes on
    except (RegistryUnavailableError, StoreBusyError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    # OSError: a file we write; RegistryError: a version or champion that cannot be had
    except (
        IngestError,
        QuarantineError,
        ColumnError,
        DatabaseError,
        StoreError,
        OSError,
        RegistryError,
    ) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    except (MlflowException, SQLAlchemyError) as exc:  # a registry that is down or refuses
        console.print(f"[red]error:[/] MLflow: {escape(str(exc).splitlines()[0])}", highlight=False)
        raise typer.Exit(1) from None
    except (TrainingError, MonitoringError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None


def _sources(values: list[str], table: str | None, query: str | None) -> list[Source]:
    """Each ``--data`` value as a file or directory, or as the database table or query it names."""
    from training.data.database import DatabaseSource, is_database

    databases = [value for value in values if is_database(value)]
    if (table or query) and not databases:
        raise typer.BadParameter("--table and --query read from a postgresql:// source; none was given")
    if databases and not (table or query):
        raise typer.BadParameter("a postgresql:// source needs --table NAME or --query SQL")
    if table and query:
        raise typer.BadParameter("give --table or --query, not both", param_hint="--query")
    return [
        DatabaseSource(uri=value, table=table, query=query) if is_database(value) else Path(value)
        for value in values
    ]


def _ingest(
    sources: list[Source],
    column: list[str] | None,
    mapping: Path | None,
    taxonomy: Path | None,
    separator: Separator,
    limits: Limits,
    quarantine: Path | None,
) -> IngestResult:
    """Ingest with the shared flags, as validate and plot do."""
    from training.data.database import named
    from training.data.ingest import ingest
    from training.data.quarantine import write_quarantine

    with _exits(), console.status(f"reading {', '.join(map(named, sources))}"):
        result = ingest(
            sources,
            taxonomy=_taxonomy(taxonomy),
            columns=_columns(column, mapping),
            limits=limits,
            separator=separator,
        )
    if quarantine is not None:
        with _exits():
            write_quarantine(result.quarantined, quarantine)
    return result


def _check_quarantine(quarantine: Path | None, sources: list[Source]) -> None:
    """Refuses a --quarantine file that would overwrite an input, before anything is read."""
    from training.data.quarantine import check_target

    if quarantine is not None:
        with _exits():
            check_target(quarantine, [source for source in sources if isinstance(source, Path)])
