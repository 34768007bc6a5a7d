"""An in-memory mirror of every worker's live state in one web process.

Loaded once from Redis, kept current by the pushed deltas, refreshed now and then in case a
delta was lost; the wall's snapshot and KPIs read it instead of scanning Redis every second.
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

from dashboard.services import Services


class Live(NamedTuple):
    """What the wall knows of a worker: position, stored status, grid and fix time."""

    lat: float
    lon: float
    status: int
    grid: str
    ts: float


class GpsMirror:
    """Thread-safe map worker id -> Live, with a full reload every refresh_s seconds."""

    def __init__(self, refresh_s: float = 60.0) -> None:
        self.refresh_s = refresh_s
        self._live: dict[str, Live] = {}
        self._lock = threading.Lock()
        self._loaded_at = 0.0

    def load(self, svc: Services) -> None:
        """Replace the mirror with the states stored in Redis."""
        from dashboard.queries import worker_states

        fresh = {w: Live(s.lat, s.lon, s.status, s.grid, s.ts)
                 for w, s in worker_states(svc).items()}
        with self._lock:
            self._live = fresh
            self._loaded_at = time.monotonic()

    def stale(self) -> bool:
        """Return whether a full reload is due."""
        return time.monotonic() - self._loaded_at > self.refresh_s

    def apply(self, delta: dict) -> None:
        """Fold a columnar gps delta into the mirror."""
        with self._lock:
            for i, wid in enumerate(delta["ids"]):
                self._live[wid] = Live(delta["lat"][i], delta["lon"][i], delta["st"][i],
                                       delta["g"][i], delta["ts"][i])

    def states(self) -> dict[str, Live]:
        """Return a copy of the mirror."""
        with self._lock:
            return dict(self._live)

    def snapshot(self, now: float) -> dict:
        """Return the columnar snapshot a newly connected wall starts from."""
        live = self.states()
        ids = list(live)
        return {"ids": ids, "lat": [live[i].lat for i in ids], "lon": [live[i].lon for i in ids],
                "st": [live[i].status for i in ids], "g": [live[i].grid for i in ids],
                "ts": [int(live[i].ts) for i in ids], "full": True, "now": now}
