"""The registered pyfunc behind MLflow's own scoring server: a batch with rows it cannot answer is
answered whole, each row with its status, never refused with a 400 and a stack trace."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from gigcast.bundle import BUNDLE_ARTIFACT, write_bundle
from gigcast.lookup import ForecastIndex
from gigcast.pyfunc import MODEL_CODE, OUTPUTS, signature
from tests.conftest import skills_with_postings
from tests.e2e.helpers import BIN, command, wait_for_http
from tests.serving import free_port
from training.pipeline import Trained

#: MLflow's scoring server, in this environment as a notebook user's would be.
SERVE = (command("mlflow"), "models", "serve", "--env-manager", "local")


@contextlib.contextmanager
def scoring_server(model: Path, folder: Path) -> Iterator[str]:
    """``mlflow models serve`` of ``model`` on loopback, in this environment; its address."""
    port = free_port()
    log = folder / "scoring-server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*SERVE, "-m", str(model), "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},  # its uvicorn
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its uvicorn workers stop with it
        )
    address = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{address}/ping", server, log)
        yield address
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


def invoke(address: str, records: list[dict[str, str]]) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{address}/invocations",
        data=json.dumps({"dataframe_records": records}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def test_a_batch_with_rows_it_cannot_answer_is_answered_row_by_row(trained: Trained, tmp_path: Path) -> None:
    import mlflow

    skill = skills_with_postings(ForecastIndex(trained.bundle))[0]
    mlflow.pyfunc.save_model(  # as the trainer logs it
        path=tmp_path / "model",
        python_model=str(MODEL_CODE),
        artifacts={BUNDLE_ARTIFACT: str(write_bundle(trained.bundle, tmp_path / "bundle"))},
        code_paths=[str(resources.files("gigcast"))],
        signature=signature(),
        input_example=pd.DataFrame({"skill": [skill], "experience_level": ["expert"], "country": ["US"]}),
        pip_requirements=["mlflow", "pandas", "polars", "pycountry"],
    )
    rows = [
        {"skill": skill, "experience_level": "expert", "country": "US"},
        {"skill": "basket weaving", "experience_level": "expert", "country": "US"},
        {"skill": skill, "experience_level": "senior", "country": "US"},
        {"skill": skill, "experience_level": "entry", "country": "PL"},
    ]
    with scoring_server(tmp_path / "model", tmp_path) as address:
        code, body = invoke(address, rows)
    assert code == 200, body
    answers = body["predictions"]
    assert [row["status"] for row in answers] == ["OK", "NOT_FOUND", "INVALID_ARGUMENT", "OK"]
    assert all(set(row) == set(OUTPUTS) for row in answers)
    good, unknown, senior, entry = answers
    assert good["skill"] == skill and good["error"] == "" and good["p10"] <= good["p50"] <= good["p90"]
    assert entry["p50"] < good["p50"] and entry["observations"] > 0  # answered as a row of its own
    assert unknown["error"].startswith("skill: unknown skill 'basket weaving'")
    assert senior["error"].startswith("experience_level: 'senior' is not one of")
    assert unknown["p50"] is None and unknown["observations"] is None and unknown["skill"] is None
