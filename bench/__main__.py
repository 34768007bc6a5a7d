"""Run every benchmark module (or those named on the command line) in turn."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main(names: list[str]) -> int:
    """Import bench.bench_<name> modules and call their main()."""
    mods = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    chosen = [m for m in mods if not names or m[len("bench_") :] in names or m in names]
    for m in chosen:
        importlib.import_module(f"bench.{m}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
