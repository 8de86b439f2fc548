"""The whole path with the real commands: synth → train → MLflow champion → gRPC → CLI."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from client.cli import app
from tests.e2e.helpers import Market, command, copied, lines_of, wait_for


@pytest.fixture(scope="module")
def market(trained_market: Market, tmp_path_factory: pytest.TempPathFactory) -> Market:
    """The session's market, synthesised as CSV and trained by ``gigcast-train run``: this module's copy."""
    return copied(trained_market, tmp_path_factory.mktemp("e2e"))


@pytest.fixture(scope="module")
def workdir(market: Market) -> Path:
    return market.folder


@pytest.fixture(scope="module")
def env(market: Market) -> dict[str, str]:
    return market.env


@pytest.fixture(scope="module")
def trained(market: Market) -> Path:
    """The postings version 1 was trained on."""
    return market.postings


@pytest.fixture(scope="module")
def server(trained: Path, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    serve = [command("gigcast-serve"), "--port", "0", "--cache-dir", str(workdir / "cache")]
    process = subprocess.Popen(serve, cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
    try:
        lines = lines_of(process.stderr)
        match = wait_for(lines, r"SERVING gigcast version 1 .* on 127\.0\.0\.1:(\d+)", 120)
        yield f"127.0.0.1:{match.group(1)}"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_rate_answers_in_dollars_per_hour(server: str) -> None:
    args = [
        "--target",
        server,
        "rate",
        "prompt engineering",
        "--level",
        "expert",
        "--country",
        "US",
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)["estimate"]
    assert answer["skill"] == "prompt-engineering"
    assert 3 <= answer["p10"] <= answer["p50"] <= answer["p90"] <= 1000
    assert answer["model"] == {"name": "gigcast", "version": "1"}


def test_demand_gives_the_weeks_asked(server: str) -> None:
    args = ["--target", server, "demand", "prompt engineering", "--weeks", "8", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    points = json.loads(result.output)["points"]
    assert len(points) == 8
    assert all(p["p10"] <= p["p50"] <= p["p90"] for p in points)


def test_readable_output_and_unknown_skill(server: str) -> None:
    result = CliRunner().invoke(app, ["--target", server, "rate", "Prompt Engineering"])
    assert result.exit_code == 0
    assert "p50" in result.output and "/h" in result.output
    missing = CliRunner().invoke(app, ["--target", server, "rate", "prompt enginering"])
    assert missing.exit_code == 4
    assert "did you mean prompt-engineering" in missing.output


def test_second_run_keeps_the_champion(trained: Path, workdir: Path, env: dict[str, str]) -> None:
    again = [command("gigcast-train"), "run", "--data", str(trained), "--if-no-champion", "--quiet"]
    done = subprocess.run(again, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "nothing to train" in done.stderr


def test_registered_model_loads_as_a_pyfunc(trained: Path, env: dict[str, str]) -> None:
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    model = mlflow.pyfunc.load_model("models:/gigcast@champion")
    frame = pd.DataFrame(
        {
            "skill": ["Prompt Engineering", "prompt engineering  "],
            "experience_level": ["expert", None],
            "country": ["US", None],
        }
    )
    answer = model.predict(frame)
    assert list(answer["skill"]) == ["prompt-engineering", "prompt-engineering"]
    assert (answer["p10"] <= answer["p50"]).all() and (answer["p50"] <= answer["p90"]).all()
    assert answer["p50"][0] > answer["p50"][1]  # an expert in the US charges more than the market median
    assert (answer["observations"] > 0).all() and answer["data_as_of"].nunique() == 1


def test_a_worse_or_equal_model_does_not_take_over_unless_forced(
    trained: Path, workdir: Path, env: dict[str, str]
) -> None:
    train = [command("gigcast-train"), "run", "--data", str(trained), "--horizon", "12", "--quiet"]
    same = subprocess.run(train, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert same.returncode == 0, same.stderr
    assert "does not beat the champion" in same.stderr and "@champion stays version 1" in same.stderr
    forced = subprocess.run(
        [*train, "--force-promote"], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )
    assert forced.returncode == 0 and "(forced)" in forced.stderr

    listed = subprocess.run(
        [command("gigcast-train"), "runs", "--json"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["version"], r["champion"]) for r in rows] == [("3", True), ("2", False), ("1", False)]
    assert rows[0]["demand_mase"] is not None

    back = [command("gigcast-train"), "promote", "--version", "1"]
    rolled = subprocess.run(back, cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert rolled.returncode == 0 and "is version 1 (was version 3)" in rolled.stderr
    missing = subprocess.run(
        [*back[:-1], "9"], cwd=workdir, env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2 and "has no version 9" in missing.stderr


def test_sighup_drains_and_stops_with_a_log_line(trained: Path, workdir: Path, env: dict[str, str]) -> None:
    serve = [
        command("gigcast-serve"),
        "--port",
        "0",
        "--cache-dir",
        str(workdir / "cache"),
        "--log-format",
        "text",
    ]
    process = subprocess.Popen(serve, cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
    try:
        lines = lines_of(process.stderr)
        wait_for(lines, r"SERVING gigcast version", 120)
        process.send_signal(signal.SIGHUP)
        wait_for(lines, r"stopping on SIGHUP: draining", 30)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
