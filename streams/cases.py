"""Cases in Redis: the store (conditional writes keeping every backlog index in step) and
the rows of new cases.  streams/dispatcher.py turns reports (streams/reports.py) into cases.

New cases are written by CREATE_LUA, a chunk per call: already a case? (redelivery) ->
likely duplicate of an open case of the item nearby? (then linked) -> written.

Every later write goes through CAS_LUA: a case's hash, history and index entries change together
only if the case's version `rv` is still the one read (or, for a new case, if it does not
exist yet), so a redelivered report never opens a second case and two writers never
overwrite each other.  Index membership is derived from the case's state (memberships());
a write applies the difference between the before and after memberships.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import orjson
import redis
from redis.cluster import RedisCluster

from dashboard import reminders
from dashboard.case_queries import marker
from dashboard.cases import (
    OPEN,
    UNHANDLED,
    Case,
    IllegalTransition,
    Step,
    from_hash,
    on_time,
    to_hash,
    transition,
)
from dashboard.catalog import catalog_for
from dashboard.dispatch import deadline
from dashboard.models import Place
from dashboard.services import Services
from dashboard.store import RedisClient
from streams.case_scripts import CREATE_LUA
from streams.inflight import InFlight
from streams.reports import Report

CHUNK = 500  # cases per Lua call (bounds how long one call blocks Redis: ~30-50 ms)
DEPTH = 3  # calls sent and not yet answered, at most
MAX_TEXT = 2000  # characters of a description or note kept
HT_BASE = 1.25  # handling-time histogram: bucket b holds about 60 * 1.25**b seconds
RETURNED_KEPT_S = 30 * 86400  # seconds a department's returned cases stay listed
# The hash fields a newly dispatched case can have, in the order of a CREATE_LUA row; every
# other field of a new case is at its default, which a hash leaves out.
NEW_FIELDS = ("id", "it", "u", "s", "d", "la", "lo", "g", "sn", "sr", "w", "at", "up", "da",
              "dl", "rv", "ds", "m", "ax", "og", "op")
_NEW_FIELDS_ARG = " ".join(NEW_FIELDS)
_NEW_FIELD_SET = frozenset(NEW_FIELDS)

# Apply groups of operations, each only if its case's version is the expected one
# ('' = the case must not exist).  ARGV: n, then per group: case key, expected rv, op count,
# then per op: arg count, command, args...  Returns 1 (applied) or 0 (skipped) per group.
CAS_LUA = """
local out = {}
local i = 2
for g = 1, tonumber(ARGV[1]) do
  local key, expected, nops = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  i = i + 3
  local cur = redis.call('HGET', key, 'rv')
  local ok
  if expected == '' then ok = (cur == false) else ok = (cur == expected) end
  for o = 1, nops do
    local n = tonumber(ARGV[i])
    if ok then redis.call(unpack(ARGV, i + 1, i + n)) end
    i = i + n + 1
  end
  if ok then out[g] = 1 else out[g] = 0 end
end
return out
"""

Op = tuple  # (command, *args)
Chunk = tuple[bytes, bytes]  # CREATE_LUA's rows and its dispatch steps by department, as JSON


def dispatched_row(rep: Report, urgency: str, dept: str, place: Place, in_own_grid: int,
                   on_patrol: int, now: str, deadline: str, remind_at: str, day: str) -> list:
    """Return the CREATE_LUA row of a report dispatched `now`: what new_rows makes of its
    Case and steps (times are Python float reprs, as in a case hash; tests compare the two)."""
    return [rep.id, rep.item, urgency, "dispatched", dept, repr(rep.lat), repr(rep.lon),
            place.grid, place.station, place.street, rep.worker, repr(rep.at), now, now,
            deadline, "1", rep.description[:MAX_TEXT] or None, rep.media_url[:500] or None,
            rep.attrs[:MAX_TEXT] or None, None if in_own_grid == -1 else str(in_own_grid),
            None if on_patrol == -1 else str(on_patrol), remind_at, day,
            orjson.dumps({"action": "report", "from": "", "to": "reported", "actor": rep.worker,
                          "at": round(rep.at, 3), "note": "", "dept": ""}).decode()]


def ht_bucket(seconds: float) -> int:
    """Return the handling-time histogram bucket of a duration."""
    return max(0, round(math.log(max(seconds, 60.0) / 60.0, HT_BASE)))


def ht_value(bucket: int) -> float:
    """Return the representative duration in seconds of a histogram bucket."""
    return 60.0 * HT_BASE ** bucket


class CaseStore:
    """Reads and conditional writes of cases; every index follows from the case's state."""

    def __init__(self, svc: Services) -> None:
        self.svc, self.r, self.keys = svc, svc.r, svc.keys
        self._cas = svc.r.register_script(CAS_LUA)
        self._create = svc.r.register_script(CREATE_LUA)
        self._anchor = [svc.keys.cases_all()]  # routes the script to the {cases} slot
        self._inflight = InFlight(lambda: _pool_for(self.r, self._anchor[0]))
        self._create_loaded = False

    # ---- reads --------------------------------------------------------------------
    def get(self, case_id: str) -> Case | None:
        """Return one case, None if unknown."""
        raw = self.r.hgetall(self.keys.case(case_id))
        return from_hash(raw) if raw else None

    def get_many(self, ids: Iterable[str]) -> list[Case | None]:
        """Return cases in one round trip, None for unknown ids."""
        pipe = self.r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(self.keys.case(i))
        return [from_hash(raw) if raw else None for raw in pipe.execute()]

    def history(self, case_id: str) -> list[dict]:
        """Return a case's history, oldest first."""
        return [orjson.loads(x) for x in self.r.lrange(self.keys.case_history(case_id), 0, -1)]

    def histories(self, ids: Iterable[str]) -> list[list[dict]]:
        """Return the histories of cases (oldest step first) in one round trip."""
        pipe = self.r.pipeline(transaction=False)
        for i in ids:
            pipe.lrange(self.keys.case_history(i), 0, -1)
        return [[orjson.loads(x) for x in raw] for raw in pipe.execute()]

    # ---- index maintenance ----------------------------------------------------------
    def memberships(self, c: Case) -> tuple[dict[str, float], dict[tuple[str, str], int],
                                            str | None]:
        """Return the zsets (key -> score), counters ((hash, field) -> 1) and GEO set of a case."""
        k = self.keys
        z = {k.cases_all(): c.reported_at}
        counts: dict[tuple[str, str], int] = {}
        geo = None
        if c.state in OPEN:
            z[k.cases_open()] = c.deadline
            z[k.cases_queue(c.dept)] = c.deadline
            counts[(k.cases_count("dept"), c.dept)] = 1
            counts[(k.cases_count("grid"), c.grid)] = 1
            geo = k.cases_geo(c.item)
            if c.state in UNHANDLED:
                z[k.cases_due()] = c.deadline
                if c.overdue:
                    counts[(k.cases_count("dept.overdue"), c.dept)] = 1
        nxt = reminders.next_at(c, self.svc.settings)
        if nxt is not None:
            z[k.cases_remind()] = nxt
        return z, counts, geo

    def index_ops(self, before: Case | None, after: Case) -> list[Op]:
        """Return the index operations that move a case from `before` to `after`."""
        zb, cb, gb = self.memberships(before) if before else ({}, {}, None)
        za, ca, ga = self.memberships(after)
        cid = after.id
        ops: list[Op] = [("ZREM", key, cid) for key in zb.keys() - za.keys()]
        ops += [("ZADD", key, _num(s), cid) for key, s in za.items() if zb.get(key) != s]
        for key in cb.keys() | ca.keys():
            d = ca.get(key, 0) - cb.get(key, 0)
            if d:
                ops.append(("HINCRBY", key[0], key[1], d))
        if gb and gb != ga:
            ops.append(("ZREM", gb, cid))
        if ga and ga != gb:
            ops.append(("GEOADD", ga, f"{after.lon:.7f}", f"{after.lat:.7f}", cid))
        return ops

    def stats_ops(self, at: float, counts: dict[str, int]) -> list[Op]:
        """Return HINCRBYs of day and month counters (fields like 'ot:<dept>') at a time."""
        day = self.svc.days.day(at)
        ops: list[Op] = []
        for key in (self.keys.cases_stats(day), self.keys.cases_stats(day[:6])):
            ops += [("HINCRBY", key, f, n) for f, n in counts.items() if n]
        return ops

    def event_ops(self, before: Case | None, after: Case, steps: list[Step]) -> list[Op]:
        """Return the counters that transitions feed: on time or late, evaluation at close."""
        ops: list[Op] = []
        for st in steps:
            if st.action == "handle":
                counts = {f"hd:{after.dept}": 1}
                if not after.overdue:
                    counts[f"ot:{after.dept}"] = 1
                elif not (before and before.overdue):  # late, and the engine had not counted it
                    counts[f"lt:{after.dept}"] = 1
                ops += self.stats_ops(st.at, counts)
                month = self.svc.days.day(st.at)[:6]
                bucket = ht_bucket(after.handled_at - after.dispatched_at)
                ops.append(("HINCRBY", self.keys.cases_handle_times(month),
                            f"{after.dept}:{bucket}", 1))
            elif st.action == "overdue":
                ops += self.stats_ops(after.deadline, {f"lt:{after.dept}": 1})
            elif st.action == "return":
                dept = before.dept if before else ""
                ops += self.stats_ops(st.at, {f"rt:{dept}": 1})
                if dept:  # the department page lists what it returned in the last 30 days
                    ret = self.keys.cases_returned(dept)
                    ops += [("ZADD", ret, f"{st.at:.3f}", after.id),
                            ("ZREMRANGEBYSCORE", ret, "-inf", f"({st.at - RETURNED_KEPT_S:.3f}")]
            elif st.action == "close":
                ok = int(on_time(after))
                ops += self.stats_ops(st.at, {
                    f"cl:{after.dept}": 1, f"clot:{after.dept}": ok,
                    f"cl:s:{after.street}": 1, f"clot:s:{after.street}": ok,
                    f"cl:w:{after.worker}": 1, f"clot:w:{after.worker}": ok})
        return ops

    def write_ops(self, before: Case | None, after: Case, steps: list[Step],
                  extra: list[Op] = ()) -> list[Op]:
        """Return every operation of one case write: fields, history, indexes, counters."""
        ops: list[Op] = []
        fields = to_hash(after, before)
        if fields:
            ops.append(("HSET", self.keys.case(after.id), *_flat(fields)))
        if steps:
            ops.append(("RPUSH", self.keys.case_history(after.id),
                        *[orjson.dumps(s.as_dict()) for s in steps]))
        ops += self.index_ops(before, after)
        ops += self.event_ops(before, after, steps)
        ops += list(extra)
        return ops

    # ---- conditional writes -----------------------------------------------------------
    def apply(self, groups: list[tuple[Case | None, Case, list[Op]]]) -> list[bool]:
        """Apply (before, after, ops) groups, each only if its case is still `before`."""
        out: list[bool] = []
        for start in range(0, len(groups), CHUNK):
            argv: list[object] = [0]
            part = groups[start:start + CHUNK]
            for before, after, ops in part:
                argv += [self.keys.case(after.id), "" if before is None else str(before.rv),
                         len(ops)]
                for op in ops:
                    argv.append(len(op))
                    argv.extend(op)
            argv[0] = len(part)
            out += [bool(x) for x in self._cas(keys=self._anchor, args=argv)]
        return out

    def create(self, new: list[tuple[Case, Step, Step]], now: float) -> list[str | bool]:
        """Write new reports as cases, each (dispatched case, report step, dispatch step): a
        likely duplicate of an open case becomes a case linked to it instead (CREATE_LUA).

        Returns per case True (dispatched), the id of the case it was linked to, or False
        when the id already exists, which makes redelivery harmless.
        """
        chunks = (self.new_rows(new[i:i + CHUNK]) for i in range(0, len(new), CHUNK))
        return [x for chunk in self.create_rows(chunks, now) for x in chunk]

    def new_rows(self, new: list[tuple[Case, Step, Step]]) -> Chunk:
        """Return the CREATE_LUA chunk of new cases (pure Python, no Redis).

        Raises ValueError for a case that is not new (a field outside NEW_FIELDS is set) or
        for two dispatch steps to one department: a chunk carries one per department.
        """
        s, day = self.svc.settings, self.svc.days.day
        rows, steps = [], {}
        for case, report, dispatch in new:
            fields = to_hash(case)
            if extra := fields.keys() - _NEW_FIELD_SET:
                raise ValueError(f"case {case.id} is not new: {sorted(extra)} set")
            step = orjson.dumps(dispatch.as_dict()).decode()
            if steps.setdefault(case.dept, step) != step:
                raise ValueError(f"two dispatch steps to {case.dept} in one chunk")
            nxt = reminders.next_at(case, s)
            rows.append([*map(fields.get, NEW_FIELDS), "" if nxt is None else _num(nxt),
                         day(case.reported_at), orjson.dumps(report.as_dict()).decode()])
        return orjson.dumps(rows), orjson.dumps(steps)

    def create_rows(self, chunks: Iterable[Chunk], now: float,
                    sent: Callable[[], None] | None = None) -> list[list[str | bool]]:
        """Run CREATE_LUA on each chunk (at most CHUNK rows, as new_rows or
        streams.dispatcher make them), in order; return per chunk what create returns per case.
        """
        return self.send_rows(chunks, now, sent)()

    def send_rows(self, chunks: Iterable[Chunk], now: float,
                  sent: Callable[[], None] | None = None) -> Callable[[], list[list[str | bool]]]:
        """Send CREATE_LUA for each chunk without waiting; return what reads the replies
        (per chunk what create returns per case).

        `chunks` may be a generator that prepares the next chunk: Redis runs one call while
        the next is prepared.  Every call goes on the store's one in-flight connection, after
        those of an earlier batch whose replies are not read yet, so Redis runs them in the
        order they were sent.  `sent` is called once the first call is out.
        """
        st = self.svc.settings
        link = _split_note(Step("link", "reported", "linked", "system", now))
        linked = _split_note(Step("linked", "", "", "system", now))
        head = [self.keys.cases_prefix(), _num(st.case_dup_radius_m),
                str(st.case_dup_window_s), " ".join(sorted(OPEN)), *link, *linked,
                _NEW_FIELDS_ARG]
        if not self._create_loaded:
            # else every call of the first batches answers NOSCRIPT and is run again, in turn,
            # once the next batch is sent: out of order, and slowly
            self.r.script_load(CREATE_LUA)
            self._create_loaded = True
        calls: list[tuple[Chunk, int]] = []
        try:
            for chunk in chunks:
                self._inflight.wait(DEPTH - 1)
                calls.append((chunk, self._inflight.send(
                    "EVALSHA", self._create.sha, 1, *self._anchor, *head, *chunk)))
                if sent is not None and len(calls) == 1:
                    sent()
        except BaseException:
            self._inflight.abandon(t for _c, t in calls)
            raise

        def replies() -> list[list[str | bool]]:
            out = []
            for chunk, ticket in calls:
                res = self._inflight.reply(ticket)
                if isinstance(res, redis.ResponseError):
                    # NOSCRIPT after a restart, or a cluster slot that moved: the client's own
                    # call loads the script and follows the slot; a real error is raised by it
                    res = self._create(keys=self._anchor, args=[*head, *chunk])
                out.append([x.decode() if isinstance(x, bytes) else bool(x) for x in res])
            return out

        return replies

    def wait_sent(self) -> None:
        """Wait for the replies of every call sent without waiting (published messages too)."""
        self._inflight.wait(0)

    def act(self, case_id: str, action: str, actor: str, *, note: str = "", dept: str = "",
            allow: Callable[[Case], bool] | None = None) -> Case:
        """Apply one lifecycle action to a case now, retrying if another writer got there first.

        Raises KeyError for an unknown case (or one `allow` rejects: not yours is not found),
        IllegalTransition when the state or the input forbids the action.
        """
        for _attempt in range(8):
            before = self.get(case_id)
            if before is None or (allow is not None and not allow(before)):
                raise KeyError(case_id)
            now = self.svc.clock.now()
            dl = 0.0
            if dept and action in ("return", "redispatch", "unlink"):
                if self.svc.district.department(dept) is None:
                    raise IllegalTransition(f"unknown department {dept!r}")
                item = catalog_for(self.svc).item(before.item)
                dl = deadline(item.limit(before.urgency), now, self.svc.days.tz) if item else 0.0
            after, step = transition(before, action, actor, now, note=note[:MAX_TEXT],
                                     dept=dept, deadline=dl)
            if self.apply([(before, after, self.write_ops(before, after, [step]))])[0]:
                self.publish([{"ev": "case", "m": marker(self.svc, after)}])
                return after
        raise RuntimeError(f"case {case_id} kept changing under us")

    def publish(self, events: list[dict]) -> None:
        """Publish case deltas to the web tier (best effort: the wall also refreshes)."""
        if events:
            self.publish_encoded([orjson.dumps(e) for e in events])

    def publish_encoded(self, events: list[bytes], wait: bool = True) -> None:
        """Publish case deltas already encoded as JSON, one document each; without `wait`
        the message is queued behind the writes sent and its reply is not waited for."""
        if events:
            channel, msg = self.keys.channel("cases"), b'{"events":[' + b",".join(events) + b"]}"
            if wait:
                self.r.publish(channel, msg)
            else:
                self._inflight.forget([self._inflight.send("PUBLISH", channel, msg)])


def _pool_for(r: RedisClient, key: str) -> redis.ConnectionPool:
    """Return the connection pool of the Redis server that holds a key (a cluster's node)."""
    if isinstance(r, RedisCluster):
        return r.get_redis_connection(r.get_node_from_key(key)).connection_pool
    return r.connection_pool


def _num(x: float) -> str:
    return repr(float(x))


def _split_note(step: Step) -> tuple[str, str]:
    """Return a step's JSON before and after the value of its note (filled in by Lua)."""
    pre, _, post = orjson.dumps(step.as_dict() | {"note": "\0"}).decode().partition('"\\u0000"')
    return pre, post


def _flat(fields: dict[str, str]) -> list[str]:
    out: list[str] = []
    for k, v in fields.items():
        out += [k, v]
    return out
