"""`make run` on a fresh folder, step by step: how long until the server answers.

The steps are the Makefile's, on its default market (100 skills, 156 weeks): `gigcast-train
synth`, `gigcast-train run --if-no-champion` (registry new, so it trains), and `gigcast-serve`
until it logs SERVING. Packages are installed already, as after `make install`. The budget beside
the total is the time to SERVING before the race was added.

Usage: python bench/make_run.py
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from serving import BIN, run, start_server, stop
from summary import record

BUDGET_SECONDS = 38.0


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="gigcast-make-run-"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    train = str(BIN / "gigcast-train")
    try:
        postings = workdir / "postings.parquet"
        synth = run([train, "synth", "--out", str(postings)], cwd=workdir, env=env)
        trained = run([train, "run", "--data", str(postings), "--if-no-champion"], cwd=workdir, env=env)
        process, _, started = start_server(workdir, env)
        stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    total = synth + trained + started
    steps = {
        "gigcast-train synth": synth,
        "gigcast-train run --if-no-champion": trained,
        "gigcast-serve to SERVING": started,
        f"make run to SERVING (budget {BUDGET_SECONDS:.0f} s)": total,
    }
    for step, seconds in steps.items():
        print(f"{step:<40} {seconds:6.1f} s")
    record("training", "make run to SERVING", total, "s", "budget", BUDGET_SECONDS)


if __name__ == "__main__":
    main()
