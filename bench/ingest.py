"""Ingestion speed and peak memory on a large synthetic export, against polars reading it whole.

Each measurement runs in a fresh process and reports its own wall time and peak RSS, so the
figures do not leak into one another. The baseline is `pl.read_csv(path, infer_schema=False)` /
`pl.read_parquet(path)`: reading every cell, with no validation at all.

Usage: python bench/ingest.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from summary import record

# Peak RSS is VmHWM of the child's own address space: ru_maxrss would carry over the parent's
# peak across exec.
MEASURE = """
import json, re, sys, time
from pathlib import Path
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({{"seconds": elapsed, "peak_mb": peak_kb / 1024, "rows": rows}}))
"""
OURS = """
from gigcast.taxonomy import load_taxonomy
from training.data.ingest import ingest
result = ingest([Path(sys.argv[1])], taxonomy=load_taxonomy())
rows = result.rows
"""
BASELINE = """
import polars as pl
path = Path(sys.argv[1])
frame = pl.read_csv(path, infer_schema=False) if path.suffix == ".csv" else pl.read_parquet(path)
rows = frame.height
"""
IMPORTS = """
import polars as pl
from gigcast.taxonomy import load_taxonomy
from training.data.ingest import ingest
rows = 0
"""


def measure(body: str, path: Path) -> dict[str, float]:
    code = MEASURE.format(body=body.strip())
    out = subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the synthetic files here and keep them")
    options = parser.parse_args()

    from training.data.synth import synthesize

    folder = options.keep or Path(tempfile.mkdtemp(prefix="gigcast-ingest-"))
    folder.mkdir(parents=True, exist_ok=True)
    skills = max(1, math.ceil(options.rows / 4_800))
    postings = synthesize(skills=skills, weeks=156, seed=1, messy=0.01).postings.head(options.rows)
    files = {"csv": folder / "postings.csv", "parquet": folder / "postings.parquet"}
    postings.write_csv(files["csv"])
    postings.write_parquet(files["parquet"])
    del postings

    imports = measure(IMPORTS, files["csv"])
    print(f"{options.rows:,} synthetic postings ({skills} skills × 156 weeks, 1% messy rows)")
    print(f"python + polars + gigcast imported: {imports['peak_mb']:.0f} MB")
    print(
        f"{'file':<8} {'size':>8} | {'ingest rows/s':>14} {'peak':>8} {'peak/size':>9} | "
        f"{'read_* rows/s':>14} {'peak':>8} | {'time ratio':>10}"
    )
    for kind, path in files.items():
        size = path.stat().st_size / 2**20
        ours = measure(OURS, path)
        bare = measure(BASELINE, path)
        mine = (
            f"{ours['rows'] / ours['seconds']:14,.0f} {ours['peak_mb']:7.0f}M {ours['peak_mb'] / size:8.2f}x"
        )
        baseline = f"{bare['rows'] / bare['seconds']:14,.0f} {bare['peak_mb']:7.0f}M"
        print(f"{kind:<8} {size:7.0f}M | {mine} | {baseline} | {ours['seconds'] / bare['seconds']:9.2f}x")
        speed, bare_speed = ours["rows"] / ours["seconds"], bare["rows"] / bare["seconds"]
        reader, what = f"polars read_{kind}", f"{kind}, {options.rows:,} rows"
        record("ingest", f"{what}: rows/s", speed, "", reader, bare_speed)
        record("ingest", f"{what}: peak RSS", ours["peak_mb"], "MB", reader, bare["peak_mb"])


if __name__ == "__main__":
    main()
