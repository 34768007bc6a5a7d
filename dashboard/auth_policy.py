"""The access rules: which Scope may open which page, callback, API or export; default deny.

Pure decisions over the district model (and one case lookup); the Flask guard in
dashboard.auth_routes applies them to every request.  A district supervisor sees everything,
a street supervisor only their street's streets, stations, grids, workers, cases and street
office, a department operator only their department and its cases, the wall only the kiosk
pages and the read-only APIs behind them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dashboard.auth import Scope

WALL_PAGES = ("/", "/exchange", "/people")
PAGES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^/(exchange|people)?$"), "live"),
    (re.compile(r"^/district$"), "district"),
    (re.compile(r"^/street/(?P<code>[^/]{1,64})$"), "street"),
    (re.compile(r"^/station/(?P<code>[^/]{1,64})$"), "station"),
    (re.compile(r"^/grid/(?P<code>[^/]{1,64})$"), "grid"),
    (re.compile(r"^/worker/(?P<code>[^/]{1,64})$"), "worker"),
    (re.compile(r"^/department/(?P<code>[^/]{1,64})$"), "department"),
    (re.compile(r"^/case/(?P<code>[^/]{1,64})$"), "case"),
    (re.compile(r"^/grids/edit/(?P<code>[^/]{1,64})$"), "grid_edit"),
    (re.compile(r"^/search$"), "search"),
    (re.compile(r"^/locate$"), "search"),  # a map click -> the street or grid there
]


def parse_page(path: str) -> tuple[str, str] | None:
    """Return (kind, code) of a page path, None for a path that is no page."""
    path = path.rstrip("/") or "/"
    for pattern, kind in PAGES:
        m = pattern.match(path)
        if m:
            return kind, (m.groupdict().get("code") or "")
    return None


def street_of(svc, kind: str, code: str) -> str | None:  # noqa: ANN001
    """Return the street a drill-down resource belongs to, None when unknown."""
    d = svc.district
    if kind == "street":
        return code if d.street(code) else None
    if kind == "station":
        st = d.station(code)
        return st.street if st else None
    if kind in ("grid", "grid_edit"):
        g = d.grid(code)
        return g.street if g else None
    if kind == "worker":
        w = d.worker(code)
        return d.grid(w.grid).street if w and d.grid(w.grid) else None
    if kind == "department":
        dept = d.department(code)
        return (dept.street or None) if dept else None
    if kind == "case":
        return case_owner(svc, code)[1]
    return None


def case_owner(svc, case_id: str) -> tuple[str | None, str | None]:  # noqa: ANN001
    """Return (department, street) of a case, (None, None) when there is no such case."""
    dept, street = svc.r.hmget(svc.keys.case(case_id), "d", "sr")
    if dept is None:
        return None, None
    return dept.decode(), (street or b"").decode()


def may_open(svc, scope: Scope, kind: str, code: str = "") -> bool:  # noqa: ANN001
    """Tell whether a scope may see the page (or data) of a kind of resource."""
    if kind == "live":
        return scope.live
    if scope.role == "district":
        return True
    if scope.role == "wall" or kind in ("district", "grid_edit"):
        return False
    if kind == "search":
        return True
    if scope.role == "street":
        return street_of(svc, kind, code) == scope.street
    if scope.role == "department":
        if kind == "department":
            return code == scope.dept
        if kind == "case":
            return case_owner(svc, code)[0] == scope.dept
    return False


def may_open_path(svc, scope: Scope, path: str) -> bool:  # noqa: ANN001
    """Tell whether a scope may open a page path (unknown paths: district supervisors only)."""
    page = parse_page(path)
    if page is None:
        return scope.role == "district"
    return may_open(svc, scope, *page)


# ---- APIs -----------------------------------------------------------------------------------
Rule = Callable[..., bool]


def _live(svc, scope, m) -> bool:  # noqa: ANN001
    return scope.live


def _district(svc, scope, m) -> bool:  # noqa: ANN001
    return scope.role == "district"


def _worker(svc, scope, m) -> bool:  # noqa: ANN001
    return scope.role != "wall" and may_open(svc, scope, "worker", m["code"])


def _residents(svc, scope, m) -> bool:  # noqa: ANN001
    from flask import request

    if scope.role == "district":
        return True
    grid = request.args.get("grid", "")
    return scope.role == "street" and bool(grid) and may_open(svc, scope, "grid", grid)


# Read APIs (GET) for sessions, wall tokens and supervisor/department API keys.
READ_APIS: list[tuple[re.Pattern, Rule]] = [
    (re.compile(r"^/api/v1/me$"), lambda svc, scope, m: True),
    (re.compile(r"^/api/v1/wall/(roster|config|basemap|trails)$"), _live),
    (re.compile(r"^/api/v1/workers$"), _live),
    (re.compile(r"^/api/v1/workers/(?P<code>[^/]{1,64})(/(track|tasks|assessment))?$"), _worker),
    (re.compile(r"^/api/v1/(catalogs(/[^/]+)?|interfaces|exchange/summary|approvals)$"), _live),
    (re.compile(r"^/api/v1/(tasks|tasks/stats|assessment/ranking|anomalies|"
                r"points/leaderboard)$"), _live),
    (re.compile(r"^/api/v1/members/[^/]{1,64}/points$"), _district),
    (re.compile(r"^/api/v1/residents$"), _residents),
]

# Machine endpoints that check their own keys (phones, Open311 apps, department systems,
# the exchange gateway, people admins): no session, no CSRF, their rules unchanged.
MACHINE: list[tuple[str, re.Pattern]] = [
    ("*", re.compile(r"^/osmand$")),
    ("POST", re.compile(r"^/api/v1/positions$")),
    ("*", re.compile(r"^/open311/")),
    ("*", re.compile(r"^/api/v1/cases(/|$)")),
    ("POST", re.compile(r"^/api/v1/calls$")),
    ("POST", re.compile(r"^/api/v1/approvals$")),
    ("POST", re.compile(r"^/api/v1/points/volunteer$")),
    ("POST", re.compile(r"^/api/v1/service-rules/run$")),
    ("POST", re.compile(r"^/api/v1/tasks/[^/]{1,80}/done$")),
]
# Public: the login, health and Prometheus metrics (operational counts, no personal data:
# scrapers do not log in; restrict them by network), static files.
PUBLIC = re.compile(r"^/(login|logout|api/v1/health|metrics|_?favicon\.ico|assets/.*|"
                    r"_dash-component-suites/.*)$")


def is_machine(method: str, path: str) -> bool:
    """Tell whether a request goes to an endpoint with its own key check."""
    return any((m == "*" or m == method) and p.match(path) for m, p in MACHINE)


def may_read_api(svc, scope: Scope, path: str) -> bool:  # noqa: ANN001
    """Tell whether a scope may GET a read API path; unlisted paths are denied."""
    for pattern, rule in READ_APIS:
        m = pattern.match(path)
        if m:
            return rule(svc, scope, m)
    return False
