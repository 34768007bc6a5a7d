"""The exchange API: catalogs and interfaces (read), approvals (read, grant by an administrator)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import redis
from flask import Blueprint, current_app, jsonify, request

from dashboard import exchange_queries as xq
from dashboard.exchange import SHARING, SHARING_ALIASES, Approval, Catalog
from dashboard.services import Services
from streams.fixes import InvalidInput, parse_timestamp

bp = Blueprint("exchange_api", __name__, url_prefix="/api/v1")

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_LIMIT = 2000  # catalogs in one page


def services() -> Services:
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


def _error(status: int, reason: str):
    resp = jsonify({"error": reason})
    resp.status_code = status
    return resp


@bp.errorhandler(redis.RedisError)
def redis_down(exc: redis.RedisError):
    """Answer 503 while Redis is unreachable."""
    return _error(503, f"storage unavailable, retry later ({type(exc).__name__})")


def catalog_json(svc: Services, c: Catalog) -> dict:
    """Return the public JSON of a catalog, with unit and interface names."""
    reg, lang = xq.registry(svc), svc.settings.lang
    return {"id": c.id, "name": c.name, "unit": c.unit, "unit_name": reg.unit_name(c.unit, lang),
            "items": c.items, "sharing": c.sharing, "interfaces": list(c.interfaces)}


@bp.get("/catalogs")
def catalogs():
    """List catalogs, filtered by ?unit=, ?sharing=, ?interface=, ?q= (name), paged."""
    svc = services()
    reg, args = xq.registry(svc), request.args
    unit, q, iface = args.get("unit"), args.get("q", "").strip(), args.get("interface")
    sharing = args.get("sharing")
    if unit and unit not in reg.units:
        return _error(400, f"unknown unit: {unit[:64]}")
    if sharing:
        sharing = SHARING_ALIASES.get(sharing.lower())
        if sharing is None:
            return _error(400, f"sharing must be one of {', '.join(SHARING)}")
    if iface and iface not in reg.interfaces:
        return _error(400, f"unknown interface: {iface[:64]}")
    try:
        limit = min(int(args.get("limit", 100)), MAX_LIMIT)
        offset = max(int(args.get("offset", 0)), 0)
    except ValueError:
        return _error(400, "limit and offset must be whole numbers")
    rows = [c for c in reg.catalogs.values()
            if (not unit or c.unit == unit) and (not sharing or c.sharing == sharing)
            and (not iface or iface in c.interfaces) and (not q or q in c.name)]
    return jsonify({"total": len(rows), "items": sum(c.items for c in rows), "offset": offset,
                    "catalogs": [catalog_json(svc, c) for c in rows[offset:offset + limit]]})


@bp.get("/catalogs/<cid>")
def catalog(cid: str):
    """Return one catalog, 404 if unknown."""
    svc = services()
    c = xq.registry(svc).catalogs.get(cid)
    if c is None:
        return _error(404, f"unknown catalog: {cid[:64]}")
    return jsonify(catalog_json(svc, c))


@bp.get("/interfaces")
def interfaces():
    """List the exchange interfaces with provider, catalogs served and calls (ever, today)."""
    svc = services()
    reg = xq.registry(svc)
    ranking = {r["code"]: r for r in xq.interface_ranking(svc)}
    return jsonify([{"code": i.code, "name": i.name, "name_en": i.name_en,
                     "provider": i.provider, "provider_name": reg.unit_name(i.provider),
                     "catalogs": [c.id for c in reg.catalogs.values() if i.code in c.interfaces],
                     "calls": ranking[i.code]["calls"], "today": ranking[i.code]["today"]}
                    for i in reg.interfaces.values()])


@bp.get("/exchange/summary")
def summary():
    """Return the exchange wall's data: totals, rankings, sharing split, alerts."""
    svc = services()
    return jsonify({"totals": xq.totals(svc), "rankings": xq.rankings(svc),
                    "mounted": xq.mounted(svc, 40), "sharing": xq.sharing_split(svc),
                    "alerts": xq.alerts(svc)})


def _approval_json(a: Approval, source: str) -> dict:
    return {"catalog": a.catalog, "unit": a.unit, "since": a.since, "until": a.until,
            "by": a.by, "source": source}


@bp.get("/approvals")
def approvals():
    """List approvals (from the registry file and granted through the API), ?unit= ?catalog=."""
    svc = services()
    unit, cat = request.args.get("unit"), request.args.get("catalog")
    rows = [_approval_json(a, "file") for found in xq.registry(svc).approvals.values()
            for a in found]
    rows += [_approval_json(a, "api") for a in xq.granted_approvals(svc)]
    return jsonify([r for r in rows if (not unit or r["unit"] == unit)
                    and (not cat or r["catalog"] == cat)])


def _when(raw: object, tz: str, end: bool = False) -> float:
    """Return Unix s of a local YYYY-MM-DD day (its end with end=True), ISO 8601 or Unix s."""
    if isinstance(raw, str) and DATE.match(raw.strip()):
        d = date.fromisoformat(raw.strip()) + timedelta(days=1 if end else 0)
        return datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz)).timestamp()
    return parse_timestamp(raw)


def store_approval(svc: Services, a: Approval) -> None:
    """Store an approval and bump the version the consumers watch.

    Approvals are kept per (catalog, unit, start): a new window never erases an earlier one,
    so a late call from the earlier window is still judged by it; granting the same start
    again replaces that window (e.g. to end it)."""
    pipe = svc.r.pipeline(transaction=True)
    pipe.hset(svc.keys.exchange_approvals(), f"{a.catalog}|{a.unit}|{a.since:.3f}", a.to_json())
    pipe.incr(svc.keys.exchange_approvals_version())
    pipe.execute()


def admin_ok(svc: Services) -> tuple[int, str] | None:
    """Return (status, reason) unless the request carries an administrator's X-Api-Key."""
    from streams.calls_ingest import key_ok

    keys = svc.settings.exchange_admin_keys
    if not keys:
        return 403, "approvals are disabled: no EXCHANGE_ADMIN_KEYS configured"
    header = request.headers.get("X-Api-Key")
    if not header:
        return 401, "missing X-Api-Key"
    if not key_ok(header, keys):
        return 403, "X-Api-Key is not an administrator key"
    return None


@bp.post("/approvals")
def grant():
    """Grant a unit's application for a conditional catalog: {catalog, unit, since?, until?}."""
    svc = services()
    denied = admin_ok(svc)
    if denied:
        return _error(*denied)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object {catalog, unit, since?, until?, by?}")
    cat, unit = str(body.get("catalog") or ""), str(body.get("unit") or "")
    reason = xq.registry(svc).approval_problem(cat, unit)
    if reason:
        return _error(400, reason)
    try:
        since = _when(body["since"], svc.settings.tz) if body.get("since") else svc.clock.now()
        until = _when(body["until"], svc.settings.tz, end=True) if body.get("until") else None
    except InvalidInput as exc:
        return _error(400, str(exc))
    if until is not None and until <= since:
        return _error(400, "until must be after since")
    a = Approval(cat, unit, since, until, str(body.get("by") or "api")[:64])
    store_approval(svc, a)
    return jsonify(_approval_json(a, "api")), 201

