"""The people jobs: assess workers' days, read cases into counts and points, run the service
rules, complete tasks, record volunteer activity.  Idempotent; safe in several processes.

``PeopleJobs.run_once(now)`` is called every few seconds by the jobs process: it assesses
today every ASSESS_INTERVAL_S, finalises yesterday once after midnight, reads recent cases
every PEOPLE_CASE_SYNC_S and runs the service rules once a day at SERVICE_RULES_AT.  A
Redis lock per job keeps two processes from doing the same work at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq

from dashboard.assessment import COUNTERS, anomalies, at_local, duty_window, parts, score
from dashboard.cases import from_hash
from dashboard.patrols import Batch, analyse, unpack
from dashboard.people import People, people
from dashboard.residents import parse_overlay, with_overlay
from dashboard.services import Services
from dashboard.services_rules import candidates, task_ids
from dashboard.tasks import Task

log = logging.getLogger("gridwall.people")

CHUNK = 2000  # workers whose tracks are read and analysed together
DAY_TTL_S = 400 * 86400  # seconds day-keyed people data is kept
FINALISE_AFTER_S = 600  # seconds after midnight the previous day is assessed a last time

# KEYS: marks, counters.  ARGV: pairs of (mark, counter field).  Count each mark once.
MARK_LUA = """
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], 1) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
    n = n + 1
  end
end
redis.call('EXPIRE', KEYS[1], TTL)
redis.call('EXPIRE', KEYS[2], TTL)
return n
""".replace("TTL", str(DAY_TTL_S))


def _publish(svc: Services, payload: dict) -> None:
    svc.r.publish(svc.keys.channel("people"), orjson.dumps(payload))


# ---- assessment ------------------------------------------------------------------------
def _archived(svc: Services, day: str) -> dict[str, np.ndarray]:
    """Return every archived track of a day by worker (empty if the day was not archived)."""
    folder = Path(svc.settings.archive_dir) / "tracks" / day
    frames = [pq.read_table(p).to_pandas() for p in sorted(folder.glob("shard-*.parquet"))]
    if not frames:
        return {}
    df = pd.concat(frames).sort_values(["worker", "ts"])
    out = {}
    for wid, g in df.groupby("worker", sort=False):
        a = np.empty(len(g), dtype=[("t", "<i8"), ("lat", "<f8"), ("lon", "<f8")])
        a["t"], a["lat"], a["lon"] = g["ts"], g["lat"], g["lon"]
        out[str(wid)] = a
    return out


def _tracks(svc: Services, day: str, wids: list[str], archive: dict | None) -> list[np.ndarray]:
    pipe = svc.r.pipeline(transaction=False)
    for w in wids:
        pipe.get(svc.keys.gps_track(svc.keys.gps_shard(w), day, w))
    raws = pipe.execute()
    empty = unpack(b"")
    return [unpack(raw) if raw else (archive or {}).get(w, empty) for w, raw in zip(wids, raws,
                                                                                      strict=True)]


def assess_day(svc: Services, day: str, now: float, final: bool = False) -> dict:
    """Assess every worker's day (YYYYMMDD) as of now; store scores, rankings and anomalies."""
    ctx = people(svc)
    rules, tz = ctx.assess, svc.days.tz
    workers = list(svc.district.workers)
    gidx = {g.code: i for i, g in enumerate(svc.district.grids)}
    duty = duty_window(rules, day, tz, now)
    duty_s = duty[1] - duty[0]
    counts = {k.decode(): int(v) for k, v in svc.r.hgetall(svc.keys.worker_day(day)).items()}
    in_redis = any(svc.r.sismember(svc.keys.gps_days(s), day)
                   for s in range(max(1, svc.keys.gps_shards)))
    archive = None if in_redis or day == svc.days.day(now) else _archived(svc, day)
    docs: dict[str, bytes] = {}
    ranks: dict[str, dict[str, float]] = {}
    found: list = []
    doubles: list[tuple[str, float]] = []
    heard = False  # any fix of any worker that day
    for start in range(0, len(workers), CHUNK):
        part = workers[start:start + CHUNK]
        wids = [w.id for w in part]
        grid_of = np.array([gidx[w.grid] for w in part], dtype=np.int64)
        a = analyse(ctx.cells, grid_of, Batch.from_tracks(_tracks(svc, day, wids, archive)),
                    rules.track, duty, svc.settings.offline_after_s)
        m = {"patrols": a.patrols, "coverage": a.coverage, "distance_m": a.distance_m,
             "inside_s": a.inside_s, "online_s": a.online_s}
        for c in COUNTERS:
            m[c] = np.array([counts.get(f"{w}|{c}", 0) for w in wids])
        sc = score(m, rules, duty_s)
        pt = parts(m, rules, duty_s)
        plist: dict[int, list] = {}
        for wi, s, e, cov in a.patrol_list:
            plist.setdefault(wi, []).append([round(s), round(e), cov])
        for i, w in enumerate(part):
            g = svc.district.grid(w.grid)
            doc = {"worker": w.id, "day": day, "score": float(sc[i]),
                   "patrols": int(a.patrols[i]), "patrol_list": plist.get(i, []),
                   "coverage": round(float(a.coverage[i]), 3),
                   "distance_m": round(float(a.distance_m[i])),
                   "inside_s": round(float(a.inside_s[i])),
                   "offline_s": round(max(0.0, duty_s - float(a.online_s[i]))),
                   "duty_s": round(duty_s), "final": final, "at": round(now),
                   "parts": {k: round(float(v[i]), 3) for k, v in pt.items()}}
            doc |= {c: int(m[c][i]) for c in COUNTERS}
            docs[w.id] = orjson.dumps(doc)
            for scope in ("all", f"street.{g.street}", f"station.{g.station}"):
                ranks.setdefault(scope, {})[w.id] = float(sc[i])
            if a.patrols[i] >= rules.patrols_per_day:
                second = plist[i][rules.patrols_per_day - 1][1]
                doubles.append((w.id, float(second)))
        found += anomalies(a, wids, rules, day, tz, now)
        heard |= bool((a.first_fix > 0).any())
    if not heard:  # not one fix in the district: the ingest was down, not every phone
        found = [an for an in found if not an.detail.get("offline")]
    pipe = svc.r.pipeline(transaction=False)
    if docs:
        pipe.hset(svc.keys.assessment(day), mapping=docs)
        pipe.expire(svc.keys.assessment(day), DAY_TTL_S)
    for scope, members in ranks.items():
        key = svc.keys.assess_rank(day, scope)
        pipe.zadd(key, members)
        pipe.expire(key, DAY_TTL_S)
    pipe.sadd(svc.keys.assess_days(day[:6]), day)
    pipe.expire(svc.keys.assess_days(day[:6]), DAY_TTL_S)
    for an in found:
        pipe.hsetnx(svc.keys.anomalies(day), an.id, orjson.dumps(an.as_dict()))
    res = pipe.execute()
    new = [an for an, ok in zip(found, res[-len(found):] if found else [], strict=True) if ok]
    if found:
        pipe = svc.r.pipeline(transaction=False)
        for an in new:
            pipe.zadd(svc.keys.anomaly_feed(day), {an.id: an.at})
        for k in (svc.keys.anomalies(day), svc.keys.anomaly_feed(day)):
            pipe.expire(k, DAY_TTL_S)
        pipe.execute()
    scores = list(ranks.get("all", {}).values())
    svc.r.hset(svc.keys.people_jobs(), f"assess.{day}", orjson.dumps({
        "at": round(now), "final": final, "double_patrol": len(doubles),
        "mean_score": round(sum(scores) / len(scores), 1) if scores else None}))
    for wid, at in doubles:
        ctx.ledger.award(ctx.member(wid), "double_patrol", f"{wid}:{day}", at, day[:6])
    if new:
        _publish(svc, {"ev": "anomalies", "items": [an.as_dict() for an in new[:50]],
                       "count": len(new)})
    return {"day": day, "workers": len(workers), "anomalies": len(new), "final": final}


# ---- cases -----------------------------------------------------------------------------
def sync_cases(svc: Services, now: float) -> dict:
    """Read recently reported cases into per-worker counts and points (idempotent)."""
    ctx = people(svc)
    since = now - svc.settings.people_case_lookback_days * 86400
    ids = svc.r.zrangebyscore(svc.keys.cases_all(), since, now + 86400)
    pipe = svc.r.pipeline(transaction=False)
    for cid in ids:
        pipe.hgetall(svc.keys.case(cid.decode()))
    marks: dict[str, list[str]] = {}
    awards = []
    within = ctx.assess.verify_within_h * 3600
    for raw in pipe.execute():
        if not raw:
            continue
        c = from_hash(raw)
        if svc.district.worker(c.worker) is None:
            continue
        day = svc.days.day(c.reported_at)
        marks.setdefault(day, []).extend([f"rep:{c.id}", f"{c.worker}|cases_reported"])
        taken = c.accepted_at or c.handled_at
        if taken and c.state != "linked":
            awards.append((c.worker, "case_confirmed", c.id, taken))
        if c.verified_at and c.handled_at and c.verified_at - c.handled_at <= within:
            vday = svc.days.day(c.verified_at)
            marks.setdefault(vday, []).extend([f"ver:{c.id}", f"{c.worker}|cases_verified"])
            awards.append((c.worker, "verify_on_time", c.id, c.verified_at))
    counted = 0
    script = svc.r.register_script(MARK_LUA)
    for day, pairs in marks.items():
        counted += int(script(keys=[svc.keys.people_marks(day), svc.keys.worker_day(day)],
                              args=pairs))
    awarded = sum(ctx.ledger.award(ctx.member(w), rule, ref, at, ctx.month(at))
                  for w, rule, ref, at in awards)
    return {"cases": len(ids), "counted": counted, "awarded": awarded}


# ---- service rules and tasks ---------------------------------------------------------------
def registry_now(svc: Services) -> pd.DataFrame:
    """Return the registry with the renewals done tasks recorded laid over it."""
    ctx = people(svc)
    return with_overlay(ctx.residents, parse_overlay(svc.r.hgetall(svc.keys.resident_overlay())))


def _due_ts(dates: np.ndarray, tz) -> np.ndarray:  # noqa: ANN001
    """Return the Unix time of the end (23:59:59 local) of each datetime64[D] date."""
    uniq, inv = np.unique(dates, return_inverse=True)
    ends = np.array([datetime.combine(pd.Timestamp(d).date() + timedelta(days=1),
                                      datetime.min.time(), tz).timestamp() - 1 for d in uniq])
    return ends[inv] if len(uniq) else np.zeros(0)


def _busy(svc: Services, c: pd.DataFrame) -> np.ndarray:
    """Return which candidates' resident already has another open task of the rule: one open
    task per rule and resident, also when the occasion moves (the never visited are due on
    every run day until a visit is done)."""
    if not len(c):
        return np.zeros(0, bool)
    pipe = svc.r.pipeline(transaction=False)
    rules = list(c["rule"].unique())
    for rule in rules:
        pipe.zrange(svc.keys.tasks_open(rule), 0, -1)
    open_ids = {x.decode() for ids in pipe.execute() for x in ids}
    busy = {i.rsplit(".", 1)[0] for i in open_ids}  # rule.rid (rule codes have no ".")
    return ((c["rule"] + "." + c["rid"]).isin(busy) & ~c["id"].isin(open_ids)).to_numpy()


def run_service_rules(svc: Services, now: float) -> dict:
    """Evaluate the service rules for today and push new tasks to the grid workers."""
    t0 = time.perf_counter()
    ctx = people(svc)
    today = svc.days.day(now)
    c = candidates(registry_now(svc), ctx.service_rules, ctx.local_date(now))
    d = svc.district
    worker = {g.code: (d.worker_of_grid(g.code).id if d.worker_of_grid(g.code) else "")
              for g in d.grids}
    c["worker"] = c["grid"].map(worker)
    c = c[c["worker"].fillna("") != ""]
    c["station"] = c["grid"].map({g.code: g.station for g in d.grids})
    c["street"] = c["grid"].map({g.code: g.street for g in d.grids})
    c["id"] = task_ids(c) if len(c) else pd.Series([], dtype=object)
    c = c[~_busy(svc, c)]
    occ = pd.DatetimeIndex(c["occasion"]).strftime("%Y-%m-%d")
    due = _due_ts(c["due"].to_numpy().astype("datetime64[D]"), svc.days.tz)
    rows = list(zip(c["id"], c["rule"], c["rid"], c["worker"], c["grid"], c["station"],
                    c["street"], occ, [f"{x:.0f}" for x in due], strict=True))
    created = ctx.tasks.create(rows, now, today)
    svc.r.expire(svc.keys.task_stats(today), DAY_TTL_S)
    by_rule = {}
    by_worker: dict[str, int] = {}
    if created:
        made = c.set_index("id").loc[created]
        by_rule = {str(k): int(v) for k, v in made["rule"].value_counts().items()}
        by_worker = {str(k): int(v) for k, v in made["worker"].value_counts().items()}
    summary = {"day": today, "at": round(now), "candidates": len(c), "created": len(created),
               "by_rule": by_rule, "seconds": round(time.perf_counter() - t0, 3)}
    svc.r.hset(svc.keys.rule_runs(), today, orjson.dumps(summary))
    if created:
        _publish(svc, {"ev": "tasks", "created": len(created), "by_rule": by_rule,
                       "by_worker": by_worker})
    return summary


class TaskError(ValueError):
    """A task cannot be completed: unknown (404) or someone else's (403)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def complete_task(svc: Services, task_id: str, worker: str, note: str,
                  now: float) -> tuple[Task, bool]:
    """Mark a task done by its worker (who must be named); return the task and whether it was
    done just now."""
    ctx = people(svc)
    task = ctx.tasks.get(task_id)
    if task is None:
        raise TaskError(404, f"unknown task: {task_id[:80]}")
    if worker != task.worker:
        raise TaskError(403, "this task belongs to another worker" if worker else
                        "name the task's worker")
    day = svc.days.day(now)
    done = ctx.tasks.complete(task, now, day, worker, note[:500],
                              svc.settings.task_retention_days * 86400)
    if done:
        rule = ctx.rule(task.rule)
        if rule is not None and rule.renews:
            until = ctx.local_date(now) + np.timedelta64(rule.renew_days, "D")
            svc.r.hset(svc.keys.resident_overlay(), f"{task.resident}|{rule.renews}", str(until))
        member = ctx.member(task.worker)
        if member is not None:
            ctx.ledger.award(member, "task_done", task.id, now, ctx.month(now))
        _publish(svc, {"ev": "task_done", "rule": task.rule, "worker": task.worker})
    return ctx.tasks.get(task_id) or task, done


def record_volunteer(svc: Services, member_id: str, activity: str, points: int | None,
                     by: str, ref: str, now: float, note: str = "") -> tuple[bool, dict]:
    """Award volunteer points recorded by a supervisor (by: who, from their key, not from what
    the request says); ref (or the activity and day) dedupes.  The award's note is the
    activity, then the recorder's own note if any."""
    ctx = people(svc)
    member = ctx.member(member_id)
    if member is None:
        raise TaskError(404, f"unknown member: {member_id[:64]}")
    if not member.party_member:
        raise TaskError(422, "volunteer points are for party members")
    ref = ref or hashlib.sha256(f"{activity}|{svc.days.day(now)}".encode()).hexdigest()[:12]
    ref = f"{member_id}:{ref}"
    ok = ctx.ledger.award(member, "volunteer", ref, now, ctx.month(now), points,
                          note=f"{activity} · {note}" if note else activity, by=by)
    if ok:
        _publish(svc, {"ev": "points", "member": member_id})
    return ok, {"award": f"volunteer:{ref}", "member": member_id}


# ---- the periodic driver -------------------------------------------------------------------
class PeopleJobs:
    """Runs the people jobs when they are due; every job is idempotent and locked."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def _lock(self, job: str, ttl_s: float) -> bool:
        return bool(self.svc.r.set(self.svc.keys.people_lock(job), "1", nx=True,
                                   ex=max(1, int(ttl_s))))

    def run_once(self, now: float) -> dict:
        """Run whatever is due at now; return what ran."""
        svc, s = self.svc, self.svc.settings
        ran: dict = {}
        ctx: People = people(svc)
        today = svc.days.day(now)
        if self._lock("cases", s.people_case_sync_s):
            ran["cases"] = sync_cases(svc, now)
        if self._lock("assess", s.assess_interval_s):
            ran["assess"] = assess_day(svc, today, now)
        start = svc.days.start_of_day(now)
        yesterday = svc.days.day(start - 1)
        mark = f"final.{yesterday}"
        if now - start >= FINALISE_AFTER_S and not svc.r.hexists(svc.keys.people_jobs(), mark):
            if self._lock(mark, 3600):
                ran["final"] = assess_day(svc, yesterday, start - 1, final=True)
                svc.r.hset(svc.keys.people_jobs(), mark, round(now))
        if ctx.service_rules and now >= at_local(today, s.service_rules_at, svc.days.tz) and (
                not svc.r.hexists(svc.keys.rule_runs(), today)) and self._lock("rules", 600):
            ran["rules"] = run_service_rules(svc, now)
        return ran

    def run(self, stop: threading.Event, every_s: float = 5.0) -> None:
        """Loop until stopped; a failing round is logged and retried next round."""
        while not stop.wait(every_s):
            try:
                self.run_once(self.svc.clock.now())
            except Exception:  # noqa: BLE001 - the jobs must outlive a bad round
                log.exception("people jobs failed")


def start_thread(svc: Services, stop: threading.Event) -> threading.Thread:
    """Start the people jobs of a consumer process in a daemon thread."""
    t = threading.Thread(target=PeopleJobs(svc).run, args=(stop,), name="people", daemon=True)
    t.start()
    return t
