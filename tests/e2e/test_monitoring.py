"""The ML engineer's loop: train, serve, monitor, retrain only on drift, with gigcast-train's
commands run in this process (as cron would run them, less the interpreter's start) beside a
real ``gigcast-serve``.

Two synthetic markets share their seed and every posting up to a week: in one, three series
change regime from that week (one skill's demand falls to 30%, another's rises 2.5 times, a
third skill's rates rise by 60%); the other goes on as before. The champion is trained on the
weeks both share, so monitoring it on each market's later weeks must find exactly the three
changed series in the first and nothing in the second, and ``run --if-drifted`` must train only
after the first.
"""

from __future__ import annotations

import json
import math
import urllib.request
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from mlflow import MlflowClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner, Result

from gigcast.monitored import Monitored
from gigcast.settings import CHAMPION_ALIAS, MONITORING_EXPERIMENT
from tests.e2e.helpers import Market, serving, until, wait_for
from training.cli import app

END = "2026-11-22"
SHIFT = date(2026, 9, 28)  # eight weeks before the markets end
SHIFTS = [
    f"{SHIFT}:data-analysis:level=0.3",
    f"{SHIFT}:prompt-engineering:level=2.5",
    f"{SHIFT}:machine-learning:rate=1.6",
]
CHANGED = {("data-analysis", "demand"), ("prompt-engineering", "demand"), ("machine-learning", "rate")}
runner = CliRunner()


def gigcast_train(market: Market, *args: str) -> Result:
    return runner.invoke(app, list(args), env={"MLFLOW_TRACKING_URI": market.env["MLFLOW_TRACKING_URI"]})


@pytest.fixture(scope="module")
def markets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Market, Path, Path]:
    """A registry whose champion knows the shared weeks, and the two markets' postings."""
    folder = tmp_path_factory.mktemp("loop")
    synth = ["synth", "--skills", "8", "--weeks", "60", "--end", END, "--seed", "3"]
    market = Market(folder, folder / "shared.parquet")
    assert gigcast_train(market, *synth, "--out", str(folder / "calm.parquet")).exit_code == 0
    shifted = [f"--shift={shift}" for shift in SHIFTS]
    assert gigcast_train(market, *synth, *shifted, "--out", str(folder / "shifted.parquet")).exit_code == 0
    calm, changed = (pl.read_parquet(folder / f"{name}.parquet") for name in ("calm", "shifted"))
    before = pl.col("posted_at") < SHIFT.isoformat()
    assert calm.filter(before).equals(changed.filter(before))  # one market until the shift
    calm.filter(before).write_parquet(market.postings)
    trained = gigcast_train(market, "run", "--data", str(market.postings), "--horizon", "8", "--quiet")
    assert trained.exit_code == 0, trained.output
    return market, folder / "calm.parquet", folder / "shifted.parquet"


def monitor(market: Market, data: Path) -> tuple[int, dict[str, object]]:
    done = gigcast_train(market, "monitor", "--data", str(data), "--json")
    assert done.exit_code in (0, 3), done.output
    return done.exit_code, json.loads(done.stdout)


def gauges(port: int) -> dict[tuple[str, str], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {
        (sample.name, sample.labels.get("target", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(("gigcast_monitored_", "gigcast_model_version"))
    }


def show(findings: dict[str, object], version: str) -> dict[tuple[str, str], float]:
    """What the server's gauges hold once it has read a monitoring run's ``findings``."""
    targets = findings["targets"]
    assert isinstance(targets, list)
    shown = {("gigcast_model_version", ""): float(version)}
    shown[("gigcast_monitored_drifted", "")] = float(bool(findings["drifted"]))
    for row in targets:
        shown[("gigcast_monitored_coverage", row["target"])] = row["coverage_80"]
        shown[("gigcast_monitored_mase_ratio", row["target"])] = row["mase_ratio"]
    return shown


def showing(port: int, wanted: dict[tuple[str, str], float]) -> bool:
    shown = gauges(port)
    return all(
        key in shown and (math.isclose(shown[key], value) or (math.isnan(shown[key]) and math.isnan(value)))
        for key, value in wanted.items()
    )


def test_monitor_finds_exactly_the_changed_series_and_run_if_drifted_retrains_only_then(
    markets: tuple[Market, Path, Path],
) -> None:
    market, calm, shifted = markets
    uri = market.env["MLFLOW_TRACKING_URI"]
    client = MlflowClient(tracking_uri=uri)
    first = client.get_model_version_by_alias("gigcast", CHAMPION_ALIAS)
    version = str(first.version)
    flags = ["--poll-seconds=0.2", "--metrics-port=0"]
    with serving(market, *flags) as (_, lines):
        port = int(wait_for(lines, r"metrics on http://127\.0\.0\.1:(\d+)", 60).group(1))
        wait_for(lines, f"SERVING gigcast version {version}", 120)

        code, found = monitor(market, calm)  # the market went on as before
        assert code == 0 and found["drifted"] is False and found["drifted_series"] == []
        assert found["version"] == version and len(found["weeks"]) == 8  # type: ignore[arg-type]
        run = client.get_run(str(found["run_id"]))
        assert run.data.tags["gigcast.model_version"] == version
        assert run.data.tags["gigcast.training_run"] == first.run_id
        assert client.get_experiment(run.info.experiment_id).name == MONITORING_EXPERIMENT
        logged = {
            artifact.path
            for folder in ("tables", "plots")
            for artifact in client.list_artifacts(run.info.run_id, folder)
        }
        assert {"tables/monitoring.csv", "tables/headline.csv", "plots/worst.png"} <= logged
        for row in found["targets"]:  # type: ignore[union-attr]
            assert run.data.metrics[f"{row['target']}_coverage_80"] == pytest.approx(row["coverage_80"])
        tagged = Monitored.from_tags(client.get_model_version("gigcast", version).tags)
        assert tagged is not None and tagged.run_id == run.info.run_id and not tagged.drifted
        assert until(lambda: showing(port, show(found, version)), 30), gauges(port)

        nothing = gigcast_train(market, "run", "--if-drifted", "--data", str(calm), "--quiet")
        assert nothing.exit_code == 0 and "has not drifted" in nothing.output, nothing.output
        assert len(client.search_model_versions("name='gigcast'")) == 1

        code, found = monitor(market, shifted)  # three series changed regime
        assert code == 3 and found["drifted"] is True
        flagged = {(row["skill"], row["target"]) for row in found["drifted_series"]}  # type: ignore[union-attr]
        assert flagged == CHANGED
        assert until(lambda: showing(port, show(found, version)), 30), gauges(port)

        retrained = gigcast_train(
            market, "run", "--if-drifted", "--data", str(shifted), "--horizon", "8", "--quiet"
        )
        assert retrained.exit_code == 0, retrained.output
        assert "drifted" in retrained.output
        versions = {str(v.version): v for v in client.search_model_versions("name='gigcast'")}
        assert set(versions) == {version, "2"}
        new_run = client.get_run(versions["2"].run_id)
        assert new_run.data.tags["gigcast.monitoring_run"] == found["run_id"]
        assert new_run.data.tags["gigcast.drifted_version"] == version
        promoted = new_run.data.tags["gigcast.promoted"] == "true"  # the usual gate decided
        champion = str(client.get_model_version_by_alias("gigcast", CHAMPION_ALIAS).version)
        assert champion == ("2" if promoted else version)
        if promoted:  # a version never monitored: no figures of the one before
            wait_for(lines, "swapped to gigcast version 2", 60)
            nan = math.nan
            blank = {("gigcast_monitored_coverage", "demand"): nan, ("gigcast_monitored_drifted", ""): nan}
            assert until(lambda: showing(port, blank), 30), gauges(port)

    history = gigcast_train(market, "runs", "--skill", "Data Analysis", "--json")
    rows = {row["version"]: row for row in map(json.loads, history.stdout.splitlines())}
    assert set(rows) == {version, "2"}
    changed = next(
        row
        for row in found["drifted_series"]
        if row["skill"] == "data-analysis"  # type: ignore[union-attr]
    )
    assert rows[version]["monitored_demand_mase"] == pytest.approx(changed["mase"])
    assert rows[version]["monitored_demand_coverage_80"] == pytest.approx(changed["coverage"])
    assert rows["2"]["demand_mase"] is not None and rows["2"]["monitored_demand_mase"] is None
