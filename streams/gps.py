"""The gps stream: fixes -> filters -> place -> latest state, packed tracks and pushed deltas.

Processing order of one batch (readable in one place, like Traccar's ProcessingHandler):
parse (columns, streams/gps_batch.py) -> known worker of this shard -> time window -> locate
(one vectorised call) -> read the stored states (one HMGET) -> duplicate/order -> speed jump
-> status -> track thinning (streams/gps_step.py) -> conditional write and XACK (one Lua
call) -> counters -> publish delta.

Several consumers may share a shard: a worker's fixes then reach them in different batches.
Each write is conditioned on the state read, so the later writer folds again over the newer
state, and a fix older than the state it meets is refused as out of order, with its reason.
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
from streams.consumer import Entry, Failure, Source
from streams.gps_batch import Rows, parse_rows
from streams.gps_step import Folder, Plan

CHUNK = 2000  # workers per Lua call (Lua's unpack() takes at most ~8000 values)

# Apply a batch of worker updates where every entry is still pending in the group and each
# worker's stored state is still the one read (optimistic concurrency between consumers), and
# XACK the accepted entries in the same step: an entry is applied and acknowledged together,
# so a redelivered entry (a crash, a claim) was never applied and is simply folded again.
# Returns {conflicting workers, entries no longer pending (handled elsewhere: nothing written)}.
# KEYS: last-state hash, days set, the stream, one index set per day of ARGV[4], one key per
# track item.  ARGV[1..4]: workers, expected entry ids ('' = no state yet), packed states,
# days: one a line.  ARGV[5]: per track item "worker-line day-line length"; ARGV[6]: their
# points.  ARGV[7], ARGV[8]: group, consumer.  ARGV[9]: every entry id of these workers in
# the batch; ARGV[10]: per worker line, its accepted entry ids; ids space-separated.
APPLY_LUA = """
local function lines(s)
  local out = {}
  for x in string.gmatch(s, '([^\\n]*)\\n') do out[#out + 1] = x end
  return out
end
local function words(s, out)
  for x in string.gmatch(s, '%S+') do out[#out + 1] = x end
  return out
end
local stream, group = KEYS[3], ARGV[7]
local ids, held, gone = words(ARGV[9], {}), {}, {}
for j = 1, #ids, 4000 do
  local args = {'XCLAIM', stream, group, ARGV[8], 0}
  for i = j, math.min(j + 3999, #ids) do args[#args + 1] = ids[i] end
  args[#args + 1] = 'JUSTID'
  for _, id in ipairs(redis.call(unpack(args))) do held[id] = true end
end
for _, id in ipairs(ids) do
  if not held[id] then gone[#gone + 1] = id end
end
if #gone > 0 then return {{}, gone} end
local ws, expected, states, days = lines(ARGV[1]), lines(ARGV[2]), lines(ARGV[3]), lines(ARGV[4])
local acks = lines(ARGV[10])
local ok, conflicts, pairs, done = {}, {}, {}, {}
if #ws > 0 then
  local cur = redis.call('HMGET', KEYS[1], unpack(ws))
  for w = 1, #ws do
    local id = ''
    if cur[w] then id = string.match(cur[w], '^([^|]*)') end
    if id == expected[w] then
      ok[w] = true
      pairs[#pairs + 1] = ws[w]
      pairs[#pairs + 1] = states[w]
      words(acks[w], done)
    else
      conflicts[#conflicts + 1] = ws[w]
    end
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
    redis.call('APPEND', KEYS[3 + d + k], string.sub(ARGV[6], at, at + len - 1))
    table.insert(members[day], ws[w])
  end
  at = at + len
end
local used = {}
for k = 1, d do
  if #members[k] > 0 then
    redis.call('SADD', KEYS[3 + k], unpack(members[k]))
    used[#used + 1] = days[k]
  end
end
if #used > 0 then redis.call('SADD', KEYS[2], unpack(used)) end
for j = 1, #done, 4000 do
  redis.call('XACK', stream, group, unpack(done, j, math.min(j + 3999, #done)))
end
return {conflicts, {}}
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
        self._shard_index = {stream: k for k, stream in enumerate(keys.gps_streams())}
        self._shard = {w.id: keys.gps_shard(w.id) for w in district.workers}
        self._known = {  # the ids the column parser may take without the scalar parser
            w: g for w, g in self.folder.own_of.items() if 0 < len(w) <= 64 and w.isprintable()
        }

    def streams(self) -> list[str]:
        """Return the shard streams."""
        return self.keys.gps_streams()

    def handle(self, entries: list[Entry], source: Source) -> list[Failure]:
        """Process a batch of one shard's fixes; retry workers another consumer moved."""
        shard = self._shard_index[source.stream]
        refused, rows = parse_rows(entries, self._known, self.district)
        rows, strays = self._own_shard(rows, shard)
        rows, late = self._time_window(rows)
        failures = [f for _, f in sorted(refused + strays + late, key=lambda x: x[0])]
        for _attempt in range(5):
            plan, retry, gone = self._apply_batch(rows, shard, source)
            failures.extend(f for _, w, f in plan.failures if w not in retry)
            if not retry:
                return failures
            again = [i for i, (w, e) in enumerate(zip(rows.workers, rows.ids, strict=True))
                     if w in retry and e not in gone]
            rows = rows.take(np.array(again, dtype=np.int64))
        raise RuntimeError(f"gps state kept changing under us for {len(retry)} workers")

    def _own_shard(self, rows: Rows, shard: int) -> tuple[Rows, list[tuple[int, Failure]]]:
        """Return the rows of workers of this shard, and a failure for each other."""
        if self.keys.gps_shards <= 1:
            return rows, []
        other = [i for i, w in enumerate(rows.workers) if self._shard[w] != shard]
        if not other:
            return rows, []
        out = [(int(rows.at[i]), Failure(rows.ids[i], f"wrong shard: {rows.workers[i]} is "
                                         f"in shard {self._shard[rows.workers[i]]}"))
               for i in other]
        keep = np.setdiff1d(np.arange(len(rows.ids)), np.array(other, dtype=np.int64))
        return rows.take(keep), out

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

    def _apply_batch(self, rows: Rows, shard: int, source: Source
                     ) -> tuple[Plan, set[str], set[bytes]]:
        """Fold and write one attempt; return the plan, the workers to retry and the entries
        another consumer already handled."""
        if not rows.ids:
            return Plan(), set(), set()
        where = self.locator.locate_many(rows.lon, rows.lat)
        workers = list(dict.fromkeys(rows.workers))
        plan = self.folder.fold(rows, where, self._read(shard, workers))
        ids_of: dict[str, list[bytes]] = defaultdict(list)
        for w, e in zip(rows.workers, rows.ids, strict=True):
            ids_of[w].append(e)
        pos_of = {w: k for k, w in enumerate(plan.workers)}
        retry: set[str] = set()
        gone: set[bytes] = set()
        for start in range(0, len(workers), CHUNK):
            chunk = workers[start : start + CHUNK]
            conflicts, lost = self._write(
                shard, plan, [pos_of[w] for w in chunk if w in pos_of],
                [e for w in chunk for e in ids_of[w]], source)
            if lost:
                gone |= lost
                retry |= set(chunk)
            else:
                retry |= conflicts
        done = [w not in retry for w in plan.workers]
        accepted = sum(a for k, a in enumerate(plan.accepted) if done[k])
        delta = [d for d in plan.delta if done[d[0]]]
        rejected = sum(1 for _, w, _f in plan.failures if w not in retry)
        self._publish(plan, delta, accepted, rejected, int(rows.ms.min()) / 1000.0)
        return plan, retry, gone

    def _read(self, shard: int, workers: list[str]) -> dict[str, bytes | None]:
        """Return the stored state of each worker (one HMGET)."""
        return dict(zip(workers, self.r.hmget(self.keys.gps_last(shard), workers), strict=True))

    def _write(self, shard: int, plan: Plan, positions: list[int], ids: list[bytes],
               source: Source) -> tuple[set[str], set[bytes]]:
        """Apply the plan's writes of these workers in one Lua call; return the conflicting
        workers and the entries no longer pending."""
        line = {k: n for n, k in enumerate(positions, 1)}
        tracks = [t for t in plan.tracks if t[0] in line]
        days = list(dict.fromkeys(day for _, day, _ in tracks))
        day_line = {d: n for n, d in enumerate(days, 1)}
        stream = self.keys.gps_stream(shard)
        keys = [self.keys.gps_last(shard), self.keys.gps_days(shard), stream]
        keys += [self.keys.gps_track_index(shard, d) for d in days]
        keys += [self.keys.gps_track(shard, day, plan.workers[k]) for k, day, _ in tracks]
        argv = [
            _lines([plan.workers[k].encode() for k in positions]) if positions else b"",
            _lines([plan.expected[k] for k in positions]) if positions else b"",
            _lines([plan.states[k] for k in positions]) if positions else b"",
            _lines([d.encode() for d in days]) if days else b"",
            "".join(
                map(_TRACK_LINE.__mod__, [(line[k], day_line[d], len(b)) for k, d, b in tracks])
            ),
            b"".join(blob for _, _, blob in tracks),
            source.group,
            source.consumer,
            b" ".join(ids),
            _lines([plan.acks[k] for k in positions]) if positions else b"",
        ]
        conflicts, gone = self._apply(keys=keys, args=argv)
        return {c.decode() for c in conflicts}, set(gone)

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
