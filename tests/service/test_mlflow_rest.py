"""The REST client the server polls a team's ``mlflow server`` with: it answers as MLflow's client does,
and sends the credentials MLflow's client would send."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from gigcast import registry as in_process
from gigcast.bundle import Target
from gigcast.monitored import Monitored
from service import mlflow_rest
from tests.e2e.test_team_mlflow import mlflow_server

SETTINGS = (
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    *mlflow_rest.NEEDS_MLFLOW,
)


class Recorder(http.server.ThreadingHTTPServer):
    """An HTTP server that notes each request's path and Authorization and answers MLflow's 404."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str | None]] = []


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:
        self.server.seen.append((self.path.partition("?")[0], self.headers.get("Authorization")))
        body = json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such alias"}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Recorder]:
    for setting in SETTINGS:
        monkeypatch.delenv(setting, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.mlflow/credentials but the test's own
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    server = Recorder()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def authorization(recorder: Recorder, ask: object) -> str | None:
    """The Authorization that ``ask()`` sent with its question for the alias."""
    recorder.seen.clear()
    with contextlib.suppress(MlflowException):  # MLflow's client raises on the 404 where ours answers None
        ask()  # type: ignore[operator]
    (sent,) = [auth for path, auth in recorder.seen if path == mlflow_rest.ALIAS_PATH]
    return sent


@pytest.mark.parametrize(
    ("settings", "user"),
    [
        ({}, ""),
        ({"MLFLOW_TRACKING_USERNAME": "ann", "MLFLOW_TRACKING_PASSWORD": "pw"}, ""),
        ({"MLFLOW_TRACKING_TOKEN": "t0ken"}, ""),
        (
            {
                "MLFLOW_TRACKING_USERNAME": "ann",
                "MLFLOW_TRACKING_PASSWORD": "pw",
                "MLFLOW_TRACKING_TOKEN": "t",
            },
            "",
        ),
        ({"MLFLOW_TRACKING_USERNAME": "ann"}, ""),  # no password: no basic auth
        ({}, "bob:secret@"),
        ({"MLFLOW_TRACKING_TOKEN": "t0ken"}, "bob:secret@"),
        ({"MLFLOW_TRACKING_USERNAME": "ann", "MLFLOW_TRACKING_PASSWORD": "pw"}, "bob:secret@"),
        (
            {"credentials file": "[mlflow]\nmlflow_tracking_username = cid\nmlflow_tracking_password = pw\n"},
            "",
        ),
    ],
)
def test_the_credentials_sent_are_those_mlflows_client_sends(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: dict[str, str], user: str
) -> None:
    for setting, value in settings.items():
        if setting == "credentials file":
            (tmp_path / ".mlflow").mkdir()
            (tmp_path / ".mlflow" / "credentials").write_text(value)
        else:
            monkeypatch.setenv(setting, value)
    uri = f"http://{user}127.0.0.1:{recorder.server_address[1]}"
    theirs = authorization(
        recorder, lambda: MlflowClient(tracking_uri=uri).get_model_version_by_alias("m", "a")
    )
    ours = authorization(
        recorder, lambda: mlflow_rest.version_by_alias(tracking_uri=uri, name="m", alias="a", timeout=5)
    )
    assert ours == theirs
    assert mlflow_rest.version_by_alias(tracking_uri=uri, name="m", alias="a", timeout=5) is None


def test_settings_only_mlflows_client_honours_send_the_question_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert mlflow_rest.plain("https://mlflow.internal") and not mlflow_rest.plain("sqlite:///mlflow.db")
    for setting in mlflow_rest.NEEDS_MLFLOW:
        with monkeypatch.context() as patched:
            patched.setenv(setting, "something")
            assert not mlflow_rest.plain("https://mlflow.internal"), setting


def test_a_team_server_answers_the_rest_client_as_it_answers_mlflows(tmp_path: Path) -> None:
    with mlflow_server(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}") as registry:
        client = MlflowClient(tracking_uri=registry.uri)
        client.create_registered_model("gigcast")
        run = client.create_run("0").info
        for _ in range(2):
            client.create_model_version("gigcast", source=f"{run.artifact_uri}/model", run_id=run.run_id)
        client.set_registered_model_alias("gigcast", "champion", "2")
        monitored = Monitored(
            run_id=run.run_id,
            through=date(2026, 11, 30),
            drifted=False,
            coverage={Target.DEMAND: 0.8125},
            mase_ratio={Target.DEMAND: 0.9, Target.RATE: 1.25},
        )
        for key, value in {**monitored.tags(), "owner": "pricing team"}.items():
            client.set_model_version_tag("gigcast", "2", key, value)

        ours = mlflow_rest.version_by_alias(
            tracking_uri=registry.uri, name="gigcast", alias="champion", timeout=10
        )
        theirs = in_process.version_by_alias(tracking_uri=registry.uri, name="gigcast", alias="champion")
        assert ours is not None and theirs is not None
        assert (
            (ours, ours.tags) == (theirs, theirs.tags) and ours.version == "2" and ours.run_id == run.run_id
        )
        assert Monitored.from_tags(ours.tags) == monitored
        assert (
            mlflow_rest.version_by_alias(
                tracking_uri=registry.uri, name="gigcast", alias="staging", timeout=10
            )
            is None
        )
        assert (
            mlflow_rest.version_by_alias(
                tracking_uri=registry.uri, name="other", alias="champion", timeout=10
            )
            is None
        )
