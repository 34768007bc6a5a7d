"""The per-worker latest GPS state and the packed track record, as stored in Redis."""

from __future__ import annotations

import struct
from dataclasses import dataclass

PATROLLING, IDLE, OUTSIDE, OFFLINE = 1, 2, 3, 0
STATUS_NAMES = {PATROLLING: "patrolling", IDLE: "idle", OUTSIDE: "outside", OFFLINE: "offline"}

TRACK_RECORD = struct.Struct("<Iii")  # Unix seconds, lat * 1e6, lon * 1e6: 12 bytes a point


@dataclass(frozen=True)
class WorkerState:
    """Latest accepted fix of a worker and the last point stored in its track."""

    entry_id: str  # stream entry of the fix applied last (the version a write is conditioned on)
    ts: float
    lat: float
    lon: float
    grid: str  # grid the fix falls in ("" outside the district)
    status: int
    speed: float  # m/s, reported or derived
    battery: float  # percent, -1 unknown
    track_ts: float  # last stored track point
    track_lat: float
    track_lon: float

    def pack(self) -> str:
        """Return the compact hash value of this state."""
        return (
            f"{self.entry_id}|{self.ts:.3f}|{self.lat:.6f}|{self.lon:.6f}|{self.grid}|"
            f"{self.status}|{self.speed:.2f}|{self.battery:.0f}|{self.track_ts:.0f}|"
            f"{self.track_lat:.6f}|{self.track_lon:.6f}"
        )

    @classmethod
    def unpack(cls, raw: bytes | str) -> WorkerState:
        """Return the state stored in a hash value."""
        p = (raw.decode() if isinstance(raw, bytes) else raw).split("|")
        return cls(
            p[0],
            float(p[1]),
            float(p[2]),
            float(p[3]),
            p[4],
            int(p[5]),
            float(p[6]),
            float(p[7]),
            float(p[8]),
            float(p[9]),
            float(p[10]),
        )


def status_and_ts(raw: bytes) -> tuple[int, float]:
    """Return the status and time of a packed state without unpacking all of it."""
    parts = raw.split(b"|", 6)
    return int(parts[5]), float(parts[1])


def pack_point(ts: float, lat: float, lon: float) -> bytes:
    """Return one 12-byte track record."""
    return TRACK_RECORD.pack(int(ts), round(lat * 1e6), round(lon * 1e6))


def unpack_track(raw: bytes) -> list[tuple[int, float, float]]:
    """Return the (ts, lat, lon) points of a packed track."""
    n = len(raw) // TRACK_RECORD.size
    return [(t, la / 1e6, lo / 1e6) for t, la, lo in TRACK_RECORD.iter_unpack(raw[: n * 12])]
