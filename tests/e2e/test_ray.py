"""`gigcast-train run --executor ray` trains, registers and serves the same model as local processes."""

from __future__ import annotations

from pathlib import Path

from gigcast.bundle import read_bundle
from gigcast.registry import RegisteredVersion, fetch_bundle
from service.registry import Alias
from service.store import fetch
from tests.e2e.helpers import small_market


def test_ray_and_local_executors_register_the_same_forecasts(tmp_path: Path) -> None:
    market = small_market(tmp_path, seed=2)
    uri = market.env["MLFLOW_TRACKING_URI"]
    for executor in ("ray", "local"):  # version 1 by Ray, version 2 by local processes
        market.train("--workers", "2", "--executor", executor)

    served = fetch(Alias(tracking_uri=uri, name="gigcast", alias="champion", cache_dir=tmp_path / "cache"))
    assert served.version == "1"  # the local run ties it, and a tie keeps the champion
    entry = served.index.find_skill("prompt engineering")
    assert entry is not None
    estimate = served.index.estimate_rate(entry, level="expert", country="US", offset=0)
    assert 0 < estimate.p10 < estimate.p50 < estimate.p90

    by_ray, by_local = (
        read_bundle(
            fetch_bundle(
                tracking_uri=uri, version=RegisteredVersion("gigcast", v, ""), cache_dir=tmp_path / v
            )
        )
        for v in ("1", "2")
    )
    assert by_ray.demand.equals(by_local.demand)
    assert by_ray.rates.equals(by_local.rates)
