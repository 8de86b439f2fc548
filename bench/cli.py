"""Where the wall time of one `gigcast rate` goes, beside a bare `python -c pass` of the same run.

A small synthetic market (--skills × --weeks) is trained into a temporary MLflow and served by
gigcast-serve on a free port, unless --target names a server to ask. Then --runs rounds each
start, one after the other in fresh processes:

- `gigcast rate` as a user runs it, and `python -c pass`: the headline figure and its baseline;
- `python -S -c pass` (the interpreter alone), then `python -c` importing grpc, then typer as
  well, rich's console and table, the generated protobuf stubs and the client's own code, and
  then freezing the garbage collector as `gigcast` does: each line of the breakdown is what its
  imports add to the line above;
- `gigcast rate` once more with timestamps at each step of the command: typer parsing the
  arguments, making the channel, the two calls (connecting included), closing the channel,
  rendering, printing, and the exit of the interpreter after the command returns.

Every process reads the bytecode the first round wrote, as a user's second run does. Rounds are
interleaved, so that the machine's drift hits every figure alike, and medians are kept. CPU time
(user + system, from the kernel) is shown beside wall time: on a busy machine it moves least.

Usage: python bench/cli.py [--skills 5] [--weeks 104] [--runs 31] [--target HOST:PORT]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from summary import record

BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")

#: What each line of the breakdown imports on top of the lines above it.
IMPORTS = [
    ("import grpc", "import grpc"),
    ("import typer", "import typer"),
    ("import rich (console, table)", "import rich.console, rich.table"),
    ("import protobuf stubs", "import gigcast.v1.forecast_pb2, gigcast.v1.forecast_pb2_grpc"),
    ("import client code", "import client.cli"),
]

#: What `gigcast` does after its imports: the exit of a process that imported as much costs as much.
AS_GIGCAST = "gc.disable(); gc.freeze()"

#: `gigcast ARGS` noting the time of day and the CPU time used at each step, as JSON on stderr.
STEPS = """
import json, sys, time
from contextlib import contextmanager

from client import cli, render

stamps = {}


def stamp(step):
    stamps[step] = (time.time(), time.process_time())


stamp("imported")
session, rate, show = cli._session, render.rate, cli.out.print


@contextmanager
def timed_session(connection, **options):
    stamp("parsed")
    with session(connection, **options) as call:
        stamp("channel made")
        yield call
        stamp("called")
    stamp("channel closed")


def timed_rate(*args):
    rendered = rate(*args)
    stamp("rendered")
    return rendered


def timed_print(*args, **kwargs):
    show(*args, **kwargs)
    stamp("printed")


cli._session, render.rate, cli.out.print = timed_session, timed_rate, timed_print
try:
    cli.app(sys.argv[1:], prog_name="gigcast")
finally:
    stamp("returned")
    sys.stderr.write(json.dumps(stamps))
"""

SITE = "site (.pth files: python -c pass)"
COMMAND = "command phase (gigcast rate)"
STEPPED = "gigcast rate, timed at each step"

#: Steps of the command phase: (label, stamp it starts at, stamp it ends at).
PHASES = [
    ("parse (typer: arguments, callbacks)", "imported", "parsed"),
    ("channel (made, not yet connected)", "parsed", "channel made"),
    ("call (connect, EstimateRate, ForecastRate)", "channel made", "called"),
    ("close the channel", "called", "channel closed"),
    ("render (rich renderables)", "channel closed", "rendered"),
    ("print (rich lays out and writes)", "rendered", "printed"),
    ("exit (after the command returns)", "returned", "exited"),
]


def launch(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stderr of one run of ``command``."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)  # of every child waited for so far
    began = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = now.ru_utime - used.ru_utime + now.ru_stime - used.ru_stime
    return wall, cpu, done.stderr


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def train_and_serve(
    skills: int, weeks: int, workdir: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[str], str]:
    """gigcast-serve answering from a model of a synthetic market, and its address."""
    postings = str(workdir / "postings.parquet")
    train = str(BIN / "gigcast-train")
    sizes = ["--skills", str(skills), "--weeks", str(weeks)]
    subprocess.run([train, "synth", "--out", postings, *sizes], check=True, capture_output=True)
    fit = [train, "run", "--data", postings, "--quiet"]
    subprocess.run(fit, check=True, cwd=workdir, env=env, capture_output=True)
    serve = [str(BIN / "gigcast-serve"), "--port", "0", "--cache-dir", str(workdir / "cache")]
    process = subprocess.Popen(serve, cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if match := re.search(r"SERVING .* on (127\.0\.0\.1:\d+)", line):
            return process, match.group(1)
    raise SystemExit("gigcast-serve exited before SERVING")


def commands(target: str) -> dict[str, list[str]]:
    """What each round starts, in the order of the breakdown: each line adds to the line above."""
    args = ["--target", target, "rate", "prompt engineering", "--level", "expert", "--country", "US"]
    started = {"interpreter (python -S -c pass)": [PYTHON, "-S", "-c", "pass"], SITE: [PYTHON, "-c", "pass"]}
    for number, (label, _) in enumerate(IMPORTS, start=1):
        imports = "; ".join(code for _, code in IMPORTS[:number])
        started[label] = [PYTHON, "-c", f"import gc; {imports}; {AS_GIGCAST}"]
    started[COMMAND] = [str(BIN / "gigcast"), *args]
    started[STEPPED] = [PYTHON, "-c", STEPS, *args]
    return started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skills", type=int, default=5)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--target", help="HOST:PORT of a gigcast server to ask instead of training one")
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="gigcast-bench-cli-"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    # bytecode written by the first round and read by the others, as after a user's first run,
    # whatever the caller's $PYTHONDONTWRITEBYTECODE; in a folder of its own
    cached = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = str(workdir / "bytecode")
    server = None
    try:
        if options.target:
            target = options.target
        else:
            server, target = train_and_serve(options.skills, options.weeks, workdir, env)
        started = commands(target)
        wall: dict[str, list[float]] = {label: [] for label in started}
        cpu: dict[str, list[float]] = {label: [] for label in started}
        step_wall: dict[str, list[float]] = {label: [] for label, _, _ in PHASES}
        step_cpu: dict[str, list[float]] = {label: [] for label, _, _ in PHASES}
        for round_ in range(options.runs + 1):  # the first round writes the bytecode, unmeasured
            for label, command in started.items():
                seconds, used, stderr = launch(command, workdir, cached)
                exited = time.time()
                if round_ == 0:
                    continue
                wall[label].append(seconds)
                cpu[label].append(used)
                if label == STEPPED:
                    stamps = {**json.loads(stderr), "exited": (exited, used)}
                    for phase, start, end in PHASES:
                        step_wall[phase].append(stamps[end][0] - stamps[start][0])
                        step_cpu[phase].append(stamps[end][1] - stamps[start][1])
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    walls = {label: statistics.median(times) for label, times in wall.items()}
    cpus = {label: statistics.median(times) for label, times in cpu.items()}
    market = f"{options.skills} skills × {options.weeks} weeks"
    print(f"{f'server {options.target}' if options.target else market}; {options.runs} rounds")
    print(f"{'':<48} {'median':>11} {'fastest':>11}")
    floor = IMPORTS[3][0]  # grpc, typer, rich and the stubs: nothing of gigcast's own
    for label, key in [
        ("gigcast rate, wall", COMMAND),
        ("baseline: python -c pass", SITE),
        ("grpc, typer, rich and stubs imported, no more", floor),
    ]:
        print(f"{label:<48} {ms(walls[key])} {ms(min(wall[key]))}")
        if key != SITE:
            ratios = walls[key] / walls[SITE], min(wall[key]) / min(wall[SITE])
            print(f"{'  / python -c pass':<48} {ratios[0]:10.2f}× {ratios[1]:10.2f}×")
    print(f"{'where the time goes (medians)':<48} {'wall':>11} {'cpu':>11}")
    previous = None
    for label in started:
        if label != STEPPED:
            before, used_before = (walls[previous], cpus[previous]) if previous else (0.0, 0.0)
            print(f"{label:<48} {ms(walls[label] - before)} {ms(cpus[label] - used_before)}")
            previous = label
    for label, _, _ in PHASES:
        step, used = statistics.median(step_wall[label]), statistics.median(step_cpu[label])
        print(f"  {label:<46} {ms(step)} {ms(used)}")
    cli, bare = walls[COMMAND], walls[SITE]
    record("cli", "gigcast rate, wall", cli * 1000, "ms", "python -c pass", bare * 1000)


if __name__ == "__main__":
    main()
