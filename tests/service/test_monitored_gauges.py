"""``gigcast-serve`` shows the champion's data age and latest monitoring figures at /metrics.

A real server with ``--workers 2`` (each worker's gauges through prometheus' multiprocess mode)
follows a SQLite registry whose version tags are set as ``gigcast-train monitor`` sets them.
One process, after a real monitoring run, is tested in tests/e2e/test_monitoring.py.
"""

from __future__ import annotations

import math
import urllib.request
from datetime import date
from pathlib import Path

from mlflow import MlflowClient
from prometheus_client.parser import text_string_to_metric_families

from gigcast.bundle import Target
from gigcast.monitored import Monitored, data_age_weeks
from tests.conftest import register
from tests.e2e.helpers import Market, serving, until, wait_for
from training.pipeline import Trained
from training.registry.tracking import promote

COVERAGE = "gigcast_monitored_coverage"
MASE_RATIO = "gigcast_monitored_mase_ratio"
DRIFTED = "gigcast_monitored_drifted"
DATA_AGE = "gigcast_data_age_weeks"
VERSION = "gigcast_model_version"
#: Seconds for a change in the registry to show: a poll that finds the file changed asks a child
#: process that loads MLflow, seconds of CPU each, and each worker asks for itself.
WAIT = 60

Shown = dict[tuple[str, str], float]


def scrape(port: int) -> Shown:
    """The samples of the model's gauges at /metrics, by name and target ('' for none)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {
        (sample.name, sample.labels.get("target", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in (COVERAGE, MASE_RATIO, DRIFTED, DATA_AGE, VERSION)
    }


def figures(monitored: Monitored | None) -> Shown:
    """The monitored samples that show ``monitored``: NaN for every figure it lacks."""
    coverage = monitored.coverage if monitored else {}
    mase_ratio = monitored.mase_ratio if monitored else {}
    shown = {(COVERAGE, str(t)): coverage.get(t, math.nan) for t in Target}
    shown |= {(MASE_RATIO, str(t)): mase_ratio.get(t, math.nan) for t in Target}
    return shown | {(DRIFTED, ""): math.nan if monitored is None else float(monitored.drifted)}


def shows(port: int, monitored: Monitored | None, version: str) -> bool:
    shown = scrape(port)
    wanted = figures(monitored) | {(VERSION, ""): float(version)}
    return all(key in shown and _same(shown[key], value) for key, value in wanted.items())


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def tag(uri: str, version: str, monitored: Monitored) -> None:
    """Tag ``version`` with ``monitored`` as gigcast-train monitor does."""
    client = MlflowClient(tracking_uri=uri)
    for key, value in monitored.tags().items():
        client.set_model_version_tag("gigcast", version, key, value)


def untag(uri: str, version: str, monitored: Monitored) -> None:
    client = MlflowClient(tracking_uri=uri)
    for key in monitored.tags():
        client.delete_model_version_tag("gigcast", version, key)


def test_the_champions_data_age_and_monitoring_figures_are_gauges(trained: Trained, tmp_path: Path) -> None:
    workers = 2
    market = Market(tmp_path, tmp_path / "postings.parquet")  # serving only: nothing is trained here
    uri = market.env["MLFLOW_TRACKING_URI"]
    first = register(uri, trained, tmp_path / "first")
    promote(tracking_uri=uri, model_name="gigcast", version=first)
    run = MlflowClient(tracking_uri=uri).create_run("0").info.run_id  # the monitoring run
    drifted = Monitored(
        run_id=run,
        through=trained.bundle.manifest.first_forecast_week,
        drifted=True,
        coverage={Target.DEMAND: 0.55, Target.RATE: 0.8125},
        mase_ratio={Target.DEMAND: 1.75, Target.RATE: 0.9375},
    )
    calm = Monitored(
        run_id=run,
        through=trained.bundle.manifest.first_forecast_week,
        drifted=False,
        coverage={Target.RATE: 0.78},  # a figure for one target only: the other is NaN
        mase_ratio={Target.RATE: 1.0625},
    )
    flags = [f"--workers={workers}", "--poll-seconds=0.2", "--metrics-port=0"]
    with serving(market, *flags) as (_, lines):
        port = int(wait_for(lines, r"metrics (?:of \d+ workers )?on http://127\.0\.0\.1:(\d+)", 60).group(1))
        for _ in range(workers):
            wait_for(lines, f"SERVING gigcast version {first}", 120)
        shown = scrape(port)
        assert shown[DATA_AGE, ""] == data_age_weeks(trained.bundle.manifest.data_end, today=date.today())
        assert shows(port, None, first), shown  # never monitored: no figures

        tag(uri, first, drifted)  # a monitoring run tags the serving version: it stays served
        assert until(lambda: shows(port, drifted, first), WAIT), scrape(port)

        second = register(uri, trained, tmp_path / "second")
        promote(tracking_uri=uri, model_name="gigcast", version=second)  # a version never monitored
        for _ in range(workers):
            wait_for(lines, f"swapped to gigcast version {second}", 60)
        assert until(lambda: shows(port, None, second), WAIT), scrape(port)  # not the first one's figures

        tag(uri, second, calm)
        assert until(lambda: shows(port, calm, second), WAIT), scrape(port)
        untag(uri, second, calm)  # its figures withdrawn: none shown, the version unchanged
        assert until(lambda: shows(port, None, second), WAIT), scrape(port)
        assert scrape(port)[DATA_AGE, ""] == shown[DATA_AGE, ""]
