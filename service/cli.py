"""``gigcast-serve``: serve the champion model over gRPC."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from gigcast.settings import CHAMPION_ALIAS, DEFAULT_PORT, MODEL_NAME, tracking_uri

# Bundles are fetched once at start; MLflow's download bars would only clutter the log.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

app = typer.Typer(add_completion=False)


@app.command()
def main(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = DEFAULT_PORT,
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = MODEL_NAME,
    alias: Annotated[str, typer.Option(help="Registry alias to serve.")] = CHAMPION_ALIAS,
    poll_seconds: Annotated[
        float, typer.Option(min=0.0, help="How often to look for a new champion; 0 never.")
    ] = 30.0,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Where downloaded bundles are kept; default ~/.cache/gigcast.")
    ] = None,
) -> None:
    """Serve gigcast.v1.ForecastService from the model at MODEL_NAME@ALIAS.

    Tracking URI: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working folder.

    Example: gigcast-serve --port 50051
    """
    from mlflow.exceptions import MlflowException

    from gigcast.bundle import BundleError
    from gigcast.registry import default_cache_dir
    from service.server import serve
    from service.store import ModelNotFoundError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uri = tracking_uri()
    try:
        asyncio.run(
            serve(
                host=host,
                port=port,
                tracking_uri=uri,
                name=model_name,
                alias=alias,
                cache_dir=cache_dir or default_cache_dir(),
                poll_seconds=poll_seconds,
            )
        )
    except (MlflowException, BundleError, ModelNotFoundError) as exc:
        typer.echo(f"gigcast-serve: cannot load {model_name}@{alias} from {uri}: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass
