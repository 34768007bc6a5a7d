"""The case API of departments, supervisors and the workers' app: JSON over /api/v1/cases.

Authenticate with `Authorization: Bearer <key>` (or X-API-Key, or api_key=); see
dashboard.apikeys for roles.  A department key sees and acts on its own open cases only:
anyone else's case is "not found", so a key cannot even learn that it exists.
"""

from __future__ import annotations

from functools import wraps

import redis
from flask import Blueprint, current_app, g, jsonify, request

from dashboard import apikeys, case_queries
from dashboard.cases import IllegalTransition
from dashboard.services import Services

bp = Blueprint("case_api", __name__, url_prefix="/api/v1/cases")
MAX_PAGE = 500  # cases per list page

# action -> roles allowed; the owner rule per role is in _allowed()
ROLES = {"accept": {"dept", "supervisor"}, "handle": {"dept", "supervisor"},
         "return": {"dept", "supervisor"}, "verify": {"open311", "supervisor"},
         "reopen": {"open311", "supervisor"}, "redispatch": {"supervisor"},
         "unlink": {"supervisor"}, "close": {"supervisor"}}


def services() -> Services:
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


def _store():
    svc = services()
    store = svc.extra.get("case_store")
    if store is None:
        from streams.cases import CaseStore

        store = svc.extra["case_store"] = CaseStore(svc)
    return store


def _error(status: int, reason: str, **extra):
    resp = jsonify({"error": reason, **extra})
    resp.status_code = status
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="gridwall"'
    return resp


def authenticated(fn):
    """Require a valid API key; put its Principal on flask.g.who."""
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            who = apikeys.lookup(services(), apikeys.from_request(request))
            if who is None:
                return _error(401, "missing or unknown API key")
            g.who = who
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            return _error(503, f"storage unavailable, retry later ({type(exc).__name__})")
    return wrapper


def _body() -> dict:
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return request.form.to_dict()


def _visible(case) -> bool:  # noqa: ANN001
    who = g.who
    return who.role != "dept" or case.dept == who.dept


@bp.get("")
@authenticated
def list_cases():
    """List open cases, most urgent first: a department its own, a supervisor ?dept= or all."""
    svc = services()
    who = g.who
    try:
        offset = max(0, int(request.args.get("offset", 0)))
        count = min(MAX_PAGE, max(1, int(request.args.get("count", 100))))
    except ValueError:
        return _error(400, "offset and count must be integers")
    if who.role == "dept":
        dept = who.dept
    elif who.role == "supervisor":
        dept = request.args.get("dept", "")
    else:
        return _error(403, "this key cannot list cases")
    if dept:
        cases = case_queries.department_cases(svc, dept, offset, count)
    else:
        ids = [i.decode() for i in svc.r.zrange(svc.keys.cases_open(), offset,
                                                 offset + count - 1)]
        cases = [c for c in _store().get_many(ids) if c]
    return jsonify({"cases": [case_queries.case_json(svc, c) for c in cases],
                    "offset": offset, "count": len(cases)})


@bp.get("/<case_id>")
@authenticated
def get_case(case_id: str):
    """Return one case with its history; 404 when unknown or not the department's."""
    svc = services()
    case = _store().get(case_id[:40])
    if case is None or not _visible(case):
        return _error(404, f"no such case: {case_id[:40]}")
    return jsonify(case_queries.case_json(svc, case, _store().history(case.id)))


@bp.post("/<case_id>/<action>")
@authenticated
def act(case_id: str, action: str):
    """Apply accept, handle (note), return (reason, optional to), verify, reopen (reason),
    redispatch (to), unlink (to, default the item's department) or close."""
    who = g.who
    if action not in ROLES:
        return _error(404, f"unknown action: {action[:40]}")
    if who.role not in ROLES[action]:
        return _error(403, f"a {who.role} key cannot {action}")
    body = _body()
    note = str(body.get("note") or body.get("reason") or "")
    dept = str(body.get("to") or "")
    worker = str(body.get("worker") or body.get("device_id") or "")

    def allowed(case) -> bool:  # noqa: ANN001
        if who.role == "dept":
            return case.dept == who.dept
        if who.role == "open311":
            return case.worker == worker
        return True

    store = _store()
    if action == "unlink" and not dept:
        dept = _default_dept(case_id)
    actor = worker if who.role == "open311" else (
        f"{who.role}:{who.dept or who.name}")
    try:
        case = store.act(case_id[:40], action, actor, note=note, dept=dept, allow=allowed)
    except KeyError:
        return _error(404, f"no such case: {case_id[:40]}")
    except IllegalTransition as exc:
        current = store.get(case_id[:40])
        return _error(409, str(exc), state=current.state if current else None)
    return jsonify(case_queries.case_json(services(), case))


def _default_dept(case_id: str) -> str:
    """Return the department routing would choose for a (linked) case."""
    from dashboard.catalog import catalog_for
    from dashboard.dispatch import RoutingError, route
    from dashboard.models import Place

    svc = services()
    case = _store().get(case_id[:40])
    item = catalog_for(svc).item(case.item) if case else None
    if item is None:
        return ""
    try:
        return route(item, Place(case.grid, case.station, case.street), svc.district)
    except RoutingError:
        return ""
