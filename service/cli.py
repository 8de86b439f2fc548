"""``gigcast-serve``: serve the champion model over gRPC."""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from gigcast.settings import CHAMPION_ALIAS, DEFAULT_PORT, MODEL_NAME, tracking_uri
from gigcast.uris import masked
from service.logs import LogFormat, configure_logging
from service.server import ServeConfig

# Settings of MLflow's client, for the child processes that ask the registry (service.registry),
# which inherit them; MLflow itself is never imported by the server.
# Bundles are fetched once per version; MLflow's download bars would only clutter the log.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# A registry that is down should fall back to the cache in seconds, not after MLflow's minutes of
# retries; the alias is asked again at the next poll anyway. The timeout is the REST client's too.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")

app = typer.Typer(add_completion=False)
PROBE_BYTES = 4096  # what the cache must take at start: a block of most file systems
log = logging.getLogger("gigcast.serve")


def _finite(value: float) -> float:
    """Refuse NaN, which passes every range check."""
    if not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number")
    return value


@app.command()
def main(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = DEFAULT_PORT,
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = MODEL_NAME,
    alias: Annotated[str, typer.Option(help="Registry alias to serve.")] = CHAMPION_ALIAS,
    poll_seconds: Annotated[
        float,
        typer.Option(
            min=0.0, max=86_400.0, callback=_finite, help="How often to look for a new champion; 0 never."
        ),
    ] = 30.0,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Where downloaded bundles are kept; default ~/.cache/gigcast.")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes sharing the port (SO_REUSEPORT), one per core; a free port is needed, "
            "and a worker that dies is replaced.",
        ),
    ] = 1,
    metrics_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Serve Prometheus /metrics here; 0 picks a port.")
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="PEM certificate chain (with --tls-key).")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="PEM private key of the certificate.")
    ] = None,
    auth_tokens: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Bearer tokens, one per line; every call needs one."),
    ] = None,
    log_format: Annotated[
        LogFormat, typer.Option(help="auto: text on a terminal, JSON lines otherwise.")
    ] = LogFormat.auto,
    answer_cache_mb: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1_048_576.0,
            callback=_finite,
            help="Answers kept to be sent again when asked again; 0 keeps none.",
        ),
    ] = 64.0,
) -> None:
    """Serve gigcast.v1.ForecastService from the model at MODEL_NAME@ALIAS.

    Tracking URI: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working folder.

    Example: gigcast-serve --port 50051 --metrics-port 9464 --workers 2
    """
    from gigcast.registry import default_cache_dir
    from service.server import check_tls, read_tokens

    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("give both --tls-cert and --tls-key, or neither", param_hint="--tls-cert")
    if tls_cert is not None and tls_key is not None:
        try:
            check_tls(tls_cert, tls_key)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--tls-cert") from None
    try:
        tokens = read_tokens(auth_tokens) if auth_tokens else frozenset()
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--auth-tokens") from None
    cache_dir = cache_dir or default_cache_dir()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # a block written and synced: a full file system, or one over its quota, says so now, not
        # halfway through a download (creating an empty file needs no space)
        with tempfile.TemporaryFile(dir=cache_dir) as probe:
            probe.write(bytes(PROBE_BYTES))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        why = f"cannot write bundles to {cache_dir}: {exc.strerror}"
        raise typer.BadParameter(why, param_hint="--cache-dir") from None
    configure_logging(log_format)
    config = ServeConfig(
        tracking_uri=tracking_uri(),
        name=model_name,
        alias=alias,
        cache_dir=cache_dir,
        host=host,
        port=port,
        poll_seconds=poll_seconds,
        tls_cert=tls_cert,
        tls_key=tls_key,
        auth_tokens=tokens,
        answer_cache_mb=answer_cache_mb,
    )
    if workers > 1:
        from service.workers import serve_workers

        code = serve_workers(config, workers, log_format=log_format, metrics_port=metrics_port, target=run)
        raise typer.Exit(code)
    if metrics_port is not None:
        from service.metrics import serve_metrics

        try:
            bound = serve_metrics(host, metrics_port)
        except OSError as exc:
            why = f"cannot serve metrics on {host}:{metrics_port}: {exc.strerror}"
            raise typer.BadParameter(why, param_hint="--metrics-port") from None
        log.info("metrics on http://%s:%d/metrics", host, bound, extra={"metrics_port": bound})
    raise typer.Exit(run(config))


def run(config: ServeConfig) -> int:
    """Serve in this process; a model that cannot be loaded, or a port taken, is one line and 1."""
    from gigcast.bundle import BundleError
    from service.registry import RegistryError
    from service.server import serve
    from service.store import ModelNotFoundError, NothingToServeError

    try:
        serve(config)
    except (RegistryError, BundleError, ModelNotFoundError, NothingToServeError) as exc:
        print(
            f"gigcast-serve: cannot load {config.name}@{config.alias} "
            f"from {masked(config.tracking_uri)}: {exc}",
            file=sys.stderr,
        )
        return 1
    except RuntimeError as exc:  # grpc's "Failed to bind to address"
        print(f"gigcast-serve: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    return 0
