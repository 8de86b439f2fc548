"""Ingestion speed and peak memory on a large synthetic export, against polars reading it whole.

Each measurement runs in a fresh process and reports its own wall time and peak RSS, so the
figures do not leak into one another. The baseline is `pl.read_csv(path, infer_schema=False)` /
`pl.read_parquet(path)`: reading every cell, with no validation at all.

The same rows are then loaded into a fresh PostgreSQL database (COPY from the CSV, created here
and dropped at the end) and measured three more ways: gigcast ingesting the table, and the raw
read alone, as ingest does it (ADBC streamed in batches to a Parquet file, `copy_to_parquet`)
and as ConnectorX does it (the whole result in memory at once, `pl.read_database_uri`). When
PostgreSQL cannot be reached, that part is skipped with one line.

Usage: python bench/ingest.py [--rows 1000000] [--keep DIR] [--postgres URI]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from summary import record

# Peak RSS is VmHWM of the child's own address space: ru_maxrss would carry over the parent's
# peak across exec.
MEASURE = """
import json, re, sys, time
from pathlib import Path
start = time.perf_counter()
accepted = None
{body}
elapsed = time.perf_counter() - start
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({{"seconds": elapsed, "peak_mb": peak_kb / 1024, "rows": rows, "accepted": accepted}}))
"""
OURS = """
from gigcast.taxonomy import load_taxonomy
from training.data.ingest import ingest
result = ingest([Path(sys.argv[1])], taxonomy=load_taxonomy())
rows, accepted = result.rows, result.accepted.height
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
# argv: the database's URI, then (for the copy) the Parquet file to write.
OURS_DATABASE = """
from gigcast.taxonomy import load_taxonomy
from training.data.database import DatabaseSource
from training.data.ingest import ingest
result = ingest([DatabaseSource(uri=sys.argv[1], table="postings")], taxonomy=load_taxonomy())
rows, accepted = result.rows, result.accepted.height
"""
ADBC_COPY = """
from training.data.database import DatabaseSource, copy_to_parquet
rows = copy_to_parquet(DatabaseSource(uri=sys.argv[1], table="postings"), Path(sys.argv[2]))
"""
CONNECTORX_READ = """
import polars as pl
frame = pl.read_database_uri("SELECT * FROM postings", sys.argv[1], engine="connectorx")
rows = frame.height
"""

#: How the synthetic postings' columns are declared in PostgreSQL, by polars type.
SQL_TYPES = {"String": "text", "Boolean": "boolean", "Float64": "double precision", "Int64": "bigint"}
#: Postings per skill the synthetic market is first asked for; it is asked again if it falls short.
POSTINGS_PER_SKILL = 4_500


def measure(body: str, *args: Path | str) -> dict[str, float]:
    code = MEASURE.format(body=body.strip())
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"measurement failed:\n{out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def speed(figures: dict[str, float]) -> float:
    return figures["rows"] / figures["seconds"]


def in_database(uri: str, name: str) -> str:
    """``uri`` naming the database ``name``, whatever database it named before."""
    return urlunsplit(urlsplit(uri)._replace(path=f"/{name}"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the synthetic files here and keep them")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432",
        help="the PostgreSQL server to load the rows into (a database is created there and dropped)",
    )
    options = parser.parse_args()

    from training.data.synth import synthesize

    folder = options.keep or Path(tempfile.mkdtemp(prefix="gigcast-ingest-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        skills = max(1, math.ceil(options.rows / POSTINGS_PER_SKILL))
        postings = synthesize(skills=skills, weeks=156, seed=1, messy=0.01).postings
        if postings.height < options.rows:
            skills = math.ceil(skills * options.rows / postings.height) + 1
            postings = synthesize(skills=skills, weeks=156, seed=1, messy=0.01).postings
        postings = postings.head(options.rows)
        rows = postings.height
        schema = postings.schema
        files = {"csv": folder / "postings.csv", "parquet": folder / "postings.parquet"}
        postings.write_csv(files["csv"])
        postings.write_parquet(files["parquet"])
        del postings

        imports = measure(IMPORTS, files["csv"])
        print(f"{rows:,} synthetic postings ({skills} skills × 156 weeks, 1% messy rows)")
        print(f"python + polars + gigcast imported: {imports['peak_mb']:.0f} MB")
        print(
            f"{'file':<8} {'size':>8} | {'ingest rows/s':>14} {'peak':>8} {'peak/size':>9} | "
            f"{'read_* rows/s':>14} {'peak':>8} | {'time ratio':>10}"
        )
        measured: dict[str, tuple[dict[str, float], dict[str, float]]] = {}
        for kind, path in files.items():
            size = path.stat().st_size / 2**20
            ours = measure(OURS, path)
            bare = measure(BASELINE, path)
            measured[kind] = ours, bare
            mine = f"{speed(ours):14,.0f} {ours['peak_mb']:7.0f}M {ours['peak_mb'] / size:8.2f}x"
            baseline = f"{speed(bare):14,.0f} {bare['peak_mb']:7.0f}M"
            print(f"{kind:<8} {size:7.0f}M | {mine} | {baseline} | {ours['seconds'] / bare['seconds']:9.2f}x")
            reader, what = f"polars read_{kind}", f"{kind}, {rows:,} rows"
            record("ingest", f"{what}: rows/s", speed(ours), "", reader, speed(bare))
            record("ingest", f"{what}: peak RSS", ours["peak_mb"], "MB", reader, bare["peak_mb"])

        from_parquet, read_parquet = measured["parquet"]
        postgres(options.postgres, files["csv"], schema, folder, rows, from_parquet, read_parquet)
    finally:
        if options.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def postgres(
    server: str,
    csv: Path,
    schema: dict[str, object],
    folder: Path,
    rows: int,
    from_parquet: dict[str, float],
    read_parquet: dict[str, float],
) -> None:
    """The same rows in a fresh PostgreSQL database: ingested, and read raw two ways."""
    import psycopg

    from gigcast.uris import masked

    admin_uri = in_database(server, "postgres")
    try:
        admin = psycopg.connect(admin_uri, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"PostgreSQL at {masked(server)} not reachable ({reason}): database figures skipped")
        return
    name = f"gigcast_bench_{uuid.uuid4().hex[:12]}"
    uri = in_database(server, name)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        start = time.perf_counter()
        columns = ", ".join(f'"{column}" {SQL_TYPES[str(dtype)]}' for column, dtype in schema.items())
        with psycopg.connect(uri, autocommit=True) as connection:
            connection.execute(f"CREATE TABLE postings ({columns})")
            load = "COPY postings FROM STDIN WITH (FORMAT csv, HEADER true)"
            with connection.cursor() as cursor, cursor.copy(load) as copy, csv.open("rb") as data:
                while chunk := data.read(1 << 20):
                    copy.write(chunk)
            loaded = time.perf_counter() - start
            # Every read below then finds the same pages: hint bits set, visibility map written.
            connection.execute("VACUUM (FREEZE, ANALYZE) postings")
        print(f"loaded into PostgreSQL {masked(server)} (COPY from the CSV) in {loaded:.1f} s, then vacuumed")

        from_table = measure(OURS_DATABASE, uri)
        copied = measure(ADBC_COPY, uri, folder / "copy.parquet")
        whole = measure(CONNECTORX_READ, uri)
        (folder / "copy.parquet").unlink(missing_ok=True)
        for case in (from_table, copied, whole):
            if case["rows"] != rows:
                sys.exit(f"read {case['rows']:,} rows from PostgreSQL, expected {rows:,}")
        if from_table["accepted"] != from_parquet["accepted"]:
            sys.exit(
                f"ingest accepted {from_table['accepted']:,} rows from PostgreSQL "
                f"but {from_parquet['accepted']:,} from Parquet"
            )

        print(f"the same {rows:,} rows, each case in a fresh process")
        print(f"{'case':<36} {'seconds':>8} {'rows/s':>12} {'peak':>8}")
        for label, case in (
            ("polars read_parquet (baseline)", read_parquet),
            ("gigcast ingest, Parquet file", from_parquet),
            ("gigcast ingest, PostgreSQL table", from_table),
            ("ADBC batched copy to Parquet", copied),
            ("ConnectorX whole read", whole),
        ):
            print(f"{label:<36} {case['seconds']:8.2f} {speed(case):12,.0f} {case['peak_mb']:7.0f}M")
        print(
            f"ConnectorX against the ADBC copy: {whole['seconds'] / copied['seconds']:.2f}x the time, "
            f"{whole['peak_mb'] / copied['peak_mb']:.2f}x the peak "
            f"({whole['peak_mb'] - copied['peak_mb']:+,.0f} MB)"
        )

        what = f"postgresql, {rows:,} rows"
        record(
            "ingest",
            f"{what}: rows/s",
            speed(from_table),
            "",
            "gigcast ingest of parquet",
            speed(from_parquet),
        )
        record(
            "ingest",
            f"{what}: peak RSS",
            from_table["peak_mb"],
            "MB",
            "gigcast ingest of parquet",
            from_parquet["peak_mb"],
        )
        what = f"ADBC copy, {rows:,} rows"
        record(
            "ingest", f"{what}: seconds", copied["seconds"], "s", "connectorx whole read", whole["seconds"]
        )
        record(
            "ingest", f"{what}: peak RSS", copied["peak_mb"], "MB", "connectorx whole read", whole["peak_mb"]
        )
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
