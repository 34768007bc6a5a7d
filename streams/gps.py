"""The gps stream: fixes -> filters -> place -> latest state, packed tracks and pushed deltas.

Processing order of one batch (readable in one place, like Traccar's ProcessingHandler):
parse -> known worker -> time window -> locate -> redelivery/duplicate/order -> speed jump
-> status -> track thinning -> conditional write (Lua, per shard) -> counters -> publish delta.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import orjson
import redis

from dashboard.clock import Clock, Days
from dashboard.config import Settings
from dashboard.geo import Locator
from dashboard.keys import Keys
from dashboard.models import District, Fix
from streams.consumer import Entry, Failure
from streams.fixes import InvalidInput, fix_from_fields
from streams.gps_state import IDLE, OUTSIDE, PATROLLING, WorkerState, entry_key, pack_point

# Apply a batch of worker updates only where the stored state is still what we read
# (optimistic concurrency between consumers); return the workers that conflicted.
APPLY_LUA = """
local n = tonumber(ARGV[1])
local conflicts = {}
local applied = 0
local i = 2
for w = 1, n do
  local worker, expected, state, ntrk = ARGV[i], ARGV[i+1], ARGV[i+2], tonumber(ARGV[i+3])
  i = i + 4
  local cur = redis.call('HGET', KEYS[1], worker)
  local curid = ''
  if cur then curid = string.match(cur, '^([^|]*)') end
  if curid ~= expected then
    table.insert(conflicts, worker)
    i = i + 3 * ntrk
  else
    redis.call('HSET', KEYS[1], worker, state)
    for t = 1, ntrk do
      local k = tonumber(ARGV[i])
      redis.call('APPEND', KEYS[k], ARGV[i+1])
      redis.call('SADD', KEYS[k+1], worker)
      redis.call('SADD', KEYS[2], ARGV[i+2])
      i = i + 3
    end
    applied = applied + 1
  end
end
return conflicts
"""


@dataclass
class _Pending:
    """What one batch wants to write for one worker."""

    before: WorkerState | None
    state: WorkerState | None = None
    points: dict[str, bytearray] = field(default_factory=lambda: defaultdict(bytearray))
    accepted: int = 0


class GpsHandler:
    """Consumer-side handler of the gps stream."""

    name = "gps"

    def __init__(
        self,
        r: redis.Redis,
        keys: Keys,
        settings: Settings,
        district: District,
        locator: Locator,
        clock: Clock,
    ) -> None:
        self.r, self.keys, self.s = r, keys, settings
        self.district, self.locator, self.clock = district, locator, clock
        self.days = Days(settings.tz)
        self._apply = r.register_script(APPLY_LUA)
        self._grid_codes = [g.code for g in district.grids]

    def streams(self) -> list[str]:
        """Return the shard streams."""
        return self.keys.gps_streams()

    def handle(self, entries: list[Entry]) -> list[Failure]:
        """Process a batch of fix entries; retry workers whose state another consumer moved."""
        failures, fixes = self._parse(entries)
        for _attempt in range(5):
            more, conflicts = self._apply_batch(fixes)
            failures.extend(f for w, f in more if w not in conflicts)
            if not conflicts:
                return failures
            fixes = [(eid, f) for eid, f in fixes if f.worker in conflicts]
        raise RuntimeError(f"gps state kept changing under us for {len(conflicts)} workers")

    def _parse(self, entries: list[Entry]) -> tuple[list[Failure], list[tuple[str, Fix]]]:
        now = self.clock.now()
        failures: list[Failure] = []
        fixes: list[tuple[str, Fix]] = []
        for eid, fields in entries:
            try:
                fix = fix_from_fields(fields)
            except InvalidInput as exc:
                failures.append(Failure(eid, str(exc)))
                continue
            if self.district.worker(fix.worker) is None:
                failures.append(Failure(eid, f"unknown worker: {fix.worker[:64]}"))
            elif fix.ts > now + self.s.gps_max_future_s:
                failures.append(Failure(eid, f"future timestamp: {fix.ts - now:.0f} s ahead"))
            elif fix.ts < now - self.s.gps_max_past_s:
                failures.append(Failure(eid, f"too old: {now - fix.ts:.0f} s in the past"))
            else:
                fixes.append((eid.decode() if isinstance(eid, bytes) else eid, fix))
        return failures, fixes

    def _apply_batch(
        self, fixes: list[tuple[str, Fix]]
    ) -> tuple[list[tuple[str, Failure]], set[str]]:
        if not fixes:
            return [], set()
        lons = np.fromiter((f.lon for _, f in fixes), float, len(fixes))
        lats = np.fromiter((f.lat for _, f in fixes), float, len(fixes))
        where = self.locator.locate_many(lons, lats)
        by_shard: dict[int, dict[str, _Pending]] = defaultdict(dict)
        workers = {f.worker for _, f in fixes}
        for shard, names in self._by_shard(workers).items():
            raw = self.r.hmget(self.keys.gps_last(shard), names)
            by_shard[shard] = {
                w: _Pending(WorkerState.unpack(v) if v else None) for w, v in zip(names, raw)
            }
        failures: list[tuple[str, Failure]] = []
        for (eid, fix), gi in zip(fixes, where):
            pend = by_shard[self.keys.gps_shard(fix.worker)][fix.worker]
            reason = self._step(pend, eid, fix, self._grid_codes[gi] if gi >= 0 else "")
            if reason:
                failures.append((fix.worker, Failure(eid.encode(), reason)))
        conflicts: set[str] = set()
        delta: list[tuple[str, WorkerState]] = []
        accepted = 0
        for shard, pend in by_shard.items():
            conflicts |= self._write(shard, pend)
            for w, p in pend.items():
                if w not in conflicts and p.state is not None:
                    accepted += p.accepted
                    if p.accepted:
                        delta.append((w, p.state))
        oldest = min(entry_key(eid)[0] for eid, _ in fixes) / 1000.0
        self._publish(delta, accepted, len(failures), oldest)
        return failures, conflicts

    def _step(self, pend: _Pending, eid: str, fix: Fix, grid: str) -> str | None:
        """Fold one fix into the pending state; return a reject reason or None."""
        prev = pend.state or pend.before
        if prev is not None and entry_key(eid) <= entry_key(prev.entry_id):
            return None  # redelivered entry: already applied or already rejected, change nothing
        if prev is None:
            return self._accept(pend, eid, fix, grid, None)
        if fix.ts <= prev.ts:
            pend.state = _seen(prev, eid)
            return "duplicate fix" if fix.ts == prev.ts else "out of order: older than last fix"
        dist = haversine_m(prev.lat, prev.lon, fix.lat, fix.lon)
        if dist / (fix.ts - prev.ts) > self.s.gps_max_speed_mps and dist > 100:
            pend.state = _seen(prev, eid)
            return f"impossible jump: {dist:.0f} m in {fix.ts - prev.ts:.0f} s"
        return self._accept(pend, eid, fix, grid, prev)

    def _accept(
        self, pend: _Pending, eid: str, fix: Fix, grid: str, prev: WorkerState | None
    ) -> None:
        speed = fix.speed
        if speed is None:
            speed = (
                0.0
                if prev is None
                else (
                    haversine_m(prev.lat, prev.lon, fix.lat, fix.lon) / max(fix.ts - prev.ts, 1e-3)
                )
            )
        own = self.district.worker(fix.worker).grid
        status = OUTSIDE if grid != own else PATROLLING if speed > self.s.moving_mps else IDLE
        day = self.days.day(fix.ts)
        t_ts, t_lat, t_lon = (prev.track_ts, prev.track_lat, prev.track_lon) if prev else (0, 0, 0)
        new_day = prev is None or self.days.day(prev.track_ts) != day
        if (
            new_day
            or fix.ts - t_ts >= self.s.gps_thin_s
            or (haversine_m(t_lat, t_lon, fix.lat, fix.lon) >= self.s.gps_thin_m)
        ):
            pend.points[day] += pack_point(fix.ts, fix.lat, fix.lon)
            t_ts, t_lat, t_lon = fix.ts, fix.lat, fix.lon
        pend.state = WorkerState(
            eid,
            fix.ts,
            fix.lat,
            fix.lon,
            grid,
            status,
            speed,
            -1.0 if fix.battery is None else fix.battery,
            t_ts,
            t_lat,
            t_lon,
        )
        pend.accepted += 1
        return None

    def _by_shard(self, workers: set[str]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = defaultdict(list)
        for w in workers:
            out[self.keys.gps_shard(w)].append(w)
        return out

    def _write(self, shard: int, pend: dict[str, _Pending]) -> set[str]:
        keys = [self.keys.gps_last(shard), self.keys.gps_days(shard)]
        argv: list[object] = [0]
        count = 0
        for w, p in pend.items():
            if p.state is None:
                continue
            count += 1
            argv += [w, p.before.entry_id if p.before else "", p.state.pack(), len(p.points)]
            for day, blob in p.points.items():
                keys += [self.keys.gps_track(shard, day, w), self.keys.gps_track_index(shard, day)]
                argv += [len(keys) - 1, bytes(blob), day]
        if not count:
            return set()
        argv[0] = count
        conflicts = self._apply(keys=keys, args=argv)
        return {c.decode() if isinstance(c, bytes) else c for c in conflicts}

    def _publish(
        self,
        delta: list[tuple[str, WorkerState]],
        accepted: int,
        rejected: int,
        oldest_entry_s: float,
    ) -> None:
        now = int(self.clock.now())
        pipe = self.r.pipeline(transaction=False)
        if accepted:
            pipe.incrby(self.keys.counter("gps.accepted"), accepted)
            rk = self.keys.rate("gps.accepted", now)
            pipe.incrby(rk, accepted)
            pipe.expire(rk, 120)
        if rejected:
            pipe.incrby(self.keys.counter("gps.rejected"), rejected)
        if delta:
            msg = {
                "ids": [w for w, _ in delta],
                "lat": [round(s.lat, 6) for _, s in delta],
                "lon": [round(s.lon, 6) for _, s in delta],
                "st": [s.status for _, s in delta],
                "g": [s.grid for _, s in delta],
                "ts": [math.floor(s.ts) for _, s in delta],
                "t0": oldest_entry_s,
            }  # server time of the oldest entry: lag probes
            pipe.publish(self.keys.channel("gps"), orjson.dumps(msg))
        pipe.execute()


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in metres between two points (scalar, fast path)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 12_742_017.6 * math.asin(math.sqrt(a))


def _seen(prev: WorkerState, eid: str) -> WorkerState:
    """Return prev with only its last-seen entry id moved (for rejected fixes)."""
    from dataclasses import replace

    return replace(prev, entry_id=eid)
