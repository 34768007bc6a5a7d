"""Access control on the wire: login and logout, the one before_request guard, CSRF checks.

Every request is decided here before any view runs: static files and /login are public;
machine endpoints (phones, Open311, department and gateway keys) keep their own key checks;
everything else needs a principal — a login session (cookie gw_session, an opaque id), a
kiosk session opened by ?wall=<token>, or a supervisor/department API key — and then a rule:
pages by path (dashboard.auth_policy), Dash callbacks by the page they serve (the routing
callback's pathname, or the drill pages' `drill-ctx` store), read APIs by table, exports by
the resource.  Anything not listed is denied.  State-changing requests made with a session
must carry the session's CSRF token (header X-CSRF-Token, set by assets/csrf.js, or the
form field csrf).
"""

from __future__ import annotations

import functools
import html
import json
import logging
import re
import secrets
from urllib.parse import parse_qs, quote

import redis
from flask import Blueprint, Response, current_app, g, jsonify, redirect, request

from dashboard import auth, auth_policy
from dashboard.auth import OPEN, Scope
from dashboard.i18n import t

log = logging.getLogger("gridwall.auth")
bp = Blueprint("auth", __name__)
COOKIE = "gw_session"
CSRF_COOKIE = "gw_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE = ("GET", "HEAD", "OPTIONS")


def services():  # noqa: ANN201
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


def scope() -> Scope:
    """Return the principal of the current request (OPEN when auth is off, else nobody)."""
    found = getattr(g, "scope", None)
    if found is not None:
        return found
    return OPEN if not services().settings.auth_required else Scope("none")


def lang() -> str:
    """Return the UI language of this request: ?lang=en|zh, else the UI_LANG setting."""
    want = request.args.get("lang", "") if request else ""
    return want if want in ("zh", "en") else services().settings.lang


# ---- principal ---------------------------------------------------------------------------------
def _principal(svc) -> Scope | None:  # noqa: ANN001
    """Return the session's, the wall token's or the API key's Scope of this request."""
    found = auth.load_session(svc, request.cookies.get(COOKIE))
    token = request.args.get("wall", "")
    if token and (found is None or found.role != "wall"):
        sid = auth.wall_session(svc, token)
        if sid is not None:
            g.set_cookie = sid
            found = auth.load_session(svc, sid)
    if found is not None:
        return found
    from dashboard import apikeys

    key = apikeys.from_request(request) if request.method in SAFE else None
    who = apikeys.lookup(svc, key) if key else None
    if who is not None and who.role == "supervisor":
        return Scope("district", f"apikey:{who.name}")
    if who is not None and who.role == "dept":
        return Scope("department", f"apikey:{who.name}", dept=who.dept)
    return None


def _csrf_ok(s: Scope) -> bool:
    given = request.headers.get(CSRF_HEADER) or request.form.get("csrf", "")
    return bool(s.csrf) and secrets.compare_digest(given, s.csrf)


def _wants_html() -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def _deny(status: int, reason: str) -> Response:
    if status == 401 and _wants_html():
        return redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/?=&"))
    if status == 503 and _wants_html():  # a kiosk landing here comes back by itself
        return Response(_page("…", "<meta http-equiv='refresh' content='10'>"
                                   f"<p>{t('auth_unavailable', lang())}</p>"), 503,
                        mimetype="text/html")
    if _wants_html():
        return Response(_page(t("auth_forbidden", lang()), f"<p>{html.escape(reason)}</p>"
                              f"<p><a href='{html.escape(scope().home())}'>"
                              f"{t('auth_home', lang())}</a></p>"), status,
                        mimetype="text/html")
    return Response(json.dumps({"error": reason}), status, mimetype="application/json")


@functools.cache
def _path_vars() -> frozenset[str]:
    """Return the names of the variables in the pages' path templates (e.g. code); the pages
    are registered before the first request, so once is enough."""
    import dash

    return frozenset(re.findall(r"<(\w+)>", " ".join(
        p.get("path_template") or "" for p in dash.page_registry.values())))


def _query_names(search: object) -> set[str]:
    """Return the parameter names of a URL query string."""
    return set(parse_qs(str(search or "").lstrip("?"), keep_blank_values=True))


def _callback_path(body: dict) -> str | None:
    """Return the page path a Dash callback request serves, None when it names none."""
    items = []
    for part in (body.get("inputs") or []) + (body.get("state") or []):
        items.extend(part if isinstance(part, list) else [part])
    values = {(i.get("id"), i.get("property")): i.get("value") for i in items
              if isinstance(i, dict) and isinstance(i.get("id"), str)}
    if "_pages_content" in str(body.get("output", "")):
        path = values.get(("_pages_location", "pathname"))
        # Dash lets a query parameter override a path variable (?code=...): the page would
        # then show another unit than the path the rule was checked on.
        if _query_names(values.get(("_pages_location", "search"))) & _path_vars():
            return None
        return path if isinstance(path, str) else None
    ctx = values.get(("drill-ctx", "data"))
    return ctx.get("path") if isinstance(ctx, dict) and isinstance(ctx.get("path"), str) else None


def _decide(svc, s: Scope) -> tuple[int, str] | None:  # noqa: ANN001
    """Return (status, reason) to refuse the request, None to let it through."""
    path, method = request.path, request.method
    if s.sid and method not in SAFE and not _csrf_ok(s):
        return 403, "missing or wrong CSRF token"
    if path == "/_dash-update-component" and method == "POST":
        target = _callback_path(request.get_json(silent=True) or {})
        if target is None:
            return 403, "this callback serves no page you may open"
        g.page_path = target
        ok = auth_policy.may_open_path(svc, s, target)
        return None if ok else (403, f"not allowed: {target[:80]}")
    if path in ("/_dash-layout", "/_dash-dependencies", "/_reload-hash"):
        return None
    if path.startswith("/export/"):
        return None  # each export route checks its resource (dashboard.exports)
    if path.startswith("/api/"):
        if method in SAFE and auth_policy.may_read_api(svc, s, path):
            return None
        return 403, f"not allowed: {method} {path[:80]}"
    if method in SAFE:
        page = auth_policy.parse_page(path)
        if page is None:
            return 404, "no such page"
        if set(request.args) & _path_vars():
            return 400, "a page's code belongs in its path, not in the query"
        if auth_policy.may_open(svc, s, *page):
            return None
        if page[0] == "live" and s.role != "wall" and path.rstrip("/") == "":
            g.redirect = s.home()
            return None
        return 403, f"not allowed: {path[:80]}"
    return 403, f"not allowed: {method} {path[:80]}"


def guard() -> Response | None:
    """Decide the current request before any view runs (registered as before_request)."""
    svc = services()
    if not svc.settings.auth_required:
        g.scope = OPEN
        return None
    path = request.path
    if auth_policy.PUBLIC.match(path) or auth_policy.is_machine(request.method, path):
        return None
    try:
        s = _principal(svc)
    except redis.RedisError:
        return _deny(503, "storage unavailable, retry later")
    if s is None:
        return _deny(401, "login required")
    g.scope = s
    try:
        refused = _decide(svc, s)
    except redis.RedisError:
        return _deny(503, "storage unavailable, retry later")
    if refused is not None:
        log.info("denied %s %s to %s/%s: %s", request.method, path[:120], s.role, s.user,
                 refused[1])
        return _deny(*refused)
    if getattr(g, "redirect", None):
        return redirect(g.redirect)
    return None


def _set_cookies(resp: Response) -> Response:
    """Set the session cookie a wall token opened, and keep the CSRF cookie current."""
    sid = getattr(g, "set_cookie", None)
    secure = request.is_secure
    if sid:
        resp.set_cookie(COOKIE, sid, httponly=True, samesite="Lax", secure=secure,
                        max_age=services().settings.wall_session_ttl_s)
    s = getattr(g, "scope", None)
    if s is not None and s.csrf and request.cookies.get(CSRF_COOKIE) != s.csrf:
        resp.set_cookie(CSRF_COOKIE, s.csrf, samesite="Strict", secure=secure)
    return resp


def may_connect_socket() -> bool:
    """Tell whether the socket.io connection of this request may join the live wall."""
    svc = services()
    if not svc.settings.auth_required:
        return True
    try:
        s = auth.load_session(svc, request.cookies.get(COOKIE))
    except redis.RedisError:
        return False
    return s is not None and s.live


def require(kind: str, code: str = "") -> None:
    """Abort with 403 unless the current scope may open this resource (for export routes)."""
    from flask import abort

    if not auth_policy.may_open(services(), scope(), kind, code):
        abort(_deny(403, f"not allowed: {kind} {code[:64]}"))


# ---- login and logout ---------------------------------------------------------------------------
def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{LOGIN_CSS}</style></head>"
            f"<body><main class='box'><h1>{html.escape(title)}</h1>{body}</main></body></html>")


LOGIN_CSS = (
    "body{margin:0;height:100vh;display:flex;align-items:center;justify-content:center;"
    "background:#060b16;color:#e6edf7;font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif}"
    ".box{background:#0c1526;border:1px solid #1d2b45;border-radius:10px;padding:32px 40px;"
    "width:380px}h1{font-size:22px;color:#4cc3ff;margin:0 0 20px}label{display:block;"
    "margin:12px 0 4px;color:#8ea3c0}input{width:100%;box-sizing:border-box;padding:10px;"
    "font-size:16px;background:#13213a;color:#e6edf7;border:1px solid #1d2b45;border-radius:6px}"
    "button{margin-top:20px;width:100%;padding:11px;font-size:17px;background:#1f6fb2;"
    "color:#fff;border:0;border-radius:6px;cursor:pointer}.err{color:#ef4444;margin-top:12px}"
    "a{color:#4cc3ff}")


def _login_form(error: str = "", status: int = 200) -> Response:
    lg = lang()
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    nxt = request.values.get("next", "")
    body = (f"<form method='post' action='/login'>"
            f"<input type='hidden' name='csrf' value='{html.escape(token)}'>"
            f"<input type='hidden' name='next' value='{html.escape(nxt)}'>"
            f"<label for='u'>{t('auth_user', lg)}</label>"
            f"<input id='u' name='username' autocomplete='username' required autofocus>"
            f"<label for='p'>{t('auth_password', lg)}</label>"
            f"<input id='p' name='password' type='password' autocomplete='current-password'"
            f" required><button type='submit'>{t('auth_login', lg)}</button>"
            + (f"<div class='err' role='alert'>{html.escape(error)}</div>" if error else "")
            + "</form>")
    resp = Response(_page(t("auth_title", lg), body), status, mimetype="text/html")
    resp.set_cookie(CSRF_COOKIE, token, samesite="Strict", secure=request.is_secure)
    return resp


def _safe_next(nxt: str, s: Scope) -> str:
    if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt:
        return nxt
    return s.home()


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; check a posted one, then open a session and go on."""
    svc = services()
    if request.method == "GET":
        return _login_form()
    given, cookie = request.form.get("csrf", ""), request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(given, cookie):
        return _login_form(t("auth_csrf", lang()), 403)
    name = request.form.get("username", "").strip()
    try:
        s = auth.authenticate(svc, name, request.form.get("password", ""),
                              request.remote_addr or "")
    except auth.LockedOut as exc:
        resp = _login_form(t("auth_locked", lang()).format(minutes=-(-exc.retry_after // 60)),
                           429)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    except redis.RedisError:
        return _login_form(t("auth_unavailable", lang()), 503)
    if s is None:
        return _login_form(t("auth_wrong", lang()), 401)
    sid = auth.create_session(svc, s)
    s = auth.load_session(svc, sid)
    resp = redirect(_safe_next(request.form.get("next", ""), s))
    resp.set_cookie(COOKIE, sid, httponly=True, samesite="Lax", secure=request.is_secure)
    resp.set_cookie(CSRF_COOKIE, s.csrf, samesite="Strict", secure=request.is_secure)
    log.info("login %s (%s)", name, s.role)
    return resp


@bp.post("/logout")
def logout():
    """End the session (the form carries the CSRF token) and go back to the login form."""
    svc = services()
    sid = request.cookies.get(COOKIE)
    s = auth.load_session(svc, sid) if svc.settings.auth_required else None
    if s is not None and not _csrf_ok(s):
        return _deny(403, "missing or wrong CSRF token")
    auth.end_session(svc, sid)
    resp = redirect("/login")
    resp.delete_cookie(COOKIE)
    resp.delete_cookie(CSRF_COOKIE)
    return resp


@bp.get("/api/v1/me")
def me():
    """Return who the current request is (role, street, department)."""
    s = scope()
    return jsonify({"role": s.role, "user": s.user, "street": s.street, "dept": s.dept})


@bp.get("/locate")
def locate():
    """Redirect a map click (?lat=&lon=&level=street|station|grid) to the page of that place."""
    svc = services()
    try:
        place = svc.locator.locate(float(request.args["lon"]), float(request.args["lat"]))
    except (KeyError, ValueError):
        place = None
    if place is None:
        return redirect(scope().home())
    level = request.args.get("level", "street")
    code = getattr(place, level if level in ("street", "station", "grid") else "street")
    return redirect(f"/{level if level in ('street', 'station', 'grid') else 'street'}/{code}")


def init_app(dash_app) -> None:  # noqa: ANN001
    """Install the guard, the login routes and the index tweaks on a Dash app."""
    server = dash_app.server
    server.register_blueprint(bp)
    server.before_request_funcs.setdefault(None, []).insert(0, guard)
    server.after_request(_set_cookies)
    original = dash_app.interpolate_index

    def interpolate_index(**kwargs) -> str:
        page = original(**kwargs)
        lg = "en" if lang() == "en" else "zh-CN"
        s = scope()
        push = int(s.live and (request.path.rstrip("/") or "/") in auth_policy.WALL_PAGES)
        st = services().settings
        tag = (f"<html lang=\"{lg}\" data-role=\"{s.role}\" data-push=\"{push}\" "
               f"data-playlist=\"{html.escape(st.kiosk_playlist)}\" "
               f"data-interval=\"{st.kiosk_interval_s}\">")
        return re.sub(r"<html[^>]*>", lambda _m: tag, page, count=1)

    dash_app.interpolate_index = interpolate_index
