"""Reads of the supervisor drill-down pages: district, street, station, grid, worker,
department, case and search; one function per page part, taking Services and a Scope.

Pages never read Redis themselves; everything they show (and every table they export) comes
from here, already limited to what the Scope may see and with personal data masked unless
the Scope may reveal it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from dashboard import case_queries
from dashboard.auth import Scope
from dashboard.catalog import CATEGORIES, URGENCIES, catalog_for
from dashboard.dispatch import SUPERVISOR
from dashboard.i18n import t
from dashboard.privacy import mask_phone
from dashboard.queries import status_code, track, worker_states
from dashboard.services import Services
from streams.gps_state import OFFLINE, OUTSIDE, PATROLLING, STATUS_NAMES

OPEN_CACHE_S = 2.0  # seconds the open-case rows are reused between page renders
CASE_ROWS = 500  # rows of a case table at most (most urgent deadlines first)
BOARD_ROWS = 200  # rows of a unit's worker ranking and points board at most
AWARD_ROWS = 100  # a worker's newest point awards listed on their page
LEVELS = ("district", "street", "station", "grid")


def local(svc: Services, ts: float | None, fmt: str = "%m-%d %H:%M") -> str:
    """Return a Unix time as local text in the district's zone ("" for none)."""
    if not ts:
        return ""
    return datetime.fromtimestamp(float(ts), svc.days.tz).strftime(fmt)


# ---- the district model ------------------------------------------------------------------------
def grids_of(svc: Services, level: str, code: str = "") -> list:
    """Return the grids under a district, street, station or grid."""
    d = svc.district
    if level == "district":
        return list(d.grids)
    if level == "grid":
        g = d.grid(code)
        return [g] if g else []
    return [g for g in d.grids if getattr(g, level) == code]


def children(svc: Services, level: str, code: str = "") -> tuple[str, list]:
    """Return (child level, units) one level under a unit: streets, stations or grids."""
    d = svc.district
    if level == "district":
        used = {g.street for g in d.grids}
        return "street", [s for s in d.streets if s.code in used]
    if level == "street":
        return "station", [s for s in d.stations if s.street == code]
    return "grid", grids_of(svc, level, code)


def open_rows(svc: Services) -> list[dict]:
    """Return the wall fields of every open case (cached a moment: one read per page view)."""
    hit = svc.extra.get("drill_open")
    if hit and time.monotonic() - hit[0] < OPEN_CACHE_S:
        return hit[1]
    ids = [i.decode() for i in svc.r.zrange(svc.keys.cases_open(), 0, 50_000)]
    rows = case_queries._rows(svc, ids)  # noqa: SLF001 - one HMGET per case, as the wall
    svc.extra["drill_open"] = (time.monotonic(), rows)
    return rows


def names(svc: Services, lang: str = "zh") -> dict[str, dict[str, str]]:
    """Return case_queries.names in a language: English names where the district has them."""
    n = case_queries.names(svc)
    if lang != "en":
        return n
    cached = svc.extra.get("case_names_en")
    if cached is None:
        d, en = svc.district, lambda x: x.name_en or x.name
        cached = svc.extra["case_names_en"] = n | {
            "dept": n["dept"] | {x.code: en(x) for x in d.departments}
            | {SUPERVISOR: t("actor_supervisor", lang)},
            "street": {x.code: en(x) for x in d.streets},
            "item": {x.code: en(x) for x in catalog_for(svc).items}}
    return cached


def state_name(state: str, lang: str = "zh") -> str:
    """Return a case state (dispatched, ...) for display; an unknown one as it is."""
    key = f"state_{state}"
    return state if t(key, lang) == key else t(key, lang)


def urgency_name(urgency: str, lang: str = "zh") -> str:
    """Return a case urgency (urgent, normal, routine) for display; an unknown one as it is."""
    return t(urgency, lang) if urgency in URGENCIES else urgency


def _case_row(svc: Services, r: dict, now: float, lang: str) -> dict:
    n = names(svc, lang)
    dl = float(r["dl"] or 0)
    late = r["s"] in ("dispatched", "accepted", "returned") and dl and dl < now
    return {"href": f"/case/{r['id']}", "id": r["id"], "item": n["item"].get(r["it"], r["it"]),
            "urgency": urgency_name(r["u"], lang), "state": state_name(r["s"], lang),
            "dept": n["dept"].get(r["d"], r["d"]),
            "street": n["street"].get(r["sr"], ""), "grid": n["grid"].get(r["g"], ""),
            "reported": local(svc, float(r["at"] or 0)), "deadline": local(svc, dl),
            "late_min": round((now - dl) / 60) if late else 0}


def cases_in(svc: Services, grids: set[str] | None = None, dept: str = "",
             lang: str = "zh") -> list[dict]:
    """Return open cases of some grids or of a department as table rows, most urgent first."""
    now = svc.clock.now()
    rows = [r for r in open_rows(svc)
            if (grids is None or r["g"] in grids) and (not dept or r["d"] == dept)]
    return [_case_row(svc, r, now, lang) for r in rows[:CASE_ROWS]]


# ---- workers ------------------------------------------------------------------------------------
def worker_rows(svc: Services, grids: list, scope: Scope, states: dict | None = None,
                lang: str = "zh") -> list[dict]:
    """Return the workers of some grids with status, last fix and (masked) phone."""
    states = worker_states(svc) if states is None else states
    now, d = svc.clock.now(), svc.district
    out = []
    for g in grids:
        w = d.worker_of_grid(g.code)
        if w is None:
            continue
        st = states.get(w.id)
        code = status_code(st, now, svc.settings.offline_after_s)
        station = d.station(g.station)
        out.append({"href": f"/worker/{w.id}", "id": w.id, "name": w.name, "grid": g.name,
                    "station": station.name if station else "",
                    "status": t(f"status_{STATUS_NAMES[code]}", lang), "code": STATUS_NAMES[code],
                    "last_fix": local(svc, st.ts if st else None),
                    "battery": None if st is None or st.battery < 0 else round(st.battery),
                    "party": w.party_member,
                    "phone": w.phone if scope.reveal else mask_phone(w.phone)})
    return out


def kpis(svc: Services, grids: list, states: dict | None = None) -> dict:
    """Return the KPI strip of a unit: workers online/patrolling/outside, open and late cases."""
    states = worker_states(svc) if states is None else states
    now, d = svc.clock.now(), svc.district
    codes = {g.code for g in grids}
    online = patrolling = outside = 0
    for g in grids:
        w = d.worker_of_grid(g.code)
        c = status_code(states.get(w.id) if w else None, now, svc.settings.offline_after_s)
        online += c != OFFLINE
        patrolling += c == PATROLLING
        outside += c == OUTSIDE
    cases = [r for r in open_rows(svc) if r["g"] in codes]
    overdue = sum(1 for r in cases if r["s"] in ("dispatched", "accepted", "returned")
                  and r["dl"] and float(r["dl"]) < now)
    return {"grids": len(grids), "households": sum(g.households for g in grids),
            "workers": sum(1 for g in grids if d.worker_of_grid(g.code)), "online": online,
            "patrolling": patrolling, "outside": outside, "open": len(cases), "overdue": overdue}


def unit_rows(svc: Services, level: str, code: str = "") -> list[dict]:
    """Return one ranking row per unit one level down: workers, status and case counts."""
    kind, units = children(svc, level, code)
    states = worker_states(svc)
    out = []
    for u in units:
        grids = grids_of(svc, kind, u.code)
        row = {"href": f"/{kind}/{u.code}", "code": u.code, "name": u.name,
               **kpis(svc, grids, states)}
        if kind == "station":
            row["leader"] = u.leader
        if kind == "grid":
            w = svc.district.worker_of_grid(u.code)
            row["worker"] = w.name if w else ""
        out.append(row)
    return sorted(out, key=lambda r: (-r["overdue"], -r["open"], r["name"]))


# ---- map data -----------------------------------------------------------------------------------
def geo(svc: Services, level: str, code: str = "") -> dict:
    """Return the drill map of a unit: clickable child areas, open cases, worker positions."""
    import json

    import shapely
    from shapely.geometry import Polygon

    kind, units = children(svc, level, code)
    grids = grids_of(svc, level, code)
    codes = {g.code for g in grids}
    per_grid = case_queries.open_by_grid(svc)
    feats = []
    for u in units:
        polys = [Polygon(g.ring) for g in grids_of(svc, kind, u.code)]
        if not polys:
            continue
        shape = shapely.orient_polygons(shapely.union_all(polys))
        n_open = sum(per_grid.get(g.code, 0) for g in grids_of(svc, kind, u.code))
        href = f"/{kind}/{u.code}"
        if level == "grid":  # one level under a grid is its worker
            w = svc.district.worker_of_grid(u.code)
            href = f"/worker/{w.id}" if w else ""
        feats.append({"type": "Feature", "geometry": json.loads(shapely.to_geojson(shape)),
                      "properties": {"name": u.name, "href": href, "open": n_open}})
    lons = [p[0] for g in grids for p in g.ring]
    lats = [p[1] for g in grids for p in g.ring]
    bounds = [[min(lats), min(lons)], [max(lats), max(lons)]] if grids else None
    now = svc.clock.now()
    cases = [{"lat": float(r["la"]), "lon": float(r["lo"]), "u": r["u"], "href": f"/case/{r['id']}",
              "late": bool(r["dl"] and float(r["dl"]) < now
                           and r["s"] in ("dispatched", "accepted", "returned")),
              "t": case_queries.names(svc)["item"].get(r["it"], r["it"])}
             for r in open_rows(svc) if r["g"] in codes][:2000] if level != "district" else []
    states = worker_states(svc) if level != "district" else {}  # the wall shows them all
    workers = []
    for g in grids:
        w = svc.district.worker_of_grid(g.code)
        st = states.get(w.id) if w else None
        if st is None:
            continue
        workers.append({"lat": st.lat, "lon": st.lon, "name": w.name, "href": f"/worker/{w.id}",
                        "status": STATUS_NAMES[status_code(st, now, svc.settings.offline_after_s)]})
    lines = []
    if level in ("district", "street") and kind != "grid":
        lines = [{"type": "Feature", "properties": {},
                  "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in g.ring]]}}
                 for g in grids] if len(grids) <= 2500 else []
    return {"areas": {"type": "FeatureCollection", "features": feats}, "kind": kind,
            "grids": {"type": "FeatureCollection", "features": lines}, "bounds": bounds,
            "cases": cases, "workers": workers, "max_open": max((f["properties"]["open"]
                                                                for f in feats), default=0)}


# ---- worker page ------------------------------------------------------------------------------
def worker_day(svc: Services, wid: str, day: str, scope: Scope, lang: str = "zh") -> dict:
    """Return a worker's day: track, patrols and coverage, cases reported, tasks and points."""
    from dashboard import people_queries as pq

    w = svc.district.worker(wid)
    g = svc.district.grid(w.grid)
    pts = track(svc, wid, day)
    assess = None
    try:
        assess = pq.worker_assessment(svc, wid, day)
    except Exception:  # noqa: BLE001 - people data absent in a trimmed district
        assess = None
    points = member_points(svc, wid, scope)
    return {"worker": w, "grid": g, "day": day, "track": pts, "assessment": assess,
            "cases": worker_cases(svc, wid, day, lang),
            "tasks": worker_tasks(svc, wid, scope, lang), "points": points,
            "awards": award_rows(svc, points, lang),
            "ring": [[lat, lon] for lon, lat in g.ring]}


def worker_cases(svc: Services, wid: str, day: str, lang: str = "zh") -> list[dict]:
    """Return the cases a worker reported on a local day (YYYYMMDD) as table rows."""
    start = svc.days.start_of_day(datetime.strptime(day, "%Y%m%d").replace(
        hour=12, tzinfo=svc.days.tz).timestamp())
    ids = [i.decode() for i in svc.r.zrangebyscore(svc.keys.cases_all(), start, start + 86400)]
    pipe = svc.r.pipeline(transaction=False)
    for i in ids:
        pipe.hmget(svc.keys.case(i), "w", "it", "s", "d", "at", "u")
    n = names(svc, lang)
    cases = []
    for i, (who, it, s, d, at, u) in zip(ids, pipe.execute(), strict=True):
        if who is not None and who.decode() == wid:
            cases.append({"href": f"/case/{i}", "id": i,
                          "item": n["item"].get(it.decode(), it.decode()),
                          "state": state_name(s.decode(), lang),
                          "dept": n["dept"].get(d.decode(), d.decode()),
                          "reported": local(svc, float(at), "%H:%M"),
                          "urgency": urgency_name(u.decode(), lang)})
    return cases


def worker_tasks(svc: Services, wid: str, scope: Scope, lang: str = "zh") -> list[dict]:
    """Return a worker's service tasks (open and done) as table rows, residents masked unless
    the scope may reveal them."""
    from dashboard import people_queries as pq

    try:
        tasks = pq.worker_tasks(svc, wid, "all", 100, reveal=scope.reveal)
    except Exception:  # noqa: BLE001 - people data absent in a trimmed district
        return []
    return [{"href": f"/grid/{x['grid']}#task-{x['id']}", "id": x["id"],
             "rule": x["rule_name"] if lang == "zh" else x["rule_name_en"] or x["rule_name"],
             "resident": (x.get("resident") or {}).get("name", ""),
             "status": task_status(svc, x["status"], x["due"], lang),
             "due": local(svc, x["due"])} for x in tasks]


def task_status(svc: Services, status: str, due: float, lang: str = "zh") -> str:
    """Return a service task's status for display: open, overdue (open past due) or done."""
    if status == "open" and due < svc.clock.now():
        status = "overdue"
    key = f"task_{status}"
    return status if t(key, lang) == key else t(key, lang)


def member_points(svc: Services, wid: str, scope: Scope) -> dict | None:
    """Return people_queries.member_points of a worker (None without people data)."""
    from dashboard import people_queries as pq

    try:
        return pq.member_points(svc, wid, AWARD_ROWS, reveal=scope.reveal)
    except Exception:  # noqa: BLE001 - people data absent in a trimmed district
        return None


def award_rows(svc: Services, points: dict | None, lang: str = "zh") -> list[dict]:
    """Return a member's point awards, newest first, as table rows: when, why (the rule), how
    many points, for what (a case opens its page; a task id; a day) and the award's note."""
    awards = (points or {}).get("awards", [])
    member = (points or {}).get("member", "")
    pipe = svc.r.pipeline(transaction=False)
    for a in awards:
        pipe.exists(svc.keys.case(str(a["ref"])))
    is_case = pipe.execute() if awards else []
    rows = []
    for a, case_ref in zip(awards, is_case, strict=True):
        ref = str(a["ref"])
        if ref.startswith(f"{member}:"):  # double patrol (member:day), volunteer (member:ref)
            ref = ref[len(member) + 1:]
            if len(ref) == 8 and ref.isdigit():
                ref = f"{ref[:4]}-{ref[4:6]}-{ref[6:]}"
        rows.append({"href": f"/case/{a['ref']}" if case_ref else "", "id": a["id"],
                     "when": local(svc, a["at"], "%Y-%m-%d %H:%M"),
                     "reason": a["rule_name"] if lang == "zh" else
                     a.get("rule_name_en") or a["rule_name"],
                     "points": a["points"], "ref": ref, "note": a.get("note") or ""})
    return rows


# ---- boards of a street or station --------------------------------------------------------------
def _unit_scope(level: str, code: str) -> dict[str, str]:
    """Return the street= or station= argument of the people queries for a unit."""
    if level not in ("district", "street", "station"):
        raise KeyError(level)
    return {level: code} if level != "district" else {}


def worker_ranking(svc: Services, level: str, code: str = "") -> list[dict]:
    """Return a unit's workers by today's assessment score (rank, score) beside their rank and
    mean daily score this month; workers assessed this month only come after."""
    from dashboard import people_queries as pq

    kw = _unit_scope(level, code)
    today = svc.days.day(svc.clock.now())
    day = pq.ranking(svc, today, limit=BOARD_ROWS, **kw)["rows"]
    month = {r["worker"]: r for r in pq.ranking(svc, today[:6], limit=BOARD_ROWS, **kw)["rows"]}
    seen = {r["worker"] for r in day}
    out = []
    for d, r in [(r, r) for r in day] + [({}, r) for w, r in month.items() if w not in seen]:
        m = month.get(r["worker"], {})
        out.append({"href": f"/worker/{r['worker']}", "id": r["worker"], "name": r["name"],
                    "grid": r["grid_name"], "rank_today": d.get("rank"),
                    "score_today": d.get("score"), "rank_month": m.get("rank"),
                    "score_month": m.get("score")})
    return out


def points_board(svc: Services, level: str, code: str, scope: Scope,
                 lang: str = "zh") -> list[dict]:
    """Return a unit's party-member points this month (ranked) and of all time; a worker's
    row opens their page, residents' names are masked unless the scope may reveal them."""
    from dashboard import people_queries as pq

    kw = _unit_scope(level, code)
    try:
        boards = [pq.leaderboard(svc, period, limit=BOARD_ROWS, reveal=scope.reveal, **kw)
                  for period in ("month", "all")]
    except Exception:  # noqa: BLE001 - people data absent in a trimmed district
        return []
    rows: dict[str, dict] = {}
    for b in boards:
        for r in b["rows"]:
            rows.setdefault(r["member"], r)
    points = []
    for b in boards:  # a member beyond one board's top rows: their score on it
        have = {r["member"]: r["points"] for r in b["rows"]}
        missing = [m for m in rows if m not in have]
        if missing:
            got = svc.r.zmscore(svc.keys.points_board(b["period"], b["scope"]), missing)
            have |= {m: int(v or 0) for m, v in zip(missing, got, strict=True)}
        points.append(have)
    month_rank = {r["member"]: r["rank"] for r in boards[0]["rows"]}
    out = [{"href": f"/worker/{m}" if r["kind"] == "worker" else "", "id": m,
            "rank_month": month_rank.get(m), "name": r["name"],
            "kind": t(f"member_{r['kind']}", lang) if r["kind"] else "",
            "grid": r["grid_name"], "points_month": points[0][m], "points_total": points[1][m]}
           for m, r in rows.items()]
    return sorted(out, key=lambda r: (-r["points_month"], -r["points_total"], r["name"]))


def days_back(svc: Services, n: int = 7) -> list[str]:
    """Return the last n local days (YYYYMMDD), today first."""
    today = datetime.fromtimestamp(svc.clock.now(), svc.days.tz)
    return [(today - timedelta(days=i)).strftime("%Y%m%d") for i in range(n)]


# ---- department page -------------------------------------------------------------------------
def department(svc: Services, code: str, lang: str = "zh") -> dict:
    """Return a department's open, overdue and returned cases, handling times and 30-day trend."""
    from streams.cases import ht_value

    now = svc.clock.now()
    days = list(reversed(days_back(svc, 30)))
    pipe = svc.r.pipeline(transaction=False)
    for d in days:
        pipe.hmget(svc.keys.cases_stats(d), f"hd:{code}", f"ot:{code}", f"lt:{code}",
                   f"rt:{code}", f"cl:{code}")
    months = sorted({days[0][:6], days[-1][:6]})  # the 30 days span one or two months
    for m in months:
        pipe.hgetall(svc.keys.cases_handle_times(m))
    res = pipe.execute()
    trend = {"days": days, "handled": [], "ontime": [], "late": [], "returned": []}
    for vals in res[:len(days)]:
        hd, ot, lt, rt, _cl = (int(v or 0) for v in vals)
        trend["handled"].append(hd)
        trend["ontime"].append(ot)
        trend["late"].append(lt)
        trend["returned"].append(rt)
    hist: dict[float, int] = {}
    for month in res[len(days):]:
        for k, v in month.items():
            dept, _, bucket = k.decode().rpartition(":")
            if dept == code:
                h = ht_value(int(bucket)) / 3600.0
                hist[h] = hist.get(h, 0) + int(v)
    rows = cases_in(svc, dept=code, lang=lang)
    open_all = [r for r in open_rows(svc) if r["d"] == code]
    returned = returned_cases(svc, code, now, lang)
    overdue = sum(1 for r in open_all if r["dl"] and float(r["dl"]) < now
                  and r["s"] in ("dispatched", "accepted", "returned"))
    return {"open": len(open_all), "overdue": overdue,
            "returned_30d": sum(trend["returned"]), "handled_30d": sum(trend["handled"]),
            "trend": trend, "hist": dict(sorted(hist.items())), "cases": rows,
            "returned": returned}


def returned_cases(svc: Services, code: str, now: float, lang: str = "zh") -> list[dict]:
    """Return the cases a department returned in the last 30 days, newest first, as rows
    with the reason it gave and where each case is now."""
    from streams.cases import RETURNED_KEPT_S, CaseStore

    store, n = CaseStore(svc), names(svc, lang)
    hits = svc.r.zrevrangebyscore(svc.keys.cases_returned(code), "+inf",
                                  now - RETURNED_KEPT_S, start=0, num=200, withscores=True)
    ids = [cid.decode() for cid, _ in hits]
    out = []
    for (_, at), case, hist in zip(hits, store.get_many(ids), store.histories(ids), strict=True):
        if case is None:
            continue
        reason = next((h["note"] for h in reversed(hist)
                       if h["action"] == "return" and abs(h["at"] - at) < 1), "")
        out.append({"href": f"/case/{case.id}", "id": case.id,
                    "returned": local(svc, at, "%m-%d %H:%M"), "return_reason": reason,
                    "now_dept": n["dept"].get(case.dept, case.dept),
                    "state": state_name(case.state, lang)})
    return out


# ---- case page -------------------------------------------------------------------------------
def case(svc: Services, case_id: str, lang: str = "zh") -> dict | None:
    """Return a case with its whole history (reminders included), names beside codes."""
    from streams.cases import CaseStore

    store = svc.extra.get("case_store") or CaseStore(svc)
    c = store.get(case_id)
    if c is None:
        return None
    return _case_names(svc, case_queries.case_json(svc, c, store.history(c.id)), lang)


def _case_names(svc: Services, c: dict, lang: str) -> dict:
    """Return a case's state, item, category, department and street names in a language."""
    if lang == "zh":
        return c
    n, cat = names(svc, lang), CATEGORIES.get(c["category"])
    return c | {"state_name": state_name(c["state"], lang),
                "item_name": n["item"].get(c["item"], c["item_name"]),
                "category_name": cat[1] if cat else c["category_name"],
                "department_name": n["dept"].get(c["department"], c["department_name"]),
                "street_name": n["street"].get(c["street"], c["street_name"])}


def timeline(svc: Services, c: dict, lang: str = "zh") -> list[dict]:
    """Return the lifecycle table of a case (from case()): when, step, who, department, note."""
    n = names(svc, lang)
    rows = []
    for h in c.get("history", []):
        action = h.get("action", "")
        note = h.get("note") or ""
        if action.startswith("remind") or action == "overdue":
            note = recipient_name(svc, note, lang)
        rows.append({"id": f"{h.get('at')}-{action}",
                     "when": local(svc, h.get("at"), "%m-%d %H:%M:%S"),
                     "action": t(f"step_{action}", lang),
                     "actor": actor_name(svc, h.get("actor", ""), lang),
                     "dept": n["dept"].get(h.get("dept", ""), h.get("dept", "")), "note": note})
    return rows


def recipient_name(svc: Services, who: str, lang: str = "zh") -> str:
    """Return whom a reminder or overdue notice went to: a worker, a street, the district
    centre or a department, by name."""
    w = svc.district.worker(who)
    if w is not None:
        return w.name
    kind, _, code = who.partition(":")
    street = svc.district.street(code) if kind == "street" else None
    if street is not None:
        return street.name if lang == "zh" else street.name_en or street.name
    if who == "district":
        return t("drill_district", lang)
    return names(svc, lang)["dept"].get(who, who)


def actor_name(svc: Services, actor: str, lang: str = "zh") -> str:
    """Return who took a case step: a worker, a department, the district centre or the system."""
    w = svc.district.worker(actor)
    if w is not None:
        return w.name
    role, _, who = actor.partition(":")
    depts = names(svc, lang)["dept"]
    if "supervisor" in (role, who):
        return depts[SUPERVISOR]
    if actor == "system":
        return t("actor_system", lang)
    return depts.get(who, who or actor)


# ---- grid boundary versions --------------------------------------------------------------------
def grid_versions(svc: Services, code: str, lang: str = "zh") -> list[dict]:
    """Return a grid's boundary versions, newest first: version, by whom, when, grids moved."""
    from dashboard import grid_edit

    d = svc.district
    return [{"id": v["version"], "version": v["version"], "by": v["by"] or t("drill_file", lang),
             "when": local(svc, v["at"], "%Y-%m-%d %H:%M") if v["at"] else "",
             "note": ", ".join(d.grid(c).name for c in v.get("grids", [code]) if d.grid(c))
             if v["version"] else ""}
            for v in reversed(grid_edit.history(svc, code))]


# ---- search ----------------------------------------------------------------------------------
def search(svc: Services, scope: Scope, q: str, limit: int = 20) -> dict:
    """Find cases by id, workers and grids by name or code, residents by (masked) name."""
    q = (q or "").strip()[:40]
    out = {"cases": [], "workers": [], "grids": [], "residents": []}
    if not q:
        return out
    from dashboard.auth_policy import may_open

    d = svc.district
    ql = q.lower()
    raw = svc.r.hmget(svc.keys.case(q), "it", "s", "d", "sr", "g") if len(q) >= 6 else [None]
    if raw[0] is not None and may_open(svc, scope, "case", q):
        n = case_queries.names(svc)
        out["cases"].append({"href": f"/case/{q}", "id": q,
                             "item": n["item"].get(raw[0].decode(), ""),
                             "dept": n["dept"].get(raw[2].decode(), ""),
                             "grid": n["grid"].get(raw[4].decode(), "")})
    if scope.role in ("district", "street"):
        for w in d.workers:
            if (ql in w.name or ql == w.id.lower()) and may_open(svc, scope, "worker", w.id):
                out["workers"].append({"href": f"/worker/{w.id}", "name": w.name,
                                       "grid": d.grid(w.grid).name})
        for g in d.grids:
            if (ql in g.name or ql == g.code.lower()) and may_open(svc, scope, "grid", g.code):
                out["grids"].append({"href": f"/grid/{g.code}", "name": g.name,
                                     "street": d.street(g.street).name})
        from dashboard import people_queries as pq

        try:
            found = pq.search_residents(svc, q, "", 200, reveal=scope.reveal)
        except Exception:  # noqa: BLE001 - no resident registry in this district
            found = []
        for r in found:
            g = d.grid(r.get("grid") or "")
            if g is not None and may_open(svc, scope, "grid", g.code):
                out["residents"].append({"href": f"/grid/{g.code}", "name": r["name"],
                                         "grid": g.name, "address": r.get("address") or "",
                                         "phone": r.get("phone") or "",
                                         "id_no": r.get("id_no") or ""})
    return {k: v[:limit] for k, v in out.items()}


# ---- tables (shown on the pages, exported to CSV and Excel) ------------------------------------
COLUMNS = {
    "units": ("name", "leader", "worker", "grids", "households", "workers", "online",
              "patrolling", "outside", "open", "overdue"),
    "workers": ("name", "grid", "station", "status", "last_fix", "battery", "phone"),
    "cases": ("id", "item", "urgency", "state", "dept", "street", "grid", "reported",
              "deadline", "late_min"),
    "ranking": ("rank_today", "name", "grid", "score_today", "rank_month", "score_month"),
    "points": ("rank_month", "name", "kind", "grid", "points_month", "points_total"),
    "worker_cases": ("id", "reported", "item", "urgency", "state", "dept"),
    "worker_tasks": ("rule", "resident", "status", "due"),
    "worker_awards": ("when", "reason", "points", "ref", "note"),
    "timeline": ("when", "action", "actor", "dept", "note"),
    "versions": ("version", "by", "when", "note"),
    "returned": ("id", "returned", "return_reason", "now_dept", "state"),
}
# The tables each kind of page has (exports of other tables of a page are 404).
PAGE_TABLES = {
    "district": ("units", "workers", "cases"),
    "street": ("units", "workers", "cases", "ranking", "points"),
    "station": ("units", "workers", "cases", "ranking", "points"),
    "grid": ("workers", "cases"),
    "department": ("cases", "returned"),
    "worker": ("worker_cases", "worker_tasks", "worker_awards"),
    "case": ("timeline",),
    "grid_edit": ("versions",),
}


def table(svc: Services, scope: Scope, path: str, name: str, lang: str = "zh",
          day: str = "") -> list[dict]:
    """Return the rows of a page's table (COLUMNS; PAGE_TABLES says which page has which);
    the page's path says whose, `day` (YYYYMMDD, default today) which day of a worker's
    cases.  The caller has checked the scope may open that page."""
    from dashboard.auth_policy import parse_page

    page = parse_page(path)
    if page is None:
        raise KeyError(name)
    kind, code = page
    kind = "district" if kind == "live" else kind
    if name not in PAGE_TABLES.get(kind, ()):
        raise KeyError(name)
    if kind == "department":
        if name == "returned":
            return returned_cases(svc, code, svc.clock.now(), lang)
        return cases_in(svc, dept=code, lang=lang)
    if kind == "worker":
        if svc.district.worker(code) is None:
            raise KeyError(code)
        if name == "worker_cases":
            return worker_cases(svc, code, day or svc.days.day(svc.clock.now()), lang)
        if name == "worker_tasks":
            return worker_tasks(svc, code, scope, lang)
        return award_rows(svc, member_points(svc, code, scope), lang)
    if kind == "case":
        c = case(svc, code, lang)
        if c is None:
            raise KeyError(code)
        return timeline(svc, c, lang)
    if kind == "grid_edit":
        if svc.district.grid(code) is None:
            raise KeyError(code)
        return grid_versions(svc, code, lang)
    if name == "ranking":
        return worker_ranking(svc, kind, code)
    if name == "points":
        return points_board(svc, kind, code, scope, lang)
    grids = grids_of(svc, kind, code)
    if name == "units":
        return unit_rows(svc, kind, code)
    if name == "workers":
        return worker_rows(svc, grids, scope, lang=lang)
    return cases_in(svc, {g.code for g in grids}, lang=lang)
