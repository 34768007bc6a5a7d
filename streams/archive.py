"""Housekeeping of GPS data: trim processed raw fixes, archive old track days to Parquet.

Neither step can lose data: the stream is trimmed only below what the consumer group has
delivered and acknowledged, and a track day leaves Redis only after its Parquet file is
durably in place (written to a temporary file, fsynced, renamed).  Both are idempotent.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import redis

from dashboard.keys import Keys
from streams.consumer import entry_key
from streams.gps_state import unpack_track

log = logging.getLogger("gridwall.archive")

LOCK_TTL_S = 600  # seconds an archive lock lives if its holder dies
CHUNK = 500  # track keys read or deleted per round trip
ROW_GROUP = 65536  # Parquet rows per group: sorted by worker, a track read skips the others
DAY = re.compile(r"\d{8}")
SCHEMA = pa.schema([("worker", pa.string()), ("ts", pa.int64()), ("lat", pa.float64()),
                    ("lon", pa.float64())])

# Delete a worker-day track only if it still has the length we archived (a late fix may
# have been appended since); drop the index and the day once no track of the day is left.
DELETE_LUA = """
local n = tonumber(ARGV[2])
for i = 1, n do
  local k = KEYS[2 + i]
  if redis.call('STRLEN', k) == tonumber(ARGV[2 + 2 * i]) then
    redis.call('DEL', k)
    redis.call('SREM', KEYS[2], ARGV[1 + 2 * i])
  end
end
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('SREM', KEYS[1], ARGV[1])
end
return redis.call('SCARD', KEYS[2])
"""

UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _text(value: bytes | str) -> str:
    """Return a Redis reply as str whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value


def _shards(keys: Keys) -> range:
    """Return the GPS shard numbers."""
    return range(max(1, keys.gps_shards))


# ---- raw stream trimming ------------------------------------------------------------------
def _safe_minid(r: redis.Redis, stream: str, group: str, cutoff_ms: int) -> str | None:
    """Return the lowest id that may still be needed by the group, capped at the cutoff."""
    try:
        groups = r.xinfo_groups(stream)
    except redis.ResponseError:  # no such stream
        return None
    info = next((g for g in groups if _text(g["name"]) == group), None)
    if info is None:
        return None  # nobody has processed anything: keep everything
    ms, seq = entry_key(_text(info["last-delivered-id"]))
    candidates = [f"{cutoff_ms}-0", f"{ms}-{seq + 1}"]  # delivered and not pending = processed
    if int(info["pending"]):
        oldest = r.xpending(stream, group)["min"]
        if oldest is not None:
            candidates.append(_text(oldest))
    return min(candidates, key=entry_key)


def trim_gps_streams(r: redis.Redis, keys: Keys, now_s: float, retention_s: float,
                     group: str) -> int:
    """Trim each shard stream to the retention window, never below unprocessed entries."""
    cutoff_ms = max(0, int((now_s - retention_s) * 1000))
    removed = 0
    for stream in keys.gps_streams():
        minid = _safe_minid(r, stream, group, cutoff_ms)
        if minid is not None:
            removed += int(r.xtrim(stream, minid=minid, approximate=False))
    return removed


# ---- Parquet files -------------------------------------------------------------------------
def day_file(archive_dir: Path, day: str, shard: int) -> Path:
    """Return the Parquet file of one shard's tracks of one day."""
    return Path(archive_dir) / "tracks" / day / f"shard-{shard}.parquet"


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside a folder durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame to Parquet via a fsynced temporary file renamed over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        table = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
        pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _points_frame(tracks: dict[str, bytes]) -> pd.DataFrame:
    """Return the rows (worker, ts, lat, lon) of packed tracks by worker."""
    parts = {w: np.array(unpack_track(raw), dtype=float).reshape(-1, 3)
             for w, raw in tracks.items()}
    cols = np.concatenate([*parts.values(), np.empty((0, 3))])
    return pd.DataFrame({"worker": np.repeat(list(parts), [len(p) for p in parts.values()]),
                         "ts": cols[:, 0].astype("int64"), "lat": cols[:, 1],
                         "lon": cols[:, 2]}).astype({"worker": "str"})


def _merge_into(path: Path, frame: pd.DataFrame) -> None:
    """Write frame merged with what the file already holds, without duplicates."""
    if path.exists():
        old = pq.read_table(path, schema=SCHEMA).to_pandas()
        frame = pd.concat([old, frame], ignore_index=True)
    frame = frame.drop_duplicates().sort_values(["worker", "ts"], kind="stable")
    _write_atomic(frame.reset_index(drop=True), path)


def read_archived_track(archive_dir: Path, day: str, worker: str
                        ) -> list[tuple[int, float, float]]:
    """Return a worker's archived (ts, lat, lon) points of a day, [] if none were archived."""
    if not DAY.fullmatch(day or ""):
        return []  # also keeps a day taken from a URL from escaping the archive folder
    folder = Path(archive_dir) / "tracks" / day
    points: list[tuple[int, float, float]] = []
    for path in sorted(folder.glob("shard-*.parquet")):
        table = pq.read_table(path, schema=SCHEMA, filters=[("worker", "=", worker)])
        cols = table.select(["ts", "lat", "lon"]).to_pydict()
        points += zip(cols["ts"], cols["lat"], cols["lon"], strict=True)
    return sorted(points)


# ---- archiving track days --------------------------------------------------------------------
def _lock_key(keys: Keys, shard: int) -> str:
    """Return the archive lock of a shard, in the shard's hash slot."""
    return f"{keys.prefix}:{{gps.{shard}}}:lock:archive"


def _old_days(r: redis.Redis, keys: Keys, shard: int, today: str, keep_days: int) -> list[str]:
    """Return the shard's days in Redis that fall outside the last keep_days days."""
    first_kept = date(int(today[:4]), int(today[4:6]), int(today[6:]))
    first_kept -= timedelta(days=max(1, keep_days) - 1)
    cutoff = first_kept.strftime("%Y%m%d")
    days = (_text(d) for d in r.smembers(keys.gps_days(shard)))
    return sorted(d for d in days if DAY.fullmatch(d) and d < cutoff)


def _read_day(r: redis.Redis, keys: Keys, shard: int, day: str) -> dict[str, bytes]:
    """Return the packed track of every worker indexed on a shard's day (b"" if missing)."""
    workers = sorted(_text(w) for w in r.smembers(keys.gps_track_index(shard, day)))
    tracks: dict[str, bytes] = {}
    for i in range(0, len(workers), CHUNK):
        chunk = workers[i:i + CHUNK]
        values = r.mget([keys.gps_track(shard, day, w) for w in chunk])
        tracks.update((w, v or b"") for w, v in zip(chunk, values, strict=True))
    return tracks


def _delete_day(r: redis.Redis, keys: Keys, shard: int, day: str,
                tracks: dict[str, bytes]) -> None:
    """Delete the archived tracks of a day where nothing was appended since they were read."""
    script = r.register_script(DELETE_LUA)
    items = list(tracks.items())
    for i in range(0, max(1, len(items)), CHUNK):
        chunk = items[i:i + CHUNK]
        args: list[object] = [day, len(chunk)]
        for w, raw in chunk:
            args += [w, len(raw)]
        script(keys=[keys.gps_days(shard), keys.gps_track_index(shard, day),
                     *(keys.gps_track(shard, day, w) for w, _ in chunk)], args=args)


def _archive_shard(r: redis.Redis, keys: Keys, shard: int, archive_dir: Path, today: str,
                   keep_days: int) -> list[str]:
    """Archive the old days of one shard while holding its lock; return the days done."""
    lock, token = _lock_key(keys, shard), secrets.token_hex(8)
    if not r.set(lock, token, nx=True, ex=LOCK_TTL_S):
        return []  # another process is archiving this shard right now
    done = []
    try:
        for day in _old_days(r, keys, shard, today, keep_days):
            tracks = _read_day(r, keys, shard, day)
            if any(tracks.values()):
                _merge_into(day_file(archive_dir, day, shard), _points_frame(tracks))
            _delete_day(r, keys, shard, day, tracks)
            log.info("archived %d tracks of %s shard %d", len(tracks), day, shard)
            done.append(day)
    finally:
        r.register_script(UNLOCK_LUA)(keys=[lock], args=[token])
    return done


def archive_old_days(r: redis.Redis, keys: Keys, archive_dir: Path, today: str,
                     keep_days: int) -> list[str]:
    """Move track days older than the last keep_days days from Redis to Parquet."""
    days: set[str] = set()
    for shard in _shards(keys):
        days.update(_archive_shard(r, keys, shard, Path(archive_dir), today, keep_days))
    return sorted(days)


class Maintenance:
    """The periodic housekeeping of the consumer process: trim streams, archive old days."""

    def __init__(self, svc: object) -> None:
        self.svc = svc

    def run_once(self, now_s: float) -> dict:
        """Trim the GPS streams and archive track days older than now_s allows."""
        svc, s = self.svc, self.svc.settings
        done: dict = {"trimmed": 0, "archived": []}
        try:
            # Entry ids carry the Redis server's real time, not the (possibly scaled) app clock.
            seconds, micros = svc.r.time()
            done["trimmed"] = trim_gps_streams(svc.r, svc.keys, seconds + micros / 1e6,
                                               s.gps_stream_retention_s, svc.keys.group("gps"))
        except redis.RedisError:  # one failing chore must not starve the other
            log.exception("trimming the gps streams failed")
        done["archived"] = archive_old_days(svc.r, svc.keys, s.archive_dir,
                                            svc.days.day(now_s), s.track_days_in_redis)
        return done
