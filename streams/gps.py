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

import time
from collections import defaultdict
from collections.abc import Mapping

import numpy as np
import orjson
import redis

from dashboard.clock import Clock, Days
from dashboard.config import Settings
from dashboard.geo import Locator
from dashboard.keys import Keys
from dashboard.metrics import add_count
from dashboard.models import District
from streams.consumer import Entry, Failure, Source
from streams.fixes import InvalidInput, unpack_fields
from streams.gps_batch import Rows, parse_rows
from streams.gps_state import TRACK_RECORD
from streams.gps_step import Folder, Plan

RECORD_BYTES = TRACK_RECORD.size  # one packed track point
CHUNK = 3000  # workers per Lua call (bounds how long one call blocks Redis: ~20 ms)

# Apply a batch of worker updates where every entry is still pending with this consumer and
# each worker's stored state is still the one read (optimistic concurrency between
# consumers), and XACK the accepted entries in the same step: an entry is applied and
# acknowledged together, so a redelivered entry (a crash, a claim) was never applied and is
# simply folded again.  Returns {conflicting workers, entries no longer pending} (nothing is
# written when an entry is gone: another consumer handled it).
# KEYS: last-state hash, days set, the stream, one index set per day of the batch.
# ARGV: group, consumer, the batch as JSON (C-decoded: passing thousands of separate
# arguments costs more than the work), the track points, the track key prefix (track keys are
# built here: same hash tag, so the same slot).  JSON: w workers, s their states, e expected
# ids, n accepted count of each, a accepted ids, i ids to check, d days, per track item tw
# worker, td day, tl bytes; first, last, limit: the XPENDING range and count.  The usual
# batch leaves out what it can (cjson's decoding is a large part of the call): no i when
# every id checked is accepted, no n when each worker has one, no td with one day, and no tl
# when every item is one record of r bytes.
APPLY_LUA = """
local stream, group, me = KEYS[3], ARGV[1], ARGV[2]
local b, blob, tprefix = cjson.decode(ARGV[3]), ARGV[4], ARGV[5]
local ids = b.i or b.a
local mine, held, m = {}, 0, #ids
for _, id in ipairs(ids) do mine[id] = true end
local p = redis.call('XPENDING', stream, group, b.first, b.last, b.limit, me)
for _, e in ipairs(p) do
  if mine[e[1]] then held, mine[e[1]] = held + 1, false end
end
if held < m then
  local gone = {}
  for _, id in ipairs(ids) do
    if mine[id] and (#p < b.limit or
        #redis.call('XPENDING', stream, group, id, id, 1, me) == 0) then
      gone[#gone + 1] = id
    end
  end
  if #gone > 0 then return {{}, gone} end
end
local ws, n = b.w, #b.w
local call, sub = redis.call, string.sub
local cur = {}
for j = 1, n, 4000 do
  local part = call('HMGET', KEYS[1], unpack(ws, j, math.min(j + 3999, n)))
  for i = 1, #part do cur[j + i - 1] = part[i] end
end
local conflicts, bad, nc = {}, {}, 0
for k = 1, n do
  local c, id = cur[k], ''
  if c then id = sub(c, 1, (string.find(c, '|', 1, true) or 1) - 1) end
  if id ~= b.e[k] then
    bad[k] = true
    nc = nc + 1
    conflicts[nc] = ws[k]
  end
end
local function sliced(cmd, key, items)
  for j = 1, #items, 4000 do
    call(cmd, key, unpack(items, j, math.min(j + 3999, #items)))
  end
end
local pairs_, acks, at, np, na = {}, {}, 1, 0, 0
local s, a, cnt = b.s, b.a, b.n
for k = 1, n do
  local c = cnt and cnt[k] or 1
  if not bad[k] then
    pairs_[np + 1], pairs_[np + 2], np = ws[k], s[k], np + 2
    for j = at, at + c - 1 do
      na = na + 1
      acks[na] = a[j]
    end
  end
  at = at + c
end
sliced('HSET', KEYS[1], pairs_)
local members, prefix, counts = {}, {}, {}
for k = 1, #b.d do members[k], prefix[k], counts[k] = {}, tprefix .. b.d[k] .. ':', 0 end
local tw, td, tl, rec = b.tw, b.td, b.tl, b.r
at = 1
for j = 1, #tw do
  local w, len = tw[j], tl and tl[j] or rec
  if not bad[w] then
    local day = td and td[j] or 1
    call('APPEND', prefix[day] .. ws[w], sub(blob, at, at + len - 1))
    counts[day] = counts[day] + 1
    members[day][counts[day]] = ws[w]
  end
  at = at + len
end
local used = {}
for k = 1, #b.d do
  if counts[k] > 0 then
    sliced('SADD', KEYS[3 + k], members[k])
    used[#used + 1] = b.d[k]
  end
end
if #used > 0 then call('SADD', KEYS[2], unpack(used)) end
for j = 1, na, 4000 do
  call('XACK', stream, group, unpack(acks, j, math.min(j + 3999, na)))
end
return {conflicts, {}}
"""


class GpsHandler:
    """Consumer-side handler of the gps stream."""

    name = "gps"
    acks_applied = True  # APPLY_LUA acknowledges what it applies

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
        locator.cells()  # build the cell index now, not under the first batch
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

    @staticmethod
    def readable(fields: dict[bytes, bytes]) -> Mapping[bytes, bytes]:
        """Return a packed fix's named fields (what a dead letter shows and replays)."""
        try:
            return unpack_fields(fields)
        except InvalidInput:
            return fields

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
        order = np.lexsort((rows.seq, rows.ms))
        span = (rows.ids[order[0]], rows.ids[order[-1]], 2 * len(rows.ids) + 64)
        if len(workers) <= CHUNK:  # the usual batch: one call, no bookkeeping per worker
            retry, gone = self._write(shard, plan, None, rows.ids, span, source)
            if gone:
                retry = set(workers)
        else:
            retry, gone = self._write_chunks(shard, plan, rows, workers, span, source)
        self._publish(plan, retry, int(rows.ms.min()) / 1000.0)
        return plan, retry, gone

    def _write_chunks(self, shard: int, plan: Plan, rows: Rows, workers: list[str],
                      span: tuple[bytes, bytes, int], source: Source
                      ) -> tuple[set[str], set[bytes]]:
        """Write a batch of more than CHUNK workers in several calls; return the workers to
        retry and the entries another consumer already handled."""
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
                [e for w in chunk for e in ids_of[w]], span, source)
            if lost:
                gone |= lost
                retry |= set(chunk)
            else:
                retry |= conflicts
        return retry, gone

    def _read(self, shard: int, workers: list[str]) -> dict[str, bytes | None]:
        """Return the stored state of each worker (one HMGET)."""
        return dict(zip(workers, self.r.hmget(self.keys.gps_last(shard), workers), strict=True))

    def _write(self, shard: int, plan: Plan, positions: list[int] | None, ids: list[bytes],
               span: tuple[bytes, bytes, int], source: Source) -> tuple[set[str], set[bytes]]:
        """Apply the plan's writes of these workers (None: all) in one Lua call; return the
        conflicting workers and the entries no longer pending (span: first and last id,
        XPENDING count)."""
        if positions is None:
            positions = list(range(len(plan.workers)))
            tracks = plan.tracks
            track_lines = [k + 1 for k, _, _ in tracks]
        else:
            line = {k: n for n, k in enumerate(positions, 1)}
            tracks = [t for t in plan.tracks if t[0] in line]
            track_lines = [line[k] for k, _, _ in tracks]
        days = list(dict.fromkeys(day for _, day, _ in tracks))
        day_line = {d: n for n, d in enumerate(days, 1)}
        stream = self.keys.gps_stream(shard)
        keys = [self.keys.gps_last(shard), self.keys.gps_days(shard), stream]
        keys += [self.keys.gps_track_index(shard, d) for d in days]
        counts = [plan.accepted[k] for k in positions]
        acks = [e.decode() for k in positions for e in plan.acks[k]]
        check = [e.decode() for e in ids]
        sizes = [len(b) for _, _, b in tracks]
        batch = {
            "w": [plan.workers[k] for k in positions],
            "s": [plan.states[k].decode() for k in positions],
            "e": [plan.expected[k].decode() for k in positions],
            "a": acks,
            "d": days,
            "tw": track_lines,
            "r": RECORD_BYTES,
            "first": span[0].decode(), "last": span[1].decode(), "limit": span[2],
        }
        if any(c != 1 for c in counts):
            batch["n"] = counts
        if check != acks:
            batch["i"] = check
        if len(days) > 1:
            batch["td"] = [day_line[d] for _, d, _ in tracks]
        if any(n != RECORD_BYTES for n in sizes):
            batch["tl"] = sizes
        argv = [source.group, source.consumer, orjson.dumps(batch),
                b"".join(b for _, _, b in tracks), self.keys.gps_track_prefix(shard)]
        conflicts, gone = self._apply(keys=keys, args=argv)
        return {c.decode() for c in conflicts}, set(gone)

    def _publish(self, plan: Plan, retry: set[str], oldest_entry_s: float) -> None:
        """Count what was applied and publish its delta (workers to retry left out)."""
        pos, lat, lon, st, grid, ts = (plan.d_pos, plan.d_lat, plan.d_lon, plan.d_st,
                                       plan.d_grid, plan.d_ts)
        accepted, rejected = sum(plan.accepted), len(plan.failures)
        if retry:
            done = [w not in retry for w in plan.workers]
            accepted = sum(a for k, a in enumerate(plan.accepted) if done[k])
            rejected = sum(1 for _, w, _f in plan.failures if w not in retry)
            keep = [j for j, k in enumerate(pos) if done[k]]
            pos, lat, lon, st, grid, ts = ([col[j] for j in keep]
                                           for col in (pos, lat, lon, st, grid, ts))
        pipe = self.r.pipeline(transaction=False)
        if accepted:  # throughput is per real second, however fast the clock runs
            add_count(pipe, self.keys, "gps.accepted", accepted, int(time.time()))
        if rejected:
            pipe.incrby(self.keys.counter("gps.rejected"), rejected)
        if pos:
            workers = plan.workers
            msg = {"ids": [workers[k] for k in pos], "lat": lat, "lon": lon, "st": st,
                   "g": grid, "ts": ts, "t0": oldest_entry_s}  # t0: oldest entry, lag probes
            pipe.publish(self.keys.channel("gps"), orjson.dumps(msg))
        pipe.execute()
