"""Open311 GeoReport v2 intake and status: /open311/v2/..., JSON or XML as the extension says.

Field names, date formats (ISO 8601 with the district's offset) and error arrays follow
the specification, so existing 311 clients work unchanged.  A report is validated at once
(API key, service_code, lat/long inside the district, device_id = a known worker) and, if
valid, appended to the events stream and answered with its service_request_id; the
dispatch consumer turns it into a case a moment later.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import datetime
from urllib.parse import urlparse

import redis
from flask import Blueprint, Response, current_app, jsonify, request

from dashboard import apikeys
from dashboard.case_queries import STATE_ZH, URGENCY_ZH, iso, names
from dashboard.cases import Case
from dashboard.catalog import CATEGORIES, URGENCIES, PatrolItem, catalog_for
from dashboard.dispatch import route
from dashboard.services import Services
from streams.cases import CaseStore
from streams.reports import Report, append_report, new_report_id, parse_attrs

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FORMATS = ("json", "xml")
MAX_REQUESTS = 1000  # service requests in one GET requests answer (the spec's limit)
DEFAULT_DAYS = 90  # days searched back when start_date is not given (the spec's default)
MAX_DESCRIPTION = 4000  # characters (the spec's limit)
ATTRIBUTE_KEYS = ("urgency", "note")


class Open311Error(Exception):
    """An error answered as a GeoReport error array."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def services() -> Services:
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


# ---- rendering ------------------------------------------------------------------------
def _xml(tag: str, value: object) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, dict):
        for k, v in value.items():
            el.append(_xml(k, v))
    elif isinstance(value, list):
        child = {"attributes": "attribute", "values": "value", "endpoints": "endpoint",
                 "formats": "format"}.get(tag, "item")
        for v in value:
            el.append(_xml(child, v))
    elif value is not None:
        el.text = str(value).lower() if isinstance(value, bool) else str(value)
    return el


def render(fmt: str, root: str, item: str, payload: object, status: int = 200) -> Response:
    """Return payload as JSON, or as XML under <root> with one <item> per list entry."""
    if fmt == "xml":
        if isinstance(payload, list):
            el = ET.Element(root)
            el.extend(_xml(item, entry) for entry in payload)
        else:
            el = _xml(root, payload)
        body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(el, encoding="utf-8")
        return Response(body, status=status, mimetype="text/xml")
    resp = jsonify(payload)
    resp.status_code = status
    return resp


def error(fmt: str, code: int, description: str) -> Response:
    """Return a GeoReport error array with the HTTP status `code`."""
    return render(fmt if fmt in FORMATS else "json", "errors", "error",
                  [{"code": code, "description": description}], code)


@bp.errorhandler(Open311Error)
def _on_error(exc: Open311Error):
    return error(request.view_args.get("fmt", "json") if request.view_args else "json",
                 exc.code, exc.description)


@bp.errorhandler(redis.RedisError)
def _on_redis(exc: redis.RedisError):
    fmt = request.view_args.get("fmt", "json") if request.view_args else "json"
    return error(fmt, 503, f"storage unavailable, retry later ({type(exc).__name__})")


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"unknown format {fmt[:10]!r}: use .json or .xml")
    return fmt


# ---- services ------------------------------------------------------------------------
def _lang() -> str:
    return "en" if (request.args.get("lang") or services().settings.lang) == "en" else "zh"


def service_json(svc: Services, item: PatrolItem, lang: str) -> dict:
    """Return the GeoReport service entry of a patrol item."""
    zh = lang == "zh"
    group = CATEGORIES[item.category][0 if zh else 1]
    dept = "所在街道办事处" if item.department == "@street" else names(svc)["dept"].get(
        item.department, item.department)
    limits = "，".join(f"{URGENCY_ZH[u]} {item.limit(u)}" for u in URGENCIES)
    return {"service_code": item.code,
            "service_name": item.name if zh or not item.name_en else item.name_en,
            "description": f"{group} · {item.specialty} · {dept} · {limits}",
            "metadata": True, "type": "realtime", "keywords": f"{item.specialty},{group}",
            "group": group}


@bp.get("/services.<fmt>")
def service_list(fmt: str):
    """List every patrol item as a service, the five categories as groups."""
    fmt = _fmt(fmt)
    svc = services()
    lang = _lang()
    return render(fmt, "services", "service",
                  [service_json(svc, i, lang) for i in catalog_for(svc).items])


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    """Return a service definition: its one optional attribute, the urgency."""
    fmt = _fmt(fmt)
    item = catalog_for(services()).item(code)
    if item is None:
        raise Open311Error(404, f"unknown service_code {code[:40]!r}")
    values = [{"key": u, "name": f"{URGENCY_ZH[u]} ({u}, {item.limit(u)})"} for u in URGENCIES]
    return render(fmt, "service_definition", "service_definition", {
        "service_code": item.code,
        "attributes": [{"variable": True, "code": "urgency", "datatype": "singlevaluelist",
                        "required": False, "datatype_description": f"default {item.urgency}",
                        "order": 1, "description": "紧急程度 (urgency)", "values": values}]})


# ---- requests ------------------------------------------------------------------------
def _number(params: dict, name: str, lo: float, hi: float) -> float:
    raw = params.get(name, "")
    if raw == "":
        raise Open311Error(400, f"{name} is required (this jurisdiction locates by coordinates)")
    try:
        v = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} is not a number: {raw[:30]!r}") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise Open311Error(400, f"{name} is out of range")
    return v


def parse_post(svc: Services, params: dict) -> Report:
    """Validate a POST requests body and return the Report; raise Open311Error otherwise."""
    who = apikeys.lookup(svc, params.get("api_key") or apikeys.from_request(request))
    if who is None or who.role not in ("open311", "supervisor"):
        raise Open311Error(403, "api_key missing or invalid")
    code = params.get("service_code", "")
    if not code:
        raise Open311Error(400, "service_code is required")
    item = catalog_for(svc).item(code)
    if item is None:
        raise Open311Error(400, f"service_code {code[:40]!r} not found")
    lat = _number(params, "lat", -90, 90)
    lon = _number(params, "long", -180, 180)
    worker = params.get("device_id", "").strip()
    if not worker:
        raise Open311Error(400, "device_id is required (the reporting worker's id)")
    if svc.district.worker(worker) is None:
        raise Open311Error(400, f"device_id {worker[:64]!r} is not a known worker")
    place = svc.locator.locate(lon, lat)
    if place is None:
        raise Open311Error(400, "location is outside the district (in no grid)")
    route(item, place, svc.district)  # raises only for a misconfigured district
    desc = params.get("description", "")
    if len(desc) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description is longer than {MAX_DESCRIPTION} characters")
    media = params.get("media_url", "").strip()
    if media and urlparse(media).scheme not in ("http", "https"):
        raise Open311Error(400, "media_url must be an http(s) URL")
    attrs = {k[10:-1]: v for k, v in params.items()
             if k.startswith("attribute[") and k.endswith("]")}
    unknown = sorted(set(attrs) - set(ATTRIBUTE_KEYS))
    if unknown:
        raise Open311Error(400, f"unknown attribute {unknown[0][:40]!r}")
    urgency = attrs.get("urgency", "")
    if urgency and urgency not in URGENCIES:
        raise Open311Error(400, f"attribute[urgency] must be one of {', '.join(URGENCIES)}")
    now = svc.clock.now()
    return Report(id=new_report_id(svc, now), item=code, lat=lat, lon=lon, worker=worker,
                  at=now, description=desc, media_url=media, urgency=urgency,
                  attrs=parse_attrs(attrs))


def _duplicate_hint(svc: Services, rep: Report) -> str:
    """Return the open case this report most likely duplicates (the consumer decides)."""
    hits = svc.r.execute_command("GEOSEARCH", svc.keys.cases_geo(rep.item), "FROMLONLAT",
                                 f"{rep.lon:.7f}", f"{rep.lat:.7f}", "BYRADIUS",
                                 svc.settings.case_dup_radius_m, "m", "ASC", "COUNT", 1)
    return hits[0].decode() if hits else ""


@bp.post("/requests.<fmt>")
def create_request(fmt: str):
    """Accept a report: validate, append to the events stream, answer its id at once."""
    fmt = _fmt(fmt)
    svc = services()
    params = request.form.to_dict()
    if request.is_json and isinstance(request.get_json(silent=True), dict):
        params = {k: str(v) for k, v in request.get_json().items()}
    rep = parse_post(svc, params)
    dup = _duplicate_hint(svc, rep)
    append_report(svc, rep)
    notice = (f"疑似重复：附近已有同类案件 {dup} 正在处理，将合并 (likely duplicate of {dup})"
              if dup else "已受理，将自动派遣 (accepted, dispatching)")
    return render(fmt, "service_requests", "request",
                  [{"service_request_id": rep.id, "service_notice": notice,
                    "account_id": None}])


def status_notes(svc: Services, c: Case, target: Case | None) -> str:
    """Return the detailed state of a case for status_notes."""
    n = names(svc)
    if c.state == "linked":
        t = target.state if target else "unknown"
        return f"linked: 与案件 {c.linked_to} 合并 (duplicate of {c.linked_to}, {t})"
    text = f"{c.state}: {STATE_ZH.get(c.state, c.state)}"
    if c.state in ("dispatched", "accepted", "returned"):
        text += f" · {n['dept'].get(c.dept, c.dept)}"
    if c.note and c.state in ("handled", "verified", "closed", "returned"):
        text += f" · {c.note[:500]}"
    return text


def request_json(svc: Services, c: Case, target: Case | None = None) -> dict:
    """Return the GeoReport service request of a case (a linked one follows its target)."""
    n = names(svc)
    item = catalog_for(svc).item(c.item)
    shown = target if c.state == "linked" and target else c
    closed = shown.state == "closed"
    return {"service_request_id": c.id, "status": "closed" if closed else "open",
            "status_notes": status_notes(svc, c, target),
            "service_name": item.name if item else c.item, "service_code": c.item,
            "description": c.description, "agency_responsible": n["dept"].get(shown.dept, ""),
            "service_notice": "", "requested_datetime": iso(svc, c.reported_at),
            "updated_datetime": iso(svc, max(c.updated_at, shown.updated_at)),
            "expected_datetime": iso(svc, shown.deadline),
            "address": " ".join(x for x in (n["street"].get(c.street, ""),
                                           n["station"].get(c.station, ""),
                                           n["grid"].get(c.grid, "")) if x),
            "address_id": c.grid, "zipcode": None, "lat": c.lat, "long": c.lon,
            "media_url": c.media_url or None}


def _requests_of(svc: Services, store: CaseStore, ids: list[str]) -> list[dict]:
    cases = [c for c in store.get_many(ids) if c]
    links = {c.linked_to for c in cases if c.linked_to}
    targets = dict(zip(links, store.get_many(list(links)), strict=True)) if links else {}
    return [request_json(svc, c, targets.get(c.linked_to)) for c in cases]


@bp.get("/requests/<rid>.<fmt>")
def get_request(rid: str, fmt: str):
    """Return one service request (as a one-element array, as the spec says)."""
    fmt = _fmt(fmt)
    svc = services()
    rows = _requests_of(svc, CaseStore(svc), [rid[:40]])
    if not rows:
        raise Open311Error(404, f"service_request_id {rid[:40]!r} not found")
    return render(fmt, "service_requests", "request", rows)


def _date(raw: str, name: str, svc: Services) -> float:
    try:
        dt = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} is not ISO 8601 (e.g. 2026-05-29T10:00:00+08:00)") \
            from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=svc.days.tz)
    return dt.timestamp()


@bp.get("/requests.<fmt>")
def list_requests(fmt: str):
    """Search requests by service_request_id, or by service_code, dates and status."""
    fmt = _fmt(fmt)
    svc = services()
    store = CaseStore(svc)
    a = request.args
    if a.get("service_request_id"):
        ids = [x.strip()[:40] for x in a["service_request_id"].split(",") if x.strip()]
        return render(fmt, "service_requests", "request",
                      _requests_of(svc, store, ids[:MAX_REQUESTS]))
    now = svc.clock.now()
    end = _date(a["end_date"], "end_date", svc) if a.get("end_date") else now
    start = (_date(a["start_date"], "start_date", svc) if a.get("start_date")
             else end - DEFAULT_DAYS * 86400)
    if start > end:
        raise Open311Error(400, "start_date is after end_date")
    codes = {x.strip() for x in a.get("service_code", "").split(",") if x.strip()}
    statuses = {x.strip() for x in a.get("status", "").split(",") if x.strip()}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status must be open, closed or both")
    return render(fmt, "service_requests", "request",
                  _search(svc, store, start, end, codes, statuses))


def _search(svc: Services, store: CaseStore, start: float, end: float, codes: set[str],
            statuses: set[str]) -> list[dict]:
    """Return the newest requests in [start, end] matching codes and statuses."""
    out: list[dict] = []
    if statuses == {"open"}:  # the open backlog is small: read it whole, not the history
        ids = [i.decode() for i in svc.r.zrange(svc.keys.cases_open(), 0, -1)]
        times = svc.r.zmscore(svc.keys.cases_all(), ids) if ids else []
        hits = sorted(((t, i) for i, t in zip(ids, times, strict=True) if t and start <= t <= end),
                      reverse=True)
        cands = [i for _, i in hits]
        for k in range(0, len(cands), MAX_REQUESTS):
            out += [r for r in _requests_of(svc, store, cands[k:k + MAX_REQUESTS])
                    if not codes or r["service_code"] in codes]
            if len(out) >= MAX_REQUESTS:
                break
        return out[:MAX_REQUESTS]
    offset = 0
    while len(out) < MAX_REQUESTS:
        page = svc.r.zrevrangebyscore(svc.keys.cases_all(), end, start, start=offset,
                                      num=MAX_REQUESTS)
        out += [r for r in _requests_of(svc, store, [i.decode() for i in page])
                if (not codes or r["service_code"] in codes)
                and (not statuses or r["status"] in statuses)]
        if len(page) < MAX_REQUESTS:
            break
        offset += len(page)
    return out[:MAX_REQUESTS]


@bp.get("/discovery.<fmt>")
def discovery(fmt: str):
    """Return the Open311 discovery document of this endpoint."""
    fmt = _fmt(fmt)
    base = request.host_url.rstrip("/") + "/open311/v2/"
    return render(fmt, "discovery", "discovery", {
        "changeset": "2026-01-01T00:00:00+08:00", "contact": "东丽区网格化管理中心",
        "key_service": "python app.py apikey create NAME",
        "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                       "changeset": "2026-01-01T00:00:00+08:00", "type": "production",
                       "formats": ["application/json", "text/xml"]}]})

