"""The gps stream: fixes -> filters -> place -> latest state, packed tracks and pushed deltas.

Processing order of one batch (readable in one place, like Traccar's ProcessingHandler):
parse (columns, streams/gps_batch.py) -> known worker -> time window -> locate (one
vectorised call) -> read the stored states (one HMGET) -> redelivery/duplicate/order ->
speed jump -> status -> track thinning (streams/gps_step.py) -> conditional write (Lua, per
shard) -> counters -> publish delta.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import orjson
import redis

from dashboard.clock import Clock, Days
from dashboard.config import Settings
from dashboard.geo import Locator
from dashboard.keys import Keys
from dashboard.models import District
from streams.consumer import Entry, Failure
from streams.gps_batch import Rows, parse_rows
from streams.gps_step import Folder, Plan

CHUNK = 2000  # workers per Lua call (Lua's unpack() takes at most ~8000 values)

# Apply a batch of worker updates only where the stored state is still what we read
# (optimistic concurrency between consumers); return the workers that conflicted.
# KEYS: last-state hash, days set, one index set per day of ARGV[4], one key per track item.
# ARGV[1..4]: workers, expected entry ids ('' = no state yet), packed states, days: one a
# line.  ARGV[5]: per track item "worker-line day-line length"; ARGV[6]: their points.
APPLY_LUA = """
local function lines(s)
  local out = {}
  for x in string.gmatch(s, '([^\\n]*)\\n') do out[#out + 1] = x end
  return out
end
local ws, expected, states, days = lines(ARGV[1]), lines(ARGV[2]), lines(ARGV[3]), lines(ARGV[4])
local cur = redis.call('HMGET', KEYS[1], unpack(ws))
local ok, conflicts, pairs = {}, {}, {}
for w = 1, #ws do
  local id = ''
  if cur[w] then id = string.match(cur[w], '^([^|]*)') end
  if id == expected[w] then
    ok[w] = true
    pairs[#pairs + 1] = ws[w]
    pairs[#pairs + 1] = states[w]
  else
    conflicts[#conflicts + 1] = ws[w]
  end
end
if #pairs > 0 then redis.call('HSET', KEYS[1], unpack(pairs)) end
local d = #days
local members = {}
for k = 1, d do members[k] = {} end
local k, at = 0, 1
for w, day, len in string.gmatch(ARGV[5], '(%d+) (%d+) (%d+)\\n') do
  k, w, day, len = k + 1, tonumber(w), tonumber(day), tonumber(len)
  if ok[w] then
    redis.call('APPEND', KEYS[2 + d + k], string.sub(ARGV[6], at, at + len - 1))
    table.insert(members[day], ws[w])
  end
  at = at + len
end
local used = {}
for k = 1, d do
  if #members[k] > 0 then
    redis.call('SADD', KEYS[2 + k], unpack(members[k]))
    used[#used + 1] = days[k]
  end
end
if #used > 0 then redis.call('SADD', KEYS[2], unpack(used)) end
return conflicts
"""


_TRACK_LINE = "%d %d %d\n"  # worker line, day line, bytes of one track item (APPLY_LUA)


def _lines(items: list[bytes]) -> bytes:
    """Return items one a line (for APPLY_LUA); refuse an item holding a line break."""
    out = b"\n".join(items) + b"\n"
    if out.count(b"\n") != len(items):
        raise ValueError("a worker id, entry id or state holds a line break")
    return out


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
        self.folder = Folder(settings, district, self.days)
        self._known = {  # the ids the column parser may take without the scalar parser
            w: g for w, g in self.folder.own_of.items() if 0 < len(w) <= 64 and w.isprintable()
        }

    def streams(self) -> list[str]:
        """Return the shard streams."""
        return self.keys.gps_streams()

    def handle(self, entries: list[Entry]) -> list[Failure]:
        """Process a batch of fix entries; retry workers whose state another consumer moved."""
        refused, rows = parse_rows(entries, self._known, self.district)
        rows, late = self._time_window(rows)
        failures = [f for _, f in sorted(refused + late, key=lambda x: x[0])]
        for _attempt in range(5):
            plan, conflicts = self._apply_batch(rows)
            failures.extend(f for _, w, f in plan.failures if w not in conflicts)
            if not conflicts:
                return failures
            again = [i for i, w in enumerate(rows.workers) if w in conflicts]
            rows = rows.take(np.array(again, dtype=np.int64))
        raise RuntimeError(f"gps state kept changing under us for {len(conflicts)} workers")

    def _time_window(self, rows: Rows) -> tuple[Rows, list[tuple[int, Failure]]]:
        """Return the rows inside the accepted time window, and a failure for each other."""
        now = self.clock.now()
        future = rows.ts > now + self.s.gps_max_future_s
        keep = ~future & (rows.ts >= now - self.s.gps_max_past_s)
        out: list[tuple[int, Failure]] = []
        for i in np.flatnonzero(~keep).tolist():
            ts = float(rows.ts[i])
            if future[i]:
                reason = f"future timestamp: {ts - now:.0f} s ahead"
            else:
                reason = f"too old: {now - ts:.0f} s in the past"
            out.append((int(rows.at[i]), Failure(rows.ids[i], reason)))
        return (rows if keep.all() else rows.take(np.flatnonzero(keep))), out

    def _apply_batch(self, rows: Rows) -> tuple[Plan, set[str]]:
        if not rows.ids:
            return Plan(), set()
        where = self.locator.locate_many(rows.lon, rows.lat)
        plan = self.folder.fold(rows, where, self._read(list(dict.fromkeys(rows.workers))))
        conflicts: set[str] = set()
        for shard, positions in self._shards(plan.workers).items():
            for start in range(0, len(positions), CHUNK):
                conflicts |= self._write(shard, plan, positions[start : start + CHUNK])
        done = [w not in conflicts for w in plan.workers]
        accepted = sum(a for k, a in enumerate(plan.accepted) if done[k])
        delta = [d for d in plan.delta if done[d[0]]]
        self._publish(plan, delta, accepted, len(plan.failures), int(rows.ms.min()) / 1000.0)
        return plan, conflicts

    def _read(self, workers: list[str]) -> dict[str, bytes | None]:
        """Return the stored state of each worker (one HMGET per shard)."""
        out: dict[str, bytes | None] = {}
        for shard, positions in self._shards(workers).items():
            names = [workers[k] for k in positions]
            out.update(zip(names, self.r.hmget(self.keys.gps_last(shard), names), strict=True))
        return out

    def _shards(self, workers: list[str]) -> dict[int, list[int]]:
        """Return the positions of the workers of each shard, in order."""
        if self.keys.gps_shards <= 1:
            return {0: list(range(len(workers)))} if workers else {}
        out: dict[int, list[int]] = defaultdict(list)
        for k, w in enumerate(workers):
            out[self.keys.gps_shard(w)].append(k)
        return out

    def _write(self, shard: int, plan: Plan, positions: list[int]) -> set[str]:
        """Apply the plan's writes of these workers in one Lua call; return the conflicts."""
        line = {k: n for n, k in enumerate(positions, 1)}
        tracks = [t for t in plan.tracks if t[0] in line]
        days = list(dict.fromkeys(day for _, day, _ in tracks))
        day_line = {d: n for n, d in enumerate(days, 1)}
        keys = [self.keys.gps_last(shard), self.keys.gps_days(shard)]
        keys += [self.keys.gps_track_index(shard, d) for d in days]
        keys += [self.keys.gps_track(shard, day, plan.workers[k]) for k, day, _ in tracks]
        argv = [
            _lines([plan.workers[k].encode() for k in positions]),
            _lines([plan.expected[k] for k in positions]),
            _lines([plan.states[k] for k in positions]),
            _lines([d.encode() for d in days]) if days else b"",
            "".join(
                map(_TRACK_LINE.__mod__, [(line[k], day_line[d], len(b)) for k, d, b in tracks])
            ),
            b"".join(blob for _, _, blob in tracks),
        ]
        conflicts = self._apply(keys=keys, args=argv)
        return {c.decode() if isinstance(c, bytes) else c for c in conflicts}

    def _publish(
        self,
        plan: Plan,
        delta: list[tuple[int, float, float, int, str, int]],
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
            ids, lat, lon, st, g, ts = zip(*delta, strict=True)
            msg = {
                "ids": [plan.workers[k] for k in ids],
                "lat": list(lat),
                "lon": list(lon),
                "st": list(st),
                "g": list(g),
                "ts": list(ts),
                "t0": oldest_entry_s,
            }  # server time of the oldest entry: lag probes
            pipe.publish(self.keys.channel("gps"), orjson.dumps(msg))
        pipe.execute()
