"""The calls stream: interface calls -> checks -> audit -> counters by minute, hour, day and ever.

Processing order of one batch: parse -> known units, interface and catalog -> time window
-> audit (not shared, conditional without approval) -> tally per bucket -> one Lua script
that, only if every entry is still pending in the group, adds the tallies, keeps the
violations and XACKs the entries.  Counting and acking are one atomic step, so a
redelivered entry (a crash, a claim by another consumer) is never counted twice and no
per-entry dedup marker is needed.  Malformed entries are left for the consumer loop to
dead-letter.

The stream's record format is in streams/call_records.py: the compact ``v`` field takes a
fast path here; anything else is validated fully (the slow way) with the same reasons.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Mapping
from itertools import repeat
from typing import Any

import redis

from dashboard.clock import Clock, Days
from dashboard.config import Settings
from dashboard.exchange import (
    LATENCY_BOUNDS_MS,
    NO_APPROVAL,
    NOT_SHARED,
    UNCONDITIONAL,
    Approval,
    Registry,
)
from dashboard.keys import Keys
from streams.call_records import MAX_LATENCY_MS, call_from_fields
from streams.consumer import Entry, Failure, Source, entry_key
from streams.fixes import InvalidInput

TRIM_EVERY_S = 60  # seconds between trims of the raw stream

APPLY_LUA = """
-- ARGV: group, n, the n entry ids (sorted), then the tallies, TTLs and violations.
local stream, group, n = KEYS[1], ARGV[1], tonumber(ARGV[2])
local first, last = 3, 2 + n
-- Fast path: the ids are exactly the pending entries of their range.
local p = redis.call('XPENDING', stream, group, ARGV[first], ARGV[last], n + 1)
local all = #p == n
for j = 1, n do
  if not all then break end
  all = p[j][1] == ARGV[first + j - 1]
end
if not all then
  local gone = {}
  for j = first, last do
    if #redis.call('XPENDING', stream, group, ARGV[j], ARGV[j], 1) == 0 then
      gone[#gone + 1] = ARGV[j]
    end
  end
  if #gone > 0 then return gone end
end
-- Groups: the tallies of one (minute, dimension) as 'field<TAB>incr<TAB>...', added to each
-- of its keys (minute, hour, day, ever); then the TTL of the keys that expire.
local a = last + 1
for _ = 1, tonumber(ARGV[a]) do
  local nk = tonumber(ARGV[a + 1])
  local keys = {}
  for j = 1, nk do keys[j] = KEYS[tonumber(ARGV[a + 1 + j])] end
  for f, v in string.gmatch(ARGV[a + 2 + nk], '([^\t]+)\t([^\t]+)') do
    for j = 1, nk do redis.call('HINCRBY', keys[j], f, v) end
  end
  a = a + 2 + nk
end
a = a + 1
local nt = tonumber(ARGV[a])
for j = a + 1, a + 2 * nt, 2 do
  redis.call('EXPIRE', KEYS[tonumber(ARGV[j])], ARGV[j + 1])
end
a = a + 1 + 2 * nt
local nv, maxlen = tonumber(ARGV[a]), ARGV[a + 1]
a = a + 2
for _ = 1, nv do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*', 'id', ARGV[a], 't', ARGV[a + 1],
             'c', ARGV[a + 2], 'p', ARGV[a + 3], 'i', ARGV[a + 4], 'k', ARGV[a + 5],
             'v', ARGV[a + 6])
  a = a + 7
end
for j = first, last, 500 do
  redis.call('XACK', stream, group, unpack(ARGV, j, math.min(j + 499, last)))
end
return {}
"""


def approvals_from_redis(raw: Mapping[bytes, bytes]) -> dict[tuple[str, str], tuple[Approval]]:
    """Return the approvals stored by the API, by (catalog, unit)."""
    out: dict[tuple[str, str], tuple[Approval, ...]] = {}
    for value in raw.values():
        a = Approval.from_json(value)
        out[(a.catalog, a.unit)] = out.get((a.catalog, a.unit), ()) + (a,)
    return out


# ---- the consumer --------------------------------------------------------------------------
class CallsHandler:
    """Consumer-side handler of the calls stream."""

    name = "calls"

    def __init__(self, r: redis.Redis, keys: Keys, settings: Settings, registry: Registry,
                 clock: Clock) -> None:
        self.r, self.keys, self.s, self.reg, self.clock = r, keys, settings, registry, clock
        self.days = Days(settings.tz)
        self.group = keys.group(self.name)
        # Larger reads than other streams': a batch's calls share their counter fields, so a
        # bigger batch means fewer HINCRBYs a call (0.63 at 1,000, 0.29 at 2,500).
        self.batch = settings.calls_batch
        self._apply = r.register_script(APPLY_LUA)
        self._granted_ver: object = self  # nothing loaded yet (the version is bytes or None)
        self._trimmed = -math.inf
        # Byte-keyed lookups for the hot path: catalog -> (unit, sharing, interfaces).
        self._units = {u.encode() for u in registry.units}
        self._cats = {c.id.encode(): (c.unit.encode(), c.sharing,
                                      {i.encode() for i in c.interfaces})
                      for c in registry.catalogs.values()}
        self._approvals: dict[tuple[bytes, bytes], tuple[Approval, ...]] = {}
        self._routes: dict[bytes, tuple | bool] = {}  # caller|provider|interface|catalog -> route

    def streams(self) -> list[str]:
        """Return the one calls stream."""
        return [self.keys.calls_stream()]

    def handle(self, entries: list[Entry], source: Source | None = None) -> list[Failure]:
        """Count a batch of calls exactly once; return the malformed entries."""
        self._refresh_approvals()
        failures, calls = self._parse(entries)
        for _attempt in range(5):
            if not calls:
                break
            gone = self._write(calls)
            if not gone:
                break
            calls = [c for c in calls if c[0] not in gone]  # counted by someone else already
        else:
            raise RuntimeError("calls kept being acknowledged under us")
        self._maybe_trim()
        return failures

    def _refresh_approvals(self) -> None:
        ver = self.r.get(self.keys.exchange_approvals_version())
        if ver != self._granted_ver:
            granted = approvals_from_redis(self.r.hgetall(self.keys.exchange_approvals()))
            merged: dict[tuple[bytes, bytes], tuple[Approval, ...]] = {}
            for (cat, unit), found in [*self.reg.approvals.items(), *granted.items()]:
                key = (cat.encode(), unit.encode())
                merged[key] = merged.get(key, ()) + found
            self._approvals, self._granted_ver = merged, ver
            self._routes.clear()  # routes carry approvals

    def _parse(self, entries: list[Entry]) -> tuple[list[Failure], list[tuple]]:
        """Return the failures and (id, ts, caller, provider, interface, catalog, ok, ms, kind)."""
        now = self.clock.now()
        lo, hi = now - self.s.calls_max_past_s, now + self.s.calls_max_future_s
        routes, route_of = self._routes, self._route
        failures: list[Failure] = []
        calls: list[tuple] = []
        for eid, f in entries:
            try:  # fast path: the compact field of a known route, nothing else to convert
                ts, rest = f[b"v"].split(b"|", 1)
                mid, ok, ms = rest.rsplit(b"|", 2)
                route = routes.get(mid)
                if route is None:
                    route = route_of(mid)
                ts, ms = float(ts), int(ms)
                fast = (route and lo <= ts <= hi and (ok == b"1" or ok == b"0")
                        and 0 <= ms <= MAX_LATENCY_MS)
            except (KeyError, ValueError):
                fast = False
            if fast:
                caller, prov, iface, cat, kind, approvals = route
            else:
                row = self._parse_slow(eid, f, lo, hi)
                if isinstance(row, Failure):
                    failures.append(row)
                    continue
                ts, caller, prov, iface, cat, ok, ms = row
                kind, approvals = self._audit(caller, cat)
            for a in approvals:  # a conditional catalog: the calling unit's approvals
                if a.valid_at(ts):
                    kind = None
                    break
            calls.append((eid, ts, caller, prov, iface, cat, ok == b"1", ms, kind))
        return failures, calls

    def _route(self, mid: bytes) -> tuple | bool:
        """Return (caller, provider, interface, catalog, kind, approvals) of a valid route, else
        False; remembered, as a gateway's calls take few distinct routes."""
        if len(self._routes) > 200_000:
            self._routes.clear()
        route: tuple | bool = False
        parts = mid.split(b"|")
        if len(parts) == 4 and parts[3] in self._cats:
            caller, prov, iface, cat = parts
            unit, _sharing, served = self._cats[cat]
            prov = prov or unit
            if caller in self._units and iface in served and prov == unit:
                route = (caller, prov, iface, cat, *self._audit(caller, cat))
        self._routes[mid] = route
        return route

    def _audit(self, caller: bytes, cat: bytes) -> tuple[str | None, tuple[Approval, ...]]:
        """Return the violation kind of a call (the rule of Registry.violation, on bytes) and
        the approvals that may clear it at the call's time."""
        unit, sharing, _ = self._cats[cat]
        if sharing == UNCONDITIONAL or caller == unit:
            return None, ()
        if sharing == NOT_SHARED:
            return NOT_SHARED, ()
        return NO_APPROVAL, self._approvals.get((cat, caller), ())

    def _parse_slow(self, eid: bytes, fields: Mapping[bytes, bytes], lo: float,
                    hi: float) -> tuple | Failure:
        """Validate a non-canonical entry fully; return its row or the Failure with the reason."""
        try:
            call = call_from_fields(fields, self.reg)
        except InvalidInput as exc:
            return Failure(eid, str(exc))
        reason = self.reg.problem(call)
        if reason is None and call.ts > hi:
            reason = f"future timestamp: {call.ts - hi + self.s.calls_max_future_s:.0f} s ahead"
        elif reason is None and call.ts < lo:
            reason = f"too old: {lo + self.s.calls_max_past_s - call.ts:.0f} s in the past"
        if reason:
            return Failure(eid, reason)
        return (call.ts, call.caller.encode(), call.provider.encode(), call.interface.encode(),
                call.catalog.encode(), b"1" if call.ok else b"0", call.latency_ms)

    def _tally(self, calls: list[tuple]) -> dict[int, dict[str, dict]]:
        """Return per Unix minute and dimension the field increments of a batch."""
        first, last = int(calls[0][1] // 60), int(calls[-1][1] // 60)
        by_minute: dict[int, list[tuple]] = {first: calls}
        if first != last or any(int(c[1] // 60) != first for c in calls):
            by_minute = defaultdict(list)
            for c in calls:
                by_minute[int(c[1] // 60)].append(c)
        return {m: self._tally_minute(rows) for m, rows in by_minute.items()}

    @staticmethod
    def _tally_minute(rows: list[tuple]) -> dict[str, dict]:
        """Return the field increments of the calls of one minute, by dimension."""
        _, _, callers, provs, ifaces, cats, _, mss, _ = zip(*rows, strict=True)
        bins = map(bisect_left, repeat(LATENCY_BOUNDS_MS), mss)
        n = {b"n": len(rows), b"ms": sum(mss)}
        i, c, p = Counter(ifaces), Counter(callers), Counter(provs)
        for row in rows:
            if not row[6]:
                n[b"e"] = n.get(b"e", 0) + 1
                i[row[4] + b":e"] += 1
                p[row[3] + b":e"] += 1
            if row[8]:
                n[b"v"] = n.get(b"v", 0) + 1
                kind = b"v." + row[8].encode()
                n[kind] = n.get(kind, 0) + 1
                c[row[2] + b":v"] += 1
        lat = {b"%s:%d" % key: v for key, v in Counter(zip(ifaces, bins)).items()}
        return {"n": n, "i": i, "c": c, "p": p, "k": Counter(cats), "l": lat}

    def _groups(self, tally: dict[int, dict[str, dict]]) -> tuple[list, dict[str, int]]:
        """Return (keys, fields) per (minute, dim) and the TTL of every key that expires."""
        now = self.clock.now()
        keep_m, keep_h = self.s.exchange_minute_retention_s, self.s.exchange_hour_retention_s
        bk = self.keys.calls_bucket
        groups, ttls = [], {}
        for m, dims in tally.items():
            h = m // 60
            ttl_m, ttl_h = int((m + 1) * 60 + keep_m - now), int((h + 1) * 3600 + keep_h - now)
            day = self.days.day(m * 60)
            for dim, fields in dims.items():
                if not fields:
                    continue
                keys = [bk("d", day, dim), self.keys.calls_total(dim)]
                if ttl_m > 0:  # minute and hour buckets past their retention are not written
                    keys.append(bk("m", m, dim))
                    ttls[keys[-1]] = ttl_m
                if ttl_h > 0:
                    keys.append(bk("h", h, dim))
                    ttls[keys[-1]] = ttl_h
                groups.append((keys, fields))
        return groups, ttls

    def _write(self, calls: list[tuple]) -> set[bytes]:
        """Run the apply script; return the ids no longer pending (nothing written then)."""
        groups, ttls = self._groups(self._tally(calls))
        index: dict[str, int] = {}
        args: list[Any] = [self.group, len(calls), *(c[0] for c in calls), len(groups)]
        for keys, fields in groups:
            args.append(len(keys))
            args += [index.setdefault(k, len(index) + 3) for k in keys]
            args.append(b"\t".join(b"%s\t%d" % item for item in fields.items()))
        args.append(len(ttls))
        for k, ttl in ttls.items():
            args += [index[k], ttl]
        viol = [c for c in calls if c[8]]
        args += [len(viol), self.s.exchange_violations_kept]
        for eid, ts, caller, prov, iface, cat, _ok, _ms, kind in viol:
            args += [eid, f"{ts:.3f}", caller, prov, iface, cat, kind]
        keys = [self.keys.calls_stream(), self.keys.calls_violations(), *index]
        gone = self._apply(keys=keys, args=args)
        return {g if isinstance(g, bytes) else g.encode() for g in gone}

    def _maybe_trim(self) -> None:
        """Trim the raw stream to its retention, never below what the group has not processed."""
        now = self.clock.now()
        if now - self._trimmed < TRIM_EVERY_S:
            return
        self._trimmed = now
        stream = self.keys.calls_stream()
        info = next((g for g in self.r.xinfo_groups(stream)
                     if g["name"] in (self.group, self.group.encode())), None)
        if info is None:
            return
        last = info["last-delivered-id"]
        ms, seq = entry_key(last)
        keep = [(max(0, int((now - self.s.calls_stream_retention_s) * 1000)), 0), (ms, seq + 1)]
        if int(info["pending"]):
            oldest = self.r.xpending(stream, self.group)["min"]
            if oldest is not None:
                keep.append(entry_key(oldest))
        low = min(keep)
        self.r.xtrim(stream, minid=f"{low[0]}-{low[1]}", approximate=False)
