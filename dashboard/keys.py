"""THE Redis key schema: every key, stream, group and channel name is built here.

Keys carry a Redis Cluster hash tag ({...}) so that every key one operation (a Lua
script, a MULTI, a multi-key command) touches lives in one slot.  GPS is sharded by
worker into ``gps_shards`` tags so a city can spread it over several masters.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key builder bound to one prefix (tests use their own prefix)."""

    prefix: str = "gw"
    gps_shards: int = 1

    # ---- generic stream plumbing -------------------------------------------------
    def group(self, stream: str) -> str:
        """Return the consumer group name of a logical stream ('gps', 'events', ...)."""
        return f"{self.prefix}-{stream}"

    def deadletter(self, stream: str) -> str:
        """Return the dead-letter stream of a logical stream."""
        return f"{self.prefix}:{{dl.{stream}}}:entries"

    def deadletter_reasons(self, stream: str) -> str:
        """Return the hash counting dead letters of a stream by reason."""
        return f"{self.prefix}:{{dl.{stream}}}:reasons"

    def channel(self, topic: str) -> str:
        """Return the pub/sub channel carrying deltas of a topic to the web tier."""
        return f"{self.prefix}:push:{topic}"

    def consumers_heartbeat(self) -> str:
        """Return the hash of live consumer processes -> last heartbeat (Unix s)."""
        return f"{self.prefix}:{{ops}}:consumers"

    def counter(self, name: str) -> str:
        """Return a plain counter key (ingest counts, reminders sent, ...)."""
        return f"{self.prefix}:{{ops}}:count:{name}"

    def rate(self, name: str, second: int) -> str:
        """Return the per-second bucket of a rate counter (expires after two minutes)."""
        return f"{self.prefix}:{{ops}}:rate:{name}:{second}"

    def meta(self) -> str:
        """Return the hash of loaded-district metadata."""
        return f"{self.prefix}:{{ops}}:meta"

    def apikeys(self) -> str:
        """Return the hash of issued API keys: sha256(key) -> JSON {name, role, dept}."""
        return f"{self.prefix}:{{auth}}:apikeys"

    # ---- several web processes (issue 7) ---------------------------------------------
    def push_leader(self) -> str:
        """Return the lease of the web process that computes the wall panels (PX TTL)."""
        return f"{self.prefix}:{{ops}}:push:leader"

    def web_processes(self) -> str:
        """Return the hash web process -> JSON {clients, at, leader} (push clients metric)."""
        return f"{self.prefix}:{{ops}}:web"

    def push_queue(self) -> str:
        """Return the pub/sub channel of socket.io's message queue (not a channel() topic)."""
        return f"{self.prefix}:sio"

    # ---- GPS -----------------------------------------------------------------------
    def gps_shard(self, worker: str) -> int:
        """Return the shard of a worker (stable across processes and restarts)."""
        if self.gps_shards <= 1:
            return 0
        return zlib.crc32(worker.encode()) % self.gps_shards

    def _gps(self, shard: int) -> str:
        return f"{self.prefix}:{{gps.{shard}}}"

    def gps_stream(self, shard: int = 0) -> str:
        """Return the raw fix stream of a shard."""
        return f"{self._gps(shard)}:fixes"

    def gps_streams(self) -> list[str]:
        """Return every GPS shard stream."""
        return [self.gps_stream(s) for s in range(max(1, self.gps_shards))]

    def gps_last(self, shard: int = 0) -> str:
        """Return the hash worker -> packed latest state of a shard."""
        return f"{self._gps(shard)}:last"

    def gps_track(self, shard: int, day: str, worker: str) -> str:
        """Return the packed track of one worker-day (day as YYYYMMDD)."""
        return f"{self.gps_track_prefix(shard)}{day}:{worker}"

    def gps_track_prefix(self, shard: int) -> str:
        """Return the start of a shard's track keys (the GPS Lua script appends day:worker)."""
        return f"{self._gps(shard)}:trk:"

    def gps_track_index(self, shard: int, day: str) -> str:
        """Return the set of workers that have a track on a day in a shard."""
        return f"{self._gps(shard)}:trkidx:{day}"

    def gps_days(self, shard: int = 0) -> str:
        """Return the set of days (YYYYMMDD) with tracks still in Redis for a shard."""
        return f"{self._gps(shard)}:days"

    # ---- cases (issue 3: dispatch, reminders, backlogs) ------------------------------
    # Every case key shares the {cases} tag: one Lua script updates a case, its history
    # and every backlog index atomically (case keys are built in scripts from
    # cases_prefix(), all in the same slot, as Redis Cluster requires).
    def events_stream(self) -> str:
        """Return the stream of accepted reports (Open311 intake -> dispatch consumer)."""
        return f"{self.prefix}:{{events}}:entries"

    def cases_prefix(self) -> str:
        """Return the common prefix of every case key."""
        return f"{self.prefix}:{{cases}}:"

    def case(self, case_id: str) -> str:
        """Return the hash of one case."""
        return f"{self.prefix}:{{cases}}:c:{case_id}"

    def case_history(self, case_id: str) -> str:
        """Return the list of JSON history entries of one case, oldest first."""
        return f"{self.prefix}:{{cases}}:h:{case_id}"

    def case_seq(self, day: str) -> str:
        """Return the per-day counter that numbers new reports (day YYYYMMDD)."""
        return f"{self.prefix}:{{cases}}:seq:{day}"

    def cases_all(self) -> str:
        """Return the zset of every case id by reported time (Unix s)."""
        return f"{self.prefix}:{{cases}}:all"

    def cases_open(self) -> str:
        """Return the zset of open (not closed, not linked) case ids by deadline."""
        return f"{self.prefix}:{{cases}}:open"

    def cases_due(self) -> str:
        """Return the zset of unhandled case ids by deadline: overdue = score < now."""
        return f"{self.prefix}:{{cases}}:due"

    def cases_queue(self, dept: str) -> str:
        """Return the zset of open cases by deadline of a department (or '@district')."""
        return f"{self.prefix}:{{cases}}:q:{dept}"

    def cases_count(self, what: str) -> str:
        """Return a hash of live counts: 'dept' and 'grid' (open), 'dept.overdue'."""
        return f"{self.prefix}:{{cases}}:n:{what}"

    def cases_remind(self) -> str:
        """Return the zset of case ids by the time of their next reminder."""
        return f"{self.prefix}:{{cases}}:remind"

    def cases_geo(self, item: str) -> str:
        """Return the GEO set of open cases of one patrol item (likely-duplicate search)."""
        return f"{self.prefix}:{{cases}}:geo:{item}"

    def cases_stats(self, period: str) -> str:
        """Return the counters hash of a local day (YYYYMMDD) or month (YYYYMM)."""
        return f"{self.prefix}:{{cases}}:st:{period}"

    def cases_returned(self, dept: str) -> str:
        """Return the zset of cases a department returned (case id -> when), last 30 days."""
        return f"{self.prefix}:{{cases}}:ret:{dept}"

    def cases_handle_times(self, month: str) -> str:
        """Return the hash '<dept>:<bucket>' -> count of handling times in a month (YYYYMM)."""
        return f"{self.prefix}:{{cases}}:ht:{month}"

    def reminders_stream(self) -> str:
        """Return the outbox stream of reminders and escalations, for notifiers."""
        return f"{self.prefix}:{{cases}}:reminders"

    # ---- people (issue 5: assessment, party-member points, proactive service tasks) -----
    # One {people} tag: rankings are unioned across days, an award or a task touches its
    # record, boards and indexes in one Lua script.
    def _people(self) -> str:
        return f"{self.prefix}:{{people}}"

    def assessment(self, day: str) -> str:
        """Return the hash worker -> JSON day assessment (day YYYYMMDD)."""
        return f"{self._people()}:as:{day}"

    def assess_rank(self, day: str, scope: str = "all") -> str:
        """Return the zset worker -> score of a day in a scope ('all', 'street.X', 'station.Y')."""
        return f"{self._people()}:rk:{day}:{scope}"

    def assess_days(self, month: str) -> str:
        """Return the set of assessed days (YYYYMMDD) of a month (YYYYMM)."""
        return f"{self._people()}:asd:{month}"

    def anomalies(self, day: str) -> str:
        """Return the hash anomaly id -> JSON of a day."""
        return f"{self._people()}:an:{day}"

    def anomaly_feed(self, day: str) -> str:
        """Return the zset anomaly id -> time it happened (Unix s) of a day."""
        return f"{self._people()}:anf:{day}"

    def worker_day(self, day: str) -> str:
        """Return the hash '<worker>|<counter>' -> count of a day (cases, verifications, tasks)."""
        return f"{self._people()}:wd:{day}"

    def people_marks(self, day: str) -> str:
        """Return the hash of case events already counted on a day (idempotency marks)."""
        return f"{self._people()}:mk:{day}"

    def points_awards(self) -> str:
        """Return the hash award id -> JSON {member, rule, points, ref, at, ...}: every award."""
        return f"{self._people()}:pa"

    def points_board(self, period: str, scope: str = "all") -> str:
        """Return the zset member -> points of a period ('all' or YYYYMM) in a scope."""
        return f"{self._people()}:pb:{period}:{scope}"

    def points_by_rule(self, period: str) -> str:
        """Return the hash rule -> points awarded in a period ('all' or YYYYMM)."""
        return f"{self._people()}:pr:{period}"

    def points_member(self, member: str) -> str:
        """Return the zset award id -> award time of one member (the explanation)."""
        return f"{self._people()}:pm:{member}"

    def task(self, task_id: str) -> str:
        """Return the hash of one service task."""
        return f"{self._people()}:t:{task_id}"

    def tasks_worker(self, worker: str) -> str:
        """Return the zset task id -> due time (Unix s) of one worker's tasks."""
        return f"{self._people()}:tw:{worker}"

    def tasks_open(self, rule: str = "all") -> str:
        """Return the zset open task id -> due time, of one rule or of 'all'."""
        return f"{self._people()}:to:{rule}"

    def task_stats(self, day: str) -> str:
        """Return the hash 'pushed|<rule>' / 'done|<rule>' -> count of a day."""
        return f"{self._people()}:ts:{day}"

    def resident_overlay(self) -> str:
        """Return the hash '<resident>|<column>' -> ISO date renewed by done tasks."""
        return f"{self._people()}:ov"

    def rule_runs(self) -> str:
        """Return the hash day -> JSON summary of that day's service rule run."""
        return f"{self._people()}:rr"

    def people_lock(self, job: str) -> str:
        """Return the lock (and rate limit) of a periodic people job."""
        return f"{self._people()}:lock:{job}"

    def people_jobs(self) -> str:
        """Return the hash of one-off job marks ('final.<day>' -> Unix s it ran)."""
        return f"{self._people()}:jobs"

    # ---- exchange (issue 4: data-sharing exchange monitor) ----------------------------
    # One {calls} tag: a Lua script checks a batch of calls is still pending, counts it into
    # every bucket, keeps its violations and XACKs it, atomically (no double count).
    def calls_stream(self) -> str:
        """Return the stream of interface calls through the exchange."""
        return f"{self.prefix}:{{calls}}:entries"

    def calls_bucket(self, grain: str, bucket: int | str, dim: str) -> str:
        """Return a counter hash: grain m|h|d (Unix minute|Unix hour|YYYYMMDD), dim n|i|c|p|k|l."""
        return f"{self.prefix}:{{calls}}:{grain}:{bucket}:{dim}"

    def calls_total(self, dim: str) -> str:
        """Return the all-time counter hash of a dimension (n|i|c|p|k|l)."""
        return f"{self.prefix}:{{calls}}:all:{dim}"

    def calls_violations(self) -> str:
        """Return the stream of violations with their details (capped)."""
        return f"{self.prefix}:{{calls}}:violations"

    def exchange_approvals(self) -> str:
        """Return the hash 'catalog|unit' -> JSON of approvals granted through the API."""
        return f"{self.prefix}:{{calls}}:approvals"

    def exchange_approvals_version(self) -> str:
        """Return the counter bumped by every granted approval (consumers reload on change)."""
        return f"{self.prefix}:{{calls}}:approvals:ver"

    # ---- access control and map correction (issue 6) ----------------------------------
    # {auth}: users, sessions, wall tokens and login throttles (one slot: a login reads the
    # user and counts a failure together).  {grids}: grid boundary versions; one MULTI
    # checks the expected version and writes the new one with its history.
    def users(self) -> str:
        """Return the hash user name -> JSON {hash, role, street, dept, created}."""
        return f"{self.prefix}:{{auth}}:users"

    def session(self, digest: str) -> str:
        """Return the hash of one login session (by the SHA-256 of its cookie), with a TTL."""
        return f"{self.prefix}:{{auth}}:sess:{digest}"

    def wall_tokens(self) -> str:
        """Return the hash sha256(token) -> JSON {name, created} of kiosk wall tokens."""
        return f"{self.prefix}:{{auth}}:walltokens"

    def login_failures(self, who: str) -> str:
        """Return the counter of failed logins of one 'user|ip' (expires with the lockout)."""
        return f"{self.prefix}:{{auth}}:fail:{who}"

    def grid_current(self) -> str:
        """Return the hash grid code -> JSON of its current edited version (files are v0)."""
        return f"{self.prefix}:{{grids}}:current"

    def grid_versions(self, code: str) -> str:
        """Return the list of JSON versions of one grid's boundary, oldest first."""
        return f"{self.prefix}:{{grids}}:v:{code}"


def keys_for(settings: object) -> Keys:
    """Return the key builder for a Settings object."""
    return Keys(prefix=settings.key_prefix, gps_shards=max(1, settings.gps_shards))


def logical_streams(keys: Keys) -> dict[str, list[str]]:
    """Return every logical stream of the system with its physical stream keys."""
    return {
        "gps": keys.gps_streams(),
        "events": [keys.events_stream()],
        "calls": [keys.calls_stream()],
    }
