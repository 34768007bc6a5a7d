"""Print the README's settings table (markdown) from dashboard.config."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.config import settings_table  # noqa: E402


def main() -> None:
    """Print one markdown row per setting."""
    print("| variable | default | meaning |\n|---|---|---|")
    for name, default, note in settings_table():
        print(f"| `{name}` | `{default}` | {note} |" if default else f"| `{name}` | | {note} |")


if __name__ == "__main__":
    main()
