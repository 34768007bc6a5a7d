"""Service tasks in Redis: created once per resident and occasion, completed once.

A task is a hash keyed by its id (``rule.rid.YYYYMMDD``), indexed by due time in its
worker's zset and in the open zsets (all, per rule); the day's 'pushed|rule' and
'done|rule' counters move in the same Lua call as the task, so they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from dashboard.keys import Keys

CHUNK = 500  # tasks per Lua call
DAY_TTL_S = 400 * 86400  # seconds the per-day counters are kept
FIELDS = ("id", "rule", "resident", "worker", "grid", "station", "street", "occasion", "due")

# KEYS: open(all), stats(day), then per task: task, worker zset, open(rule)
# ARGV: n, now, then per task the FIELDS values.  Returns the ids created.
CREATE_LUA = """
local n, now, nf = tonumber(ARGV[1]), ARGV[2], NF
local created = {}
for i = 1, n do
  local k = 2 + (i - 1) * 3
  local a = 2 + (i - 1) * nf
  if redis.call('EXISTS', KEYS[k + 1]) == 0 then
    local id, rule, due = ARGV[a + 1], ARGV[a + 2], ARGV[a + 9]
    redis.call('HSET', KEYS[k + 1], 'id', id, 'rule', rule, 'resident', ARGV[a + 3],
      'worker', ARGV[a + 4], 'grid', ARGV[a + 5], 'station', ARGV[a + 6],
      'street', ARGV[a + 7], 'occasion', ARGV[a + 8], 'due', due, 'created', now,
      'status', 'open')
    redis.call('ZADD', KEYS[k + 2], due, id)
    redis.call('ZADD', KEYS[k + 3], due, id)
    redis.call('ZADD', KEYS[1], due, id)
    redis.call('HINCRBY', KEYS[2], 'pushed|' .. rule, 1)
    created[#created + 1] = id
  end
end
return created
""".replace("NF", str(len(FIELDS)))

# KEYS: task, open(all), open(rule), stats(done day), worker_day(done day)
# ARGV: id, now, by, note, retention_s.  Returns 1 done now, 0 already done, -1 unknown.
DONE_LUA = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return -1 end
if st == 'done' then return 0 end
local rule, worker = unpack(redis.call('HMGET', KEYS[1], 'rule', 'worker'))
redis.call('HSET', KEYS[1], 'status', 'done', 'done_at', ARGV[2], 'done_by', ARGV[3],
  'note', ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], 'done|' .. rule, 1)
redis.call('HINCRBY', KEYS[5], worker .. '|tasks_done', 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('EXPIRE', KEYS[4], DAY_TTL)
redis.call('EXPIRE', KEYS[5], DAY_TTL)
return 1
""".replace("DAY_TTL", str(DAY_TTL_S))


@dataclass(frozen=True)
class Task:
    """One service task for a worker."""

    id: str
    rule: str
    resident: str
    worker: str
    grid: str
    station: str
    street: str
    occasion: str  # YYYY-MM-DD
    due: float  # Unix s: the end of the due day
    created: float
    status: str  # open or done
    done_at: float = 0.0
    done_by: str = ""
    note: str = ""

    @classmethod
    def from_hash(cls, raw: dict) -> Task:
        """Return the task stored in a hash."""
        d = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes)
                                                           else v) for k, v in raw.items()}
        return cls(d["id"], d["rule"], d["resident"], d["worker"], d["grid"], d["station"],
                   d["street"], d["occasion"], float(d["due"]), float(d["created"]),
                   d["status"], float(d.get("done_at") or 0), d.get("done_by", ""),
                   d.get("note", ""))

    def overdue(self, now: float) -> bool:
        """Tell whether the task is open past its due time."""
        return self.status == "open" and now > self.due


class TaskStore:
    """Create and complete service tasks atomically."""

    def __init__(self, r: redis.Redis, keys: Keys) -> None:
        self.r, self.keys = r, keys
        self._create = r.register_script(CREATE_LUA)
        self._done = r.register_script(DONE_LUA)

    def create(self, rows: list[tuple], now: float, day: str) -> list[str]:
        """Create the tasks (tuples in FIELDS order) that do not exist yet; return their ids."""
        created: list[str] = []
        for start in range(0, len(rows), CHUNK):
            part = rows[start:start + CHUNK]
            keys = [self.keys.tasks_open(), self.keys.task_stats(day)]
            argv: list[object] = [len(part), f"{now:.0f}"]
            for row in part:
                keys += [self.keys.task(row[0]), self.keys.tasks_worker(row[3]),
                         self.keys.tasks_open(row[1])]
                argv += list(row)
            created += [x.decode() if isinstance(x, bytes) else x
                        for x in self._create(keys=keys, args=argv)]
        return created

    def get(self, task_id: str) -> Task | None:
        """Return a task, None if unknown (or expired after completion)."""
        raw = self.r.hgetall(self.keys.task(task_id))
        return Task.from_hash(raw) if raw else None

    def get_many(self, ids: list[str]) -> list[Task | None]:
        """Return tasks in one round trip."""
        pipe = self.r.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(self.keys.task(i))
        return [Task.from_hash(raw) if raw else None for raw in pipe.execute()]

    def complete(self, task: Task, now: float, day: str, by: str, note: str,
                 retention_s: int) -> bool:
        """Mark a task done; return False if it already was (nothing changes then)."""
        res = self._done(keys=[self.keys.task(task.id), self.keys.tasks_open(),
                               self.keys.tasks_open(task.rule), self.keys.task_stats(day),
                               self.keys.worker_day(day)],
                         args=[task.id, f"{now:.0f}", by, note, retention_s])
        return int(res) == 1
