"""Case reads for the wall, the APIs and the drill-down: each backlog is one cheap Redis read.

Backlogs (all kept by streams.cases on every write, none computed by scanning):
overdue now = ZRANGEBYSCORE due -inf now; due within an hour = ZCOUNT due now now+3600;
open by department / grid = HGETALL of a counter hash; a department's queue = one zset.
"""

from __future__ import annotations

from datetime import datetime

from dashboard.cases import OPEN, Case, from_hash
from dashboard.catalog import CATEGORIES, catalog_for
from dashboard.dispatch import SUPERVISOR
from dashboard.services import Services

OVERDUE_ROWS = 40  # rows of the wall's overdue panel
MIN_JUDGED = 5  # cases judged on time or late this month before a department can be best/worst
STATE_ZH = {"reported": "已上报", "dispatched": "已派遣", "accepted": "已受理", "handled": "已处置",
            "verified": "已核查", "closed": "已结案", "returned": "退回待派", "linked": "已合并"}
URGENCY_ZH = {"urgent": "紧急", "normal": "一般", "routine": "常规"}
# The fields the wall needs of a case (one HMGET per case, never the whole hash).
WALL_FIELDS = ("it", "u", "s", "d", "la", "lo", "g", "sr", "dl", "od", "es", "at")


def names(svc: Services) -> dict[str, dict[str, str]]:
    """Return display names by code: dept, grid, street, station, item (cached per process)."""
    cached = svc.extra.get("case_names")
    if cached is None:
        d = svc.district
        dept = {x.code: x.name for x in d.departments} | {SUPERVISOR: "区级监督中心"}
        cached = svc.extra["case_names"] = {
            "dept": dept, "grid": {g.code: g.name for g in d.grids},
            "street": {s.code: s.name for s in d.streets},
            "station": {s.code: s.name for s in d.stations},
            "item": {i.code: i.name for i in catalog_for(svc).items}}
    return cached


def iso(svc: Services, ts: float) -> str | None:
    """Return a Unix time as ISO 8601 with the district's offset (2026-05-29T10:00:00+08:00)."""
    if not ts:
        return None
    return datetime.fromtimestamp(ts, svc.days.tz).isoformat(timespec="seconds")


def case_json(svc: Services, c: Case, history: list[dict] | None = None) -> dict:
    """Return the API form of a case (names beside codes, times in ISO 8601)."""
    n = names(svc)
    item = catalog_for(svc).item(c.item)
    worker = svc.district.worker(c.worker)
    out = {"id": c.id, "state": c.state, "state_name": STATE_ZH.get(c.state, c.state),
           "item": c.item, "item_name": item.name if item else c.item,
           "category": item.category if item else "",
           "category_name": CATEGORIES[item.category][0] if item else "",
           "urgency": c.urgency, "department": c.dept,
           "department_name": n["dept"].get(c.dept, c.dept),
           "lat": c.lat, "lon": c.lon, "grid": c.grid, "grid_name": n["grid"].get(c.grid, ""),
           "station": c.station, "street": c.street,
           "street_name": n["street"].get(c.street, ""),
           "worker": c.worker, "worker_name": worker.name if worker else "",
           "description": c.description, "media_url": c.media_url or None,
           "reported_at": iso(svc, c.reported_at), "dispatched_at": iso(svc, c.dispatched_at),
           "deadline": iso(svc, c.deadline), "accepted_at": iso(svc, c.accepted_at),
           "handled_at": iso(svc, c.handled_at), "verified_at": iso(svc, c.verified_at),
           "closed_at": iso(svc, c.closed_at), "updated_at": iso(svc, c.updated_at),
           "overdue": bool(c.overdue) or (c.unhandled and svc.clock.now() > c.deadline),
           "escalation": c.escalation, "reminders": c.reminders, "returns": c.returns,
           "note": c.note, "linked_to": c.linked_to or None, "links": c.links,
           "reporter_in_own_grid": None if c.in_own_grid < 0 else bool(c.in_own_grid),
           "reporter_on_patrol": bool(c.on_patrol)}
    if history is not None:
        out["history"] = history
    return out


def _rows(svc: Services, ids: list[str]) -> list[dict]:
    pipe = svc.r.pipeline(transaction=False)
    for i in ids:
        pipe.hmget(svc.keys.case(i), *WALL_FIELDS)
    out = []
    for i, vals in zip(ids, pipe.execute(), strict=True):
        if vals[0] is None:
            continue
        row = dict(zip(WALL_FIELDS, (v.decode() if v is not None else "" for v in vals),
                       strict=True))
        row["id"] = i
        out.append(row)
    return out


def wall_row(c: Case) -> dict:
    """Return the WALL_FIELDS of a case in memory, as _rows reads them from Redis."""
    return {"id": c.id, "it": c.item, "u": c.urgency, "s": c.state, "d": c.dept, "la": c.lat,
            "lo": c.lon, "g": c.grid, "sr": c.street, "dl": c.deadline, "od": c.overdue,
            "es": c.escalation, "at": c.reported_at}


def overdue_row(svc: Services, row: dict, now: float) -> dict:
    """Return one line of the overdue panel: item, place (street and grid), department, minutes
    late; names in Chinese (the wall maps them to its language)."""
    n = names(svc)
    dl = float(row["dl"] or 0)
    street, grid = n["street"].get(row["sr"], ""), n["grid"].get(row["g"], "")
    return {"id": row["id"], "item": n["item"].get(row["it"], row["it"]),
            "place": f"{street} {grid}".strip(), "street": street, "grid": grid,
            "dept": n["dept"].get(row["d"], row["d"]), "deadline": dl,
            "late_s": round(max(0.0, now - dl)), "urgency": row["u"],
            "escalation": int(row["es"] or 0)}


def overdue_now(svc: Services, count: int = OVERDUE_ROWS, offset: int = 0) -> list[dict]:
    """Return the newest overdue cases (deadline passed, still unhandled), newest first."""
    now = svc.clock.now()
    ids = [i.decode() for i in svc.r.zrevrangebyscore(svc.keys.cases_due(), now, "-inf",
                                                      start=offset, num=count)]
    return [overdue_row(svc, row, now) for row in _rows(svc, ids)]


def overdue_count(svc: Services) -> int:
    """Return how many cases are overdue now."""
    return svc.r.zcount(svc.keys.cases_due(), "-inf", svc.clock.now())


def due_within(svc: Services, seconds: float = 3600) -> int:
    """Return how many unhandled cases fall due within the next `seconds`."""
    now = svc.clock.now()
    return svc.r.zcount(svc.keys.cases_due(), f"({now!r}", now + seconds)


def _counts(svc: Services, what: str) -> dict[str, int]:
    raw = svc.r.hgetall(svc.keys.cases_count(what))
    return {k.decode(): int(v) for k, v in raw.items() if int(v)}


def open_by_department(svc: Services) -> dict[str, int]:
    """Return open cases per department code (SUPERVISOR = the district supervisor's queue)."""
    return _counts(svc, "dept")


def overdue_by_department(svc: Services) -> dict[str, int]:
    """Return overdue unhandled cases per department code."""
    return _counts(svc, "dept.overdue")


def open_by_grid(svc: Services) -> dict[str, int]:
    """Return open cases per grid code."""
    return _counts(svc, "grid")


def department_cases(svc: Services, dept: str, offset: int = 0, count: int = 100) -> list[Case]:
    """Return a department's open cases, most urgent deadline first."""
    ids = svc.r.zrange(svc.keys.cases_queue(dept), offset, offset + count - 1)
    pipe = svc.r.pipeline(transaction=False)
    for i in ids:
        pipe.hgetall(svc.keys.case(i.decode()))
    return [from_hash(raw) for raw in pipe.execute() if raw]


def _rate(ok: int, late: int) -> float | None:
    return None if ok + late == 0 else round(ok / (ok + late), 4)


def _median_h(hist: dict[int, int]) -> float | None:
    from streams.cases import ht_value

    total = sum(hist.values())
    if not total:
        return None
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if seen * 2 >= total:
            return round(ht_value(bucket) / 3600.0, 2)
    return None


def department_ranking(svc: Services) -> dict:
    """Return per department: open, overdue, on-time rate today and this month, median hours
    to handle this month; ranked by this month's on-time rate, best first."""
    now = svc.clock.now()
    day = svc.days.day(now)
    pipe = svc.r.pipeline(transaction=False)
    for key in (svc.keys.cases_count("dept"), svc.keys.cases_count("dept.overdue"),
                svc.keys.cases_stats(day), svc.keys.cases_stats(day[:6]),
                svc.keys.cases_handle_times(day[:6])):
        pipe.hgetall(key)
    raw = [{k.decode(): int(v) for k, v in h.items()} for h in pipe.execute()]
    open_, overdue, today, month, times = raw
    hist: dict[str, dict[int, int]] = {}
    for k, v in times.items():
        dept, _, bucket = k.rpartition(":")
        hist.setdefault(dept, {})[int(bucket)] = v
    n = names(svc)["dept"]
    rows = []
    for code in n:
        if code == SUPERVISOR:
            continue  # the supervisor's queue is not a department to rank
        ot_m, lt_m = month.get(f"ot:{code}", 0), month.get(f"lt:{code}", 0)
        row = {"code": code, "name": n[code], "open": open_.get(code, 0),
               "overdue": overdue.get(code, 0),
               "ontime_today": _rate(today.get(f"ot:{code}", 0), today.get(f"lt:{code}", 0)),
               "ontime_month": _rate(ot_m, lt_m), "judged_month": ot_m + lt_m,
               "median_h": _median_h(hist.get(code, {}))}
        if row["open"] or row["judged_month"]:
            rows.append(row)
    rows.sort(key=lambda r: (-(r["ontime_month"] if r["ontime_month"] is not None else -1),
                             r["overdue"], -r["judged_month"], r["name"]))
    judged = [r for r in rows if r["judged_month"] >= MIN_JUDGED]
    for r in rows:
        r["mark"] = ""
    if len(judged) >= 2:
        best = max(judged, key=lambda r: (r["ontime_month"], -r["overdue"]))
        worst = min(judged, key=lambda r: (r["ontime_month"], -r["overdue"]))
        best["mark"], worst["mark"] = "best", "worst"
    return {"rows": rows, "now": now}


def case_kpis(svc: Services) -> dict:
    """Return the case KPIs of the wall: reports today, open, overdue, on-time rate today."""
    now = svc.clock.now()
    day = svc.days.day(now)
    k = svc.keys
    pipe = svc.r.pipeline(transaction=False)
    pipe.hgetall(k.cases_stats(day))
    pipe.zcard(k.cases_open())
    pipe.zcount(k.cases_due(), "-inf", now)
    pipe.zcount(k.cases_due(), f"({now!r}", now + 3600)
    stats, open_, overdue, soon = pipe.execute()
    ok = late = 0
    for f, v in stats.items():
        f = f.decode()
        ok += int(v) if f.startswith("ot:") else 0
        late += int(v) if f.startswith("lt:") else 0
    return {"reports_today": int(stats.get(b"rep", 0)), "open": open_, "overdue": overdue,
            "due_soon": soon, "ontime_today": _rate(ok, late)}


def overdue_alerts(svc: Services) -> dict:
    """Return the overdue panel: the newest overdue cases and how many there are."""
    return {"rows": overdue_now(svc), "total": overdue_count(svc), "now": svc.clock.now()}


def case_map(svc: Services) -> dict:
    """Return the wall map's case layer: the most urgent open cases and open cases per grid."""
    now = svc.clock.now()
    ids = [i.decode() for i in svc.r.zrange(svc.keys.cases_open(), 0,
                                            svc.settings.case_map_max - 1)]
    n = names(svc)
    rows = _rows(svc, ids)
    return {"ids": [r["id"] for r in rows], "lat": [round(float(r["la"]), 6) for r in rows],
            "lon": [round(float(r["lo"]), 6) for r in rows], "u": [r["u"] for r in rows],
            "s": [r["s"] for r in rows], "dl": [float(r["dl"] or 0) for r in rows],
            "t": [f"{n['item'].get(r['it'], r['it'])} · {n['dept'].get(r['d'], r['d'])}"
                  for r in rows],
            "grids": open_by_grid(svc), "now": now}


def marker(svc: Services, c: Case) -> dict:
    """Return one map marker delta of a case (removed from the map when no longer open)."""
    return marker_of(svc, c.id, c.lat, c.lon, c.urgency, c.state, c.deadline, c.item, c.dept)


def marker_of(svc: Services, cid: str, lat: float, lon: float, urgency: str, state: str,
              deadline: float, item: str, dept: str) -> dict:
    """Return the map marker delta of a case given by its values (as marker does)."""
    n = names(svc)
    return {"id": cid, "lat": round(lat, 6), "lon": round(lon, 6), "u": urgency, "s": state,
            "dl": deadline, "open": state in OPEN,
            "t": f"{n['item'].get(item, item)} · {n['dept'].get(dept, dept)}"}
