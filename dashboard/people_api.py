"""The people API: service tasks, worker assessment, party-member points, resident search.

Residents' personal data is always masked here (login and authorised drill-down pages
come later).  Recording volunteer points and running the service rules on demand need a
key listed in PEOPLE_ADMIN_KEYS.  Completing a task is the worker's phone's call: it needs
the phones' Open311 API key (issued by ``python app.py apikey create`` or listed in
OPEN311_API_KEYS, checked by dashboard.apikeys) or a PEOPLE_ADMIN_KEYS key, and names the
task's worker.  Keys come as the ``X-Api-Key`` header or ``api_key`` in the body.
"""

from __future__ import annotations

import re
import secrets
from functools import wraps

import redis
from flask import Blueprint, current_app, jsonify, request

from dashboard import apikeys
from dashboard import people_queries as q
from dashboard.points import PointsError
from dashboard.services import Services

bp = Blueprint("people_api", __name__, url_prefix="/api/v1")

DAY = re.compile(r"^\d{8}$")
MONTH_OR_DAY = re.compile(r"^\d{6}(\d{2})?$")
STATUSES = ("open", "done", "all")
MAX_LIMIT = 500


def services() -> Services:
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


def _error(status: int, reason: str):
    resp = jsonify({"error": reason})
    resp.status_code = status
    return resp


def storage(fn):
    """Answer 503 when Redis is down, never a 500."""
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            return _error(503, f"storage unavailable, retry later ({type(exc).__name__})")
    return wrapper


def _given_key() -> str:
    """Return the key of the request: the X-Api-Key header, or api_key in the body (as the
    simulator sends it); empty if none."""
    return request.headers.get("X-Api-Key") or str(_body().get("api_key") or "")


def _admin_keys() -> list[str]:
    return [k.strip() for k in services().settings.people_admin_keys.split(",") if k.strip()]


def _admin_key(given: str) -> str | None:
    """Return the PEOPLE_ADMIN_KEYS key that given is, None if it is none of them."""
    for k in _admin_keys():
        if secrets.compare_digest(given.encode(), k.encode()):
            return k
    return None


def recorder(key: str) -> str:
    """Return who a PEOPLE_ADMIN_KEYS key records as (the keys are bare strings: its tail)."""
    return f"admin key …{key[-4:]}"


def _admin() -> tuple[tuple[int, str] | None, str]:
    """Return ((status, reason), "") unless the request carries a PEOPLE_ADMIN_KEYS key; else
    (None, who recorded it)."""
    if not _admin_keys():
        return (403, "disabled: no PEOPLE_ADMIN_KEYS configured"), ""
    given = _given_key()
    if not given:
        return (401, "missing X-Api-Key"), ""
    key = _admin_key(given)
    if key is None:
        return (403, "X-Api-Key is not a people administrator key"), ""
    return None, recorder(key)


def _phone_or_admin() -> tuple[int, str] | None:
    """Return (status, reason) unless the request carries an Open311 key (the phones') or a
    PEOPLE_ADMIN_KEYS key (a supervisor's)."""
    given = _given_key()
    if not given:
        return 401, "missing X-Api-Key (the phones' Open311 key or a people administrator key)"
    if _admin_key(given) is not None:
        return None
    # keys are ASCII; apikeys.lookup cannot compare other text (TypeError)
    who = apikeys.lookup(services(), given) if given.isascii() else None
    if who is None or who.role not in ("open311", "supervisor"):
        return 403, "X-Api-Key is neither an Open311 key nor a people administrator key"
    return None


def _limit(default: int = 50) -> int:
    try:
        return max(1, min(MAX_LIMIT, int(request.args.get("limit", default))))
    except ValueError:
        return default


def _body() -> dict:
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    return body if isinstance(body, dict) else {}


def _known_worker(wid: str):
    if services().district.worker(wid) is None:
        return _error(404, f"unknown worker: {wid[:64]}")
    return None


# ---- tasks -------------------------------------------------------------------------------------
@bp.post("/tasks/<task_id>/done")
@storage
def task_done(task_id: str):
    """Mark a service task done: {"worker": id (the task's), "note": text, "api_key"?}; needs
    the phones' Open311 key or a PEOPLE_ADMIN_KEYS key."""
    from streams.people import TaskError, complete_task

    if (denied := _phone_or_admin()) is not None:
        return _error(*denied)
    svc = services()
    body = _body()
    worker = str(body.get("worker") or "")
    if not worker:
        return _error(400, "worker is required (the id of the task's worker)")
    try:
        task, now_done = complete_task(svc, task_id, worker, str(body.get("note") or ""),
                                       svc.clock.now())
    except TaskError as exc:
        return _error(exc.status, str(exc))
    return jsonify({"task": q.task_json(svc, task), "done_now": now_done})


@bp.get("/tasks")
@storage
def tasks():
    """List open tasks by due time (?status=open|overdue, rule=, limit=): ids, workers, due."""
    svc = services()
    status = request.args.get("status", "open")
    if status not in ("open", "overdue"):
        return _error(400, "status must be open or overdue")
    rule = request.args.get("rule", "") or "all"
    top = svc.clock.now() if status == "overdue" else "+inf"
    ids = svc.r.zrangebyscore(svc.keys.tasks_open(rule), "-inf", top, start=0, num=_limit(200),
                              withscores=True)
    pipe = svc.r.pipeline(transaction=False)
    for i, _ in ids:
        pipe.hmget(svc.keys.task(i.decode()), "worker", "rule", "created")
    rows = []
    for (i, due), (worker, rl, created) in zip(ids, pipe.execute(), strict=True):
        if worker is not None:
            rows.append({"id": i.decode(), "worker": worker.decode(), "rule": rl.decode(),
                         "due": due, "created": float(created)})
    return jsonify({"status": status, "tasks": rows})


@bp.get("/tasks/stats")
@storage
def task_stats():
    """Return tasks pushed and done on a day (?day=YYYYMMDD, default today) and overdue now."""
    day = request.args.get("day") or None
    if day and not DAY.match(day):
        return _error(400, "day must be YYYYMMDD")
    return jsonify(q.task_counts(services(), day))


@bp.get("/workers/<wid>/tasks")
@storage
def worker_tasks(wid: str):
    """Return a worker's service tasks (?status=open|done|all), residents masked."""
    if (err := _known_worker(wid)) is not None:
        return err
    status = request.args.get("status", "open")
    if status not in STATUSES:
        return _error(400, f"status must be one of {', '.join(STATUSES)}")
    return jsonify({"worker": wid, "status": status,
                    "tasks": q.worker_tasks(services(), wid, status, _limit(200))})


# ---- assessment ---------------------------------------------------------------------------------
@bp.get("/workers/<wid>/assessment")
@storage
def worker_assessment(wid: str):
    """Return a worker's day assessment (?day=YYYYMMDD, default today): score, parts, patrols."""
    if (err := _known_worker(wid)) is not None:
        return err
    day = request.args.get("day") or None
    if day and not DAY.match(day):
        return _error(400, "day must be YYYYMMDD")
    doc = q.worker_assessment(services(), wid, day)
    if doc is None:
        return _error(404, "that day has not been assessed yet")
    return jsonify(doc)


@bp.get("/assessment/ranking")
@storage
def assessment_ranking():
    """Return workers by score (?period=YYYYMMDD|YYYYMM, street=, station=, limit=)."""
    period = request.args.get("period") or None
    if period and not MONTH_OR_DAY.match(period):
        return _error(400, "period must be YYYYMMDD or YYYYMM")
    return jsonify(q.ranking(services(), period, request.args.get("street", ""),
                             request.args.get("station", ""), _limit(20)))


@bp.get("/anomalies")
@storage
def anomalies():
    """Return a day's anomalies, newest first (?day=YYYYMMDD, limit=)."""
    day = request.args.get("day") or None
    if day and not DAY.match(day):
        return _error(400, "day must be YYYYMMDD")
    return jsonify(q.anomaly_feed(services(), day, _limit(50)))


# ---- points --------------------------------------------------------------------------------------
@bp.get("/points/leaderboard")
@storage
def leaderboard():
    """Return party members by points (?period=month|all, month=YYYYMM, street=, station=)."""
    period = request.args.get("period", "month")
    month = request.args.get("month", "")
    if period not in ("month", "all") or (month and not re.fullmatch(r"\d{6}", month)):
        return _error(400, "period must be month or all; month YYYYMM")
    return jsonify(q.leaderboard(services(), period, request.args.get("street", ""),
                                 request.args.get("station", ""), _limit(20), month))


@bp.get("/members/<mid>/points")
@storage
def member_points(mid: str):
    """Return a member's points and every award behind them."""
    doc = q.member_points(services(), mid, _limit(200))
    if doc is None:
        return _error(404, f"unknown member: {mid[:64]}")
    return jsonify(doc)


@bp.post("/points/volunteer")
@storage
def volunteer():
    """Record a volunteer activity: {"member", "activity", "points"?, "ref"?, "by"?}.  Who
    recorded it is the admin key; the body's "by" is kept only as a note."""
    from streams.people import TaskError, record_volunteer

    denied, by = _admin()
    if denied is not None:
        return _error(*denied)
    svc = services()
    body = _body()
    member, activity = str(body.get("member") or ""), str(body.get("activity") or "").strip()
    if not member or not activity:
        return _error(400, "member and activity are required")
    try:
        points = int(body["points"]) if body.get("points") is not None else None
        ok, out = record_volunteer(svc, member, activity[:200], points, by,
                                   str(body.get("ref") or ""), svc.clock.now(),
                                   note=str(body.get("by") or "").strip())
    except OverflowError:  # points of infinity
        return _error(400, "points must be a whole number")
    except (TypeError, ValueError, PointsError) as exc:
        return _error(400 if not isinstance(exc, TaskError) else exc.status, str(exc))
    return jsonify(out | {"awarded": ok}), (201 if ok else 200)


# ---- service rules and residents -----------------------------------------------------------------
@bp.post("/service-rules/run")
@storage
def run_rules():
    """Run the proactive service rules now (idempotent); returns the run's summary."""
    from streams.people import run_service_rules

    denied, _ = _admin()
    if denied is not None:
        return _error(*denied)
    svc = services()
    return jsonify(run_service_rules(svc, svc.clock.now()))


@bp.get("/residents")
@storage
def residents():
    """Search residents (?q=name, 张*辉, ID or phone tail, or address; grid=); masked."""
    svc = services()
    query = request.args.get("q", "")[:40]
    grid = request.args.get("grid", "")
    if not query and not grid:
        return _error(400, "q or grid is required")
    return jsonify({"q": query, "residents": q.search_residents(svc, query, grid, _limit(50))})
