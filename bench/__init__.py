"""Benchmarks: each bench_<thing>.py has main() printing JSON lines; `python -m bench` runs all."""

from __future__ import annotations

import json
import sys


def emit(
    name: str,
    value: float,
    unit: str,
    target: float | None = None,
    better: str | None = None,
    **extra: object,
) -> None:
    """Print one benchmark result as a JSON line."""
    row: dict[str, object] = {"name": name, "value": round(float(value), 3), "unit": unit}
    if target is not None:
        row["target"] = target
        row["better"] = better or "higher"
    row.update(extra)
    print(json.dumps(row, ensure_ascii=False), flush=True)
    sys.stdout.flush()
