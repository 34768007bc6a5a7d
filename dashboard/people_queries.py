"""Redis -> plain data for the /people wall and the people API: one function per panel or
endpoint.  Residents' names, ID numbers and phones are masked unless ``reveal`` (which only
an authorised drill-down page may pass)."""

from __future__ import annotations

import orjson

from dashboard.people import people
from dashboard.privacy import mask_name, resident_view
from dashboard.residents import search
from dashboard.services import Services
from dashboard.tasks import Task

KIND_ORDER = ("no_patrol", "outside", "still", "impossible")


def _today(svc: Services) -> str:
    return svc.days.day(svc.clock.now())


def _text(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


# ---- names ----------------------------------------------------------------------------------
def member_name(svc: Services, member_id: str, reveal: bool = False) -> str:
    """Return a points member's display name: a worker's name, a resident's masked name."""
    w = svc.district.worker(member_id)
    if w is not None:
        return w.name
    m = people(svc).member(member_id)
    if m is None:
        return member_id
    return m.name if reveal else mask_name(m.name)


def _place(svc: Services, grid: str) -> dict:
    g = svc.district.grid(grid)
    if g is None:
        return {"grid": grid, "grid_name": "", "station": "", "station_name": "",
                "street": "", "street_name": ""}
    st, sr = svc.district.station(g.station), svc.district.street(g.street)
    return {"grid": g.code, "grid_name": g.name, "station": g.station,
            "station_name": st.name if st else "", "street": g.street,
            "street_name": sr.name if sr else ""}


# ---- tasks ------------------------------------------------------------------------------------
def task_json(svc: Services, task: Task, reveal: bool = False) -> dict:
    """Return the API form of a task with its rule and (masked) resident."""
    ctx = people(svc)
    rule = ctx.rule(task.rule)
    df = ctx.residents
    res = {}
    if task.resident in df.index:
        row = df.loc[task.resident]
        res = resident_view({"id": task.resident, "name": row["name"], "id_no": row["id_no"],
                             "phone": row["phone"], "address": row["address"],
                             "sex": row["sex"], "birth": str(row["birth"])[:10]}, reveal)
    now = svc.clock.now()
    return {"id": task.id, "rule": task.rule, "rule_name": rule.name if rule else task.rule,
            "rule_name_en": rule.name_en if rule else "", "status": task.status,
            "overdue": task.overdue(now), "occasion": task.occasion, "due": task.due,
            "created": task.created, "done_at": task.done_at or None, "done_by": task.done_by,
            "note": task.note, "worker": task.worker, "resident": res,
            **_place(svc, task.grid)}


def worker_tasks(svc: Services, wid: str, status: str = "open", limit: int = 200,
                 reveal: bool = False) -> list[dict]:
    """Return a worker's tasks by due time: open, done or all."""
    ctx = people(svc)
    ids = [_text(x) for x in svc.r.zrange(svc.keys.tasks_worker(wid), 0, -1)]
    tasks = ctx.tasks.get_many(ids)
    gone = [i for i, t in zip(ids, tasks, strict=True) if t is None]
    if gone:  # done tasks past their retention: drop them from the index
        svc.r.zrem(svc.keys.tasks_worker(wid), *gone)
    keep = [t for t in tasks if t is not None and (status == "all" or t.status == status)]
    return [task_json(svc, t, reveal) for t in keep[:limit]]


def task_counts(svc: Services, day: str | None = None) -> dict:
    """Return service tasks pushed and done on a day and overdue now, in total and by rule."""
    ctx = people(svc)
    day = day or _today(svc)
    now = svc.clock.now()
    stats = {_text(k): int(v) for k, v in svc.r.hgetall(svc.keys.task_stats(day)).items()}
    pipe = svc.r.pipeline(transaction=False)
    for r in ctx.service_rules:
        pipe.zcount(svc.keys.tasks_open(r.code), "-inf", now)
        pipe.zcard(svc.keys.tasks_open(r.code))
    res = pipe.execute()
    rows = []
    for i, r in enumerate(ctx.service_rules):
        rows.append({"rule": r.code, "name": r.name, "name_en": r.name_en,
                     "pushed": stats.get(f"pushed|{r.code}", 0),
                     "done": stats.get(f"done|{r.code}", 0),
                     "overdue": int(res[2 * i]), "open": int(res[2 * i + 1])})
    total = {k: sum(x[k] for x in rows) for k in ("pushed", "done", "overdue", "open")}
    return {"day": day, "total": total, "rules": rows}


# ---- assessment ------------------------------------------------------------------------------
def worker_assessment(svc: Services, wid: str, day: str | None = None) -> dict | None:
    """Return a worker's stored day assessment, None if that day was not assessed."""
    day = day or _today(svc)
    raw = svc.r.hget(svc.keys.assessment(day), wid)
    if raw is None:
        return None
    doc = orjson.loads(raw)
    w = svc.district.worker(wid)
    doc |= {"name": w.name if w else wid, **_place(svc, w.grid if w else "")}
    doc["rank"] = _rank(svc, day, f"station.{doc['station']}", wid)
    raw_an = [orjson.loads(v) for k, v in svc.r.hgetall(svc.keys.anomalies(day)).items()
              if _text(k).split(":")[1] == wid]
    doc["anomalies"] = sorted(raw_an, key=lambda a: a["at"])
    return doc


def _rank(svc: Services, day: str, scope: str, wid: str) -> dict:
    key = svc.keys.assess_rank(day, scope)
    pos = svc.r.zrevrank(key, wid)
    return {"scope": scope, "rank": None if pos is None else pos + 1, "of": svc.r.zcard(key)}


def ranking(svc: Services, period: str | None = None, street: str = "", station: str = "",
            limit: int = 20, lowest: bool = False) -> dict:
    """Return workers by score in a scope for a day (YYYYMMDD) or month (YYYYMM, mean per
    day): the best first, or with lowest the worst first (ranks stay best-first)."""
    period = period or _today(svc)
    scope = f"station.{station}" if station else f"street.{street}" if street else "all"
    if len(period) == 6:
        days = sorted(_text(d) for d in svc.r.smembers(svc.keys.assess_days(period)))
        keys = [svc.keys.assess_rank(d, scope) for d in days]
        rows = svc.r.zunion(keys, withscores=True) if keys else []
        rows = sorted(((_text(m), s / len(days)) for m, s in rows), key=lambda x: -x[1])
    else:
        rows = [(_text(m), s) for m, s in svc.r.zrevrange(svc.keys.assess_rank(period, scope),
                                                          0, -1, withscores=True)]
    numbered = list(enumerate(rows, 1))
    top = numbered[-limit:][::-1] if lowest else numbered[:limit]
    ranks = [i for i, _ in top]
    top = [r for _, r in top]
    docs = svc.r.hmget(svc.keys.assessment(period), [w for w, _ in top]) if (
        top and len(period) == 8) else [None] * len(top)
    out = []
    for i, (wid, s), raw in zip(ranks, top, docs, strict=True):
        w = svc.district.worker(wid)
        doc = orjson.loads(raw) if raw else {}
        out.append({"rank": i, "worker": wid, "name": w.name if w else wid,
                    "score": round(s, 1), "patrols": doc.get("patrols"),
                    "coverage": doc.get("coverage"), **_place(svc, w.grid if w else "")})
    return {"period": period, "scope": scope, "count": len(rows), "rows": out}


def unit_ranking(svc: Services, level: str = "station", day: str | None = None) -> list[dict]:
    """Return stations or streets by the mean score of their workers on a day."""
    day = day or _today(svc)
    units = svc.district.stations if level == "station" else svc.district.streets
    pipe = svc.r.pipeline(transaction=False)
    for u in units:
        pipe.zrange(svc.keys.assess_rank(day, f"{level}.{u.code}"), 0, -1, withscores=True)
    out = []
    for u, rows in zip(units, pipe.execute(), strict=True):
        if rows:
            out.append({"code": u.code, "name": u.name, "workers": len(rows),
                        "score": round(sum(s for _, s in rows) / len(rows), 1)})
    return sorted(out, key=lambda r: -r["score"])


# ---- points -------------------------------------------------------------------------------------
def leaderboard(svc: Services, period: str = "month", street: str = "", station: str = "",
                limit: int = 20, month: str = "", reveal: bool = False) -> dict:
    """Return party members by points this month (or a YYYYMM month, or all time) in a scope."""
    key_period = "all" if period == "all" else (month or _today(svc)[:6])
    scope = f"station.{station}" if station else f"street.{street}" if street else "all"
    key = svc.keys.points_board(key_period, scope)
    rows = svc.r.zrevrange(key, 0, limit - 1, withscores=True)
    ctx = people(svc)
    out = []
    for i, (mid, pts) in enumerate(rows, 1):
        mid = _text(mid)
        m = ctx.member(mid)
        out.append({"rank": i, "member": mid, "kind": m.kind if m else "",
                    "name": member_name(svc, mid, reveal), "points": int(pts),
                    **_place(svc, m.grid if m else "")})
    return {"period": key_period, "scope": scope, "members": svc.r.zcard(key), "rows": out}


def member_points(svc: Services, member_id: str, limit: int = 200,
                  reveal: bool = False) -> dict | None:
    """Return a member's points with every award explained (rule, points, case or task, when)."""
    ctx = people(svc)
    m = ctx.member(member_id)
    if m is None:
        return None
    month = _today(svc)[:6]
    ids = svc.r.zrevrange(svc.keys.points_member(member_id), 0, limit - 1)
    awards = []
    if ids:
        for raw in svc.r.hmget(svc.keys.points_awards(), ids):
            if raw is None:
                continue
            a = orjson.loads(raw)
            rule = ctx.point_rules.get(a["rule"])
            a["rule_name"] = rule.name if rule else a["rule"]
            a["rule_name_en"] = rule.name_en if rule else ""
            awards.append(a)
    total = svc.r.zscore(svc.keys.points_board("all"), member_id) or 0
    this_month = svc.r.zscore(svc.keys.points_board(month), member_id) or 0
    rank = svc.r.zrevrank(svc.keys.points_board(month), member_id)
    return {"member": member_id, "kind": m.kind, "name": member_name(svc, member_id, reveal),
            "party_member": m.party_member, "total": int(total), "month": month,
            "month_points": int(this_month), "month_rank": None if rank is None else rank + 1,
            "awards": awards, **_place(svc, m.grid)}


# ---- anomalies -------------------------------------------------------------------------------
def anomaly_feed(svc: Services, day: str | None = None, limit: int = 30) -> dict:
    """Return today's anomalies, newest first, with names, and their counts by kind."""
    day = day or _today(svc)
    ids = svc.r.zrevrange(svc.keys.anomaly_feed(day), 0, limit - 1)
    items = []
    if ids:
        for raw in svc.r.hmget(svc.keys.anomalies(day), ids):
            if raw is None:
                continue
            a = orjson.loads(raw)
            w = svc.district.worker(a["worker"])
            a |= {"name": w.name if w else a["worker"], **_place(svc, w.grid if w else "")}
            items.append(a)
    counts = dict.fromkeys(KIND_ORDER, 0)
    for k in svc.r.hkeys(svc.keys.anomalies(day)):
        kind = _text(k).split(":")[2]
        counts[kind] = counts.get(kind, 0) + 1
    return {"day": day, "counts": counts, "total": sum(counts.values()), "items": items}


# ---- residents ---------------------------------------------------------------------------------
def search_residents(svc: Services, query: str, grid: str = "", limit: int = 50,
                     reveal: bool = False) -> list[dict]:
    """Return residents matching a name, masked name (张*辉), ID or phone tail, or address."""
    df = search(people(svc).residents, query, grid, limit)
    cols = ["rid", "name", "sex", "birth", "id_no", "phone", "grid", "address", "household",
            "relation", "living_alone", "tenant", "party_member"]
    out = []
    for row in df[cols].to_dict("records"):
        row["birth"] = str(row["birth"])[:10]
        row = {k: (v if not isinstance(v, float) else None) for k, v in row.items()}
        out.append(resident_view(row, reveal))
    return out


def stamped(producer):  # noqa: ANN001, ANN201
    """Wrap a wall producer so its payload carries the real time it was computed ("_t"): the
    page keeps the newest of its first render and the relay's cached pushes."""
    import time

    def run(svc: Services) -> dict:
        return producer(svc) | {"_t": time.time()}

    run.__name__ = getattr(producer, "__name__", "producer")
    return run


# ---- the /people wall ----------------------------------------------------------------------------
def wall_kpis(svc: Services) -> dict:
    """Return the KPI strip of the people wall (pushed every few seconds: small reads only)."""
    day = _today(svc)
    t = task_counts(svc, day)["total"]
    raw = svc.r.hget(svc.keys.people_jobs(), f"assess.{day}")
    summary = orjson.loads(raw) if raw else {}
    return {"pushed": t["pushed"], "done": t["done"], "overdue": t["overdue"],
            "open": t["open"], "double_patrol": summary.get("double_patrol"),
            "workers": len(svc.district.workers), "mean_score": summary.get("mean_score"),
            "anomalies": svc.r.hlen(svc.keys.anomalies(day))}


def points_by_rule(svc: Services, period: str = "") -> list[dict]:
    """Return the points awarded in a month (default this one) or 'all' time, by rule."""
    period = period or _today(svc)[:6]
    got = {_text(k): int(v) for k, v in svc.r.hgetall(svc.keys.points_by_rule(period)).items()}
    rules = people(svc).point_rules
    return sorted(({"rule": code, "name": r.name, "name_en": r.name_en,
                    "points": got.get(code, 0)} for code, r in rules.items()),
                  key=lambda x: -x["points"])


def wall_points(svc: Services) -> dict:
    """Return the month's party-member leaderboard (names masked) and its points by rule."""
    return leaderboard(svc, "month", limit=10) | {"by_rule": points_by_rule(svc)}


def wall_assessment(svc: Services) -> dict:
    """Return today's worker ranking per street (top and bottom) and the station ranking."""
    streets = []
    for s in svc.district.streets:
        r = ranking(svc, street=s.code, limit=6)
        low = ranking(svc, street=s.code, limit=4, lowest=True)["rows"]
        low = [x for x in low if x["rank"] > 6]
        streets.append({"code": s.code, "name": s.name, "count": r["count"], "rows": r["rows"],
                        "lowest": low[::-1]})
    return {"streets": streets, "stations": unit_ranking(svc, "station")[:8],
            "required": people(svc).assess.patrols_per_day}


def wall_anomalies(svc: Services) -> dict:
    """Return today's anomalies for the wall."""
    return anomaly_feed(svc, limit=8)


def wall_tasks(svc: Services) -> dict:
    """Return today's service task counts by rule for the wall."""
    return task_counts(svc)
