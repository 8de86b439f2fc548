"""Every headline figure of ``make bench`` in one table, each beside the baseline it is compared to.

The bench scripts append their figures to the file named by $GIGCAST_BENCH_SUMMARY (one JSON
object per line) when it is set; ``python bench/summary.py FILE`` prints the table.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def record(area: str, figure: str, value: float, unit: str, baseline: str, baseline_value: float) -> None:
    """Append one figure and its baseline, both in ``unit``, to the summary file if there is one."""
    path = os.environ.get("GIGCAST_BENCH_SUMMARY")
    if not path:
        return
    row = {
        "area": area,
        "figure": figure,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": baseline_value,
    }
    with Path(path).open("a", encoding="utf-8") as summary:
        summary.write(json.dumps(row) + "\n")


def number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def main() -> None:
    rows = [json.loads(line) for line in Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()]
    print(f"{'area':<9} {'figure':<40} {'value':>13} | {'baseline':<28} {'its value':>13} | {'ratio':>6}")
    for row in rows:
        unit = row["unit"]
        ratio = row["value"] / row["baseline_value"] if row["baseline_value"] else float("nan")
        print(
            f"{row['area']:<9} {row['figure']:<40} {number(row['value']):>10} {unit:<2} | "
            f"{row['baseline']:<28} {number(row['baseline_value']):>10} {unit:<2} | {ratio:>5.2f}×"
        )


if __name__ == "__main__":
    main()
