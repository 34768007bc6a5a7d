"""Access control on the server: users, sessions, lockout, CSRF, and each role's pages,
callbacks, APIs and exports (403 beyond its scope); machine clients keep their own keys."""

from __future__ import annotations

import dataclasses
import json
import time
from types import SimpleNamespace

import pytest
from case_helpers import JUNLIANG_GRID, WANXIN_GRID, dispatcher, report, worker_of
from redis.cluster import key_slot

from dashboard import apikeys, auth
from dashboard.clock import FakeClock
from dashboard.keys import Keys
from dashboard.services import build_services

PASSWORD = "correct-horse-1"
HTML = {"Accept": "text/html"}
OTHER_STATION = "JL-01"


@pytest.fixture
def app(auth_svc):
    from app import create_app

    report(auth_svc, "C-WX-1", item="CG006")  # the Wanxin street office's
    report(auth_svc, "C-JL-1", item="AQ001", grid=JUNLIANG_GRID)  # the fire brigade's
    dispatcher(auth_svc).drain()
    for name, role, kw in (("boss", "district", {}), ("wx", "street", {"street": "wanxin"}),
                           ("fire", "department", {"dept": "xiaofang"})):
        auth.add_user(auth_svc, name, PASSWORD, role, **kw)
    dash_app, socketio = create_app(auth_svc.settings, services=auth_svc, start_relay=False)
    dash_app.socketio = socketio
    return dash_app


def login(app, name: str, password: str = PASSWORD, ip: str = "10.0.0.1"):
    """Return a test client signed in as a user (and the login response)."""
    c = app.server.test_client()
    c.get("/login")
    token = c.get_cookie("gw_csrf").value
    resp = c.post("/login", data={"username": name, "password": password, "csrf": token},
                  environ_base={"REMOTE_ADDR": ip})
    return c, resp


def page_callback(c, path: str, csrf: bool = True, search: str = ""):
    """POST the Dash routing callback that renders the content of a page path."""
    body = {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}
    headers = {"X-CSRF-Token": c.get_cookie("gw_csrf").value} if csrf else {}
    return c.post("/_dash-update-component", json=body, headers=headers)


# ---- keys, users, passwords ---------------------------------------------------------------------
def test_auth_and_grid_keys_are_pinned_and_share_their_slots():
    k = Keys("gw")
    assert k.users() == "gw:{auth}:users"
    assert k.session("ab") == "gw:{auth}:sess:ab"
    assert k.wall_tokens() == "gw:{auth}:walltokens"
    assert k.login_failures("u|ip") == "gw:{auth}:fail:u|ip"
    assert k.grid_current() == "gw:{grids}:current"
    assert k.grid_versions("WX-01-01") == "gw:{grids}:v:WX-01-01"
    assert len({key_slot(x.encode()) for x in (k.grid_current(), k.grid_versions("X"))}) == 1


def test_passwords_are_stored_as_argon2id_hashes(auth_svc):
    auth.add_user(auth_svc, "boss", PASSWORD, "district")
    doc = json.loads(auth_svc.r.hget(auth_svc.keys.users(), "boss"))
    assert doc["hash"].startswith("$argon2id$") and PASSWORD not in doc["hash"]
    assert auth.users(auth_svc) == [{"name": "boss", "role": "district", "street": "",
                                     "dept": ""}]


def test_a_street_supervisor_needs_a_known_street(auth_svc):
    with pytest.raises(auth.AuthError, match="street"):
        auth.add_user(auth_svc, "xx", PASSWORD, "street", street="atlantis")
    with pytest.raises(auth.AuthError, match="department"):
        auth.add_user(auth_svc, "yy", PASSWORD, "department", dept="nope")


def test_the_cli_adds_lists_and_removes_users(auth_settings, redis_client, capsys, monkeypatch):
    import app as cli

    monkeypatch.setenv("REDIS_URL", auth_settings.redis_url)
    monkeypatch.setenv("DATA_DIR", auth_settings.data_dir)
    assert cli.main(["users", "add", "wx", "--role", "street", "--street", "wanxin",
                     "--password", PASSWORD]) == 0
    assert cli.main(["users", "list"]) == 0
    assert "wanxin" in capsys.readouterr().out
    assert cli.main(["users", "remove", "wx"]) == 0
    assert cli.main(["walltoken", "create", "hall"]) == 0
    assert "?wall=gww_" in capsys.readouterr().out


# ---- login, sessions, lockout -------------------------------------------------------------------
def test_a_login_opens_a_server_side_session_and_goes_to_the_roles_start_page(app):
    c, resp = login(app, "wx")
    assert resp.status_code == 302 and resp.headers["Location"] == "/street/wanxin"
    sid = c.get_cookie("gw_session").value
    svc = app.server.extensions["gridwall"]
    stored = svc.r.hgetall(svc.keys.session(auth.digest(sid)))
    assert stored[b"role"] == b"street" and sid.encode() not in b"".join(stored.values())
    assert 0 < svc.r.ttl(svc.keys.session(auth.digest(sid))) <= svc.settings.session_ttl_s


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_user_out(app):
    for _ in range(app.server.extensions["gridwall"].settings.login_max_failures):
        assert login(app, "wx", "wrong-password")[1].status_code == 401
    c, resp = login(app, "wx")  # the right password, but locked out from this address
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert login(app, "wx", ip="10.0.0.2")[1].status_code == 302  # per user and address


@pytest.fixture
def throttled(auth_settings, clock, redis_client):
    """Return auth services with small login limits (5 per user and address in 900 s, 3 per
    address in 600 s, 4 per user in 300 s) and the users boss and wx."""
    s = dataclasses.replace(auth_settings, login_max_failures=5, login_lockout_s=900,
                            login_ip_max_failures=3, login_ip_lockout_s=600,
                            login_user_max_failures=4, login_user_lockout_s=300)
    svc = build_services(s, clock=clock, r=redis_client)
    auth.add_user(svc, "boss", PASSWORD, "district")
    auth.add_user(svc, "wx", PASSWORD, "street", street="wanxin")
    return svc


def test_failures_under_many_user_names_from_one_address_lock_that_address_out(throttled):
    for name in ("admin", "root", "boss"):  # one guess each: no user and address near its limit
        assert auth.authenticate(throttled, name, "wrong-password", "10.0.0.9") is None
    with pytest.raises(auth.LockedOut) as locked:
        auth.authenticate(throttled, "wx", PASSWORD, "10.0.0.9")  # even the right password
    assert 590 <= locked.value.retry_after <= 600  # LOGIN_IP_LOCKOUT_S
    assert auth.authenticate(throttled, "wx", PASSWORD, "10.0.0.8").role == "street"


def test_failures_for_one_user_from_many_addresses_lock_that_user_out(throttled):
    for i in range(4):  # one guess from each address
        assert auth.authenticate(throttled, "boss", "wrong-password", f"10.0.1.{i}") is None
    with pytest.raises(auth.LockedOut) as locked:
        auth.authenticate(throttled, "boss", PASSWORD, "10.0.2.1")  # a fresh address
    assert 290 <= locked.value.retry_after <= 300  # LOGIN_USER_LOCKOUT_S
    assert auth.authenticate(throttled, "wx", PASSWORD, "10.0.2.1").role == "street"


def test_a_user_lockout_does_not_tell_whether_the_user_exists(throttled):
    for name in ("boss", "ghost"):
        for i in range(4):
            assert auth.authenticate(throttled, name, "wrong-password", f"10.0.{i}.1") is None
    for name in ("boss", "ghost"):
        with pytest.raises(auth.LockedOut):
            auth.authenticate(throttled, name, "any-password", "10.0.9.9")


def test_a_successful_login_does_not_reset_its_addresss_failures(throttled):
    # else one valid account would let an address guess other users' passwords without end
    for name in ("admin", "root"):
        assert auth.authenticate(throttled, name, "wrong-password", "10.0.0.9") is None
    assert auth.authenticate(throttled, "wx", PASSWORD, "10.0.0.9").role == "street"
    assert auth.authenticate(throttled, "boss", "wrong-password", "10.0.0.9") is None
    with pytest.raises(auth.LockedOut):
        auth.authenticate(throttled, "wx", PASSWORD, "10.0.0.9")


def test_login_lockouts_are_kept_only_in_counters_that_expire(throttled):
    for ip in ("10.0.1.1", "10.0.1.1", "10.0.1.2", "10.0.1.2"):
        auth.authenticate(throttled, "boss", "wrong-password", ip)  # boss: 4 = locked
    auth.authenticate(throttled, "root", "wrong-password", "10.0.1.1")  # 10.0.1.1: 3 = locked
    for name, ip in (("boss", "10.0.3.3"), ("wx", "10.0.1.1")):
        with pytest.raises(auth.LockedOut):
            auth.authenticate(throttled, name, PASSWORD, ip)
    r = throttled.r
    counters = list(r.scan_iter(match=throttled.keys.login_failures("*")))
    assert counters and all(0 < r.ttl(k) <= 900 for k in counters), counters
    for k in counters:
        r.pexpire(k, 1)  # as if their windows had passed
    time.sleep(0.05)
    assert auth.authenticate(throttled, "boss", PASSWORD, "10.0.3.3").role == "district"
    assert auth.authenticate(throttled, "wx", PASSWORD, "10.0.1.1").role == "street"


def test_without_a_session_pages_redirect_to_the_login_and_apis_answer_401(app):
    c = app.server.test_client()
    resp = c.get("/street/wanxin", headers=HTML)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")
    assert c.get("/api/v1/workers").status_code == 401
    assert c.get("/api/v1/health").status_code == 200


def test_an_expired_or_removed_users_session_ends(app):
    c, _ = login(app, "wx")
    assert c.get("/api/v1/me").get_json()["role"] == "street"
    svc = app.server.extensions["gridwall"]
    auth.remove_user(svc, "wx")
    assert c.get("/api/v1/me").status_code == 401
    c2, _ = login(app, "boss")
    svc.r.delete(svc.keys.session(auth.digest(c2.get_cookie("gw_session").value)))  # expiry
    assert c2.get("/api/v1/me").status_code == 401


def test_each_request_slides_a_sessions_expiry(app):
    svc = app.server.extensions["gridwall"]
    c, _ = login(app, "wx")
    key = svc.keys.session(auth.digest(c.get_cookie("gw_session").value))
    svc.r.expire(key, 60)  # as if the supervisor had been idle for all but a minute
    assert c.get("/api/v1/me").status_code == 200
    assert svc.r.ttl(key) > svc.settings.session_ttl_s - 60


def test_each_request_slides_a_kiosk_sessions_expiry(app):
    svc = app.server.extensions["gridwall"]
    c = app.server.test_client()
    c.get(f"/?wall={auth.create_wall_token(svc, 'hall')}", headers=HTML)
    key = svc.keys.session(auth.digest(c.get_cookie("gw_session").value))
    svc.r.expire(key, 60)
    assert c.get("/api/v1/wall/basemap").status_code == 200
    assert svc.r.ttl(key) > svc.settings.wall_session_ttl_s - 60


def test_a_session_ends_session_max_s_after_login_however_active(app, monkeypatch):
    svc = app.server.extensions["gridwall"]
    s = svc.settings
    wall = FakeClock(time.time())  # sessions are dated by wall time (auth.time), not svc.clock
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=wall.now))
    login_at = wall.now()
    c, _ = login(app, "boss")
    key = svc.keys.session(auth.digest(c.get_cookie("gw_session").value))
    step = s.session_ttl_s - 60  # a request before each sliding expiry keeps it alive...
    while wall.now() + step < login_at + s.session_max_s:
        wall.advance(step)
        assert c.get("/api/v1/me").status_code == 200
    wall.set(login_at + s.session_max_s - 5)
    assert c.get("/api/v1/me").status_code == 200
    wall.advance(10)  # ...until SESSION_MAX_S after the login
    assert c.get("/api/v1/me").status_code == 401
    assert not svc.r.exists(key)


def test_the_login_form_and_logout_need_their_csrf_token(app):
    c = app.server.test_client()
    c.get("/login")
    resp = c.post("/login", data={"username": "boss", "password": PASSWORD, "csrf": "forged"})
    assert resp.status_code == 403
    c, _ = login(app, "boss")
    assert c.post("/logout").status_code == 403
    token = c.get_cookie("gw_csrf").value
    assert c.post("/logout", data={"csrf": token}).status_code == 302
    assert c.get("/api/v1/me").status_code == 401


def test_next_never_leaves_the_site(app):
    c = app.server.test_client()
    c.get("/login")
    resp = c.post("/login", data={"username": "boss", "password": PASSWORD,
                                  "next": "//evil.example", "csrf": c.get_cookie("gw_csrf").value})
    assert resp.headers["Location"] == "/"


# ---- a street supervisor ------------------------------------------------------------------------
def test_a_street_supervisor_opens_their_streets_pages_and_nothing_else(app):
    svc = app.server.extensions["gridwall"]
    c, _ = login(app, "wx")
    jl_worker = worker_of(svc, JUNLIANG_GRID)
    for path in ("/street/wanxin", "/station/WX-01", f"/grid/{WANXIN_GRID}",
                 f"/worker/{worker_of(svc, WANXIN_GRID)}", "/case/C-WX-1", "/search"):
        assert c.get(path, headers=HTML).status_code == 200, path
        assert page_callback(c, path).status_code == 200, path
    for path in ("/street/junliangcheng", f"/station/{OTHER_STATION}", f"/grid/{JUNLIANG_GRID}",
                 f"/worker/{jl_worker}", "/case/C-JL-1", "/district", "/grids/edit/WX-01-01",
                 "/exchange", "/people"):
        assert c.get(path, headers=HTML).status_code == 403, path
        assert page_callback(c, path).status_code == 403, path
    assert c.get("/", headers=HTML).headers["Location"] == "/street/wanxin"


def test_a_callback_payload_edited_to_another_street_is_refused(app):
    c, _ = login(app, "wx")
    body = {"output": "drill-x.children", "outputs": {"id": "drill-x", "property": "children"},
            "inputs": [{"id": "drill-go", "property": "n_clicks", "value": 1}],
            "state": [{"id": "drill-ctx", "property": "data",
                       "value": {"path": "/street/junliangcheng"}}], "changedPropIds": []}
    token = {"X-CSRF-Token": c.get_cookie("gw_csrf").value}
    assert c.post("/_dash-update-component", json=body, headers=token).status_code == 403
    body["state"] = []  # a callback that names no page is denied too
    assert c.post("/_dash-update-component", json=body, headers=token).status_code == 403


def test_a_query_parameter_cannot_swap_the_unit_of_a_page_the_user_may_open(app):
    svc = app.server.extensions["gridwall"]
    c, _ = login(app, "wx")
    mine, theirs = worker_of(svc, WANXIN_GRID), worker_of(svc, JUNLIANG_GRID)
    for path, other in (("/street/wanxin", "junliangcheng"), (f"/worker/{mine}", theirs),
                        (f"/grid/{WANXIN_GRID}", JUNLIANG_GRID), ("/case/C-WX-1", "C-JL-1")):
        assert page_callback(c, path, search=f"?code={other}").status_code == 403, path
        assert c.get(f"{path}?code={other}", headers=HTML).status_code == 400, path
    assert page_callback(c, f"/worker/{mine}", search="?day=20260101").status_code == 200


def test_a_callback_without_the_csrf_header_is_refused(app):
    c, _ = login(app, "wx")
    assert page_callback(c, "/street/wanxin", csrf=False).status_code == 403


def test_a_street_supervisor_reads_only_their_workers_and_exports(app):
    svc = app.server.extensions["gridwall"]
    c, _ = login(app, "wx")
    mine, theirs = worker_of(svc, WANXIN_GRID), worker_of(svc, JUNLIANG_GRID)
    assert c.get(f"/api/v1/workers/{mine}/track").status_code == 200
    assert c.get(f"/api/v1/workers/{theirs}/track").status_code == 403
    assert c.get("/api/v1/workers").status_code == 403  # the district-wide roster
    assert c.get("/api/v1/wall/basemap").status_code == 403
    assert c.get(f"/export/track/{mine}.gpx").status_code == 200
    assert c.get(f"/export/track/{theirs}.gpx").status_code == 403
    assert c.get("/export/table/cases.xlsx?path=/street/wanxin").status_code == 200
    assert c.get("/export/table/cases.xlsx?path=/street/junliangcheng").status_code == 403
    assert c.get(f"/api/v1/residents?q=张&grid={WANXIN_GRID}").status_code == 200
    assert c.get("/api/v1/residents?q=张").status_code == 403


# ---- a department operator ----------------------------------------------------------------------
def test_a_department_operator_sees_only_their_departments_cases(app):
    c, resp = login(app, "fire")
    assert resp.headers["Location"] == "/department/xiaofang"
    assert page_callback(c, "/department/xiaofang").status_code == 200
    assert page_callback(c, "/case/C-JL-1").status_code == 200
    for path in ("/department/st-wanxin", "/case/C-WX-1", "/street/junliangcheng",
                 f"/grid/{JUNLIANG_GRID}"):
        assert page_callback(c, path).status_code == 403, path
    assert c.get("/export/table/cases.csv?path=/department/xiaofang").status_code == 200
    assert c.get("/export/table/cases.csv?path=/department/st-wanxin").status_code == 403


def test_a_department_acts_on_its_case_from_the_case_page_only(app):
    svc = app.server.extensions["gridwall"]
    c, _ = login(app, "fire")
    token = {"X-CSRF-Token": c.get_cookie("gw_csrf").value}

    def act(case_id: str):
        body = {"output": "..case-act-msg.children...case-reload.href..",
                "outputs": [{"id": "case-act-msg", "property": "children"},
                            {"id": "case-reload", "property": "href"}],
                "inputs": [[{"id": {"type": "case-act", "action": "accept"},
                             "property": "n_clicks", "value": 1}]],
                "state": [{"id": "case-note", "property": "value", "value": "on our way"},
                          {"id": "drill-ctx", "property": "data",
                           "value": {"path": f"/case/{case_id}", "lang": "zh"}}],
                "changedPropIds": ['{"action":"accept","type":"case-act"}.n_clicks']}
        return c.post("/_dash-update-component", json=body, headers=token)

    assert act("C-WX-1").status_code == 403
    assert act("C-JL-1").status_code == 200
    assert svc.r.hget(svc.keys.case("C-JL-1"), "s") == b"accepted"
    assert svc.r.hget(svc.keys.case("C-WX-1"), "s") == b"dispatched"


# ---- the wall kiosk -----------------------------------------------------------------------------
def test_a_wall_token_opens_the_kiosk_pages_read_only(app):
    svc = app.server.extensions["gridwall"]
    token = auth.create_wall_token(svc, "hall")
    c = app.server.test_client()
    assert c.get(f"/?wall={token}", headers=HTML).status_code == 200
    assert c.get_cookie("gw_session") is not None
    for path in ("/api/v1/wall/basemap", "/api/v1/wall/roster", "/api/v1/workers"):
        assert c.get(path).status_code == 200, path
    assert page_callback(c, "/exchange").status_code == 200
    for path in ("/district", "/street/wanxin", f"/grid/{WANXIN_GRID}", "/search"):
        assert page_callback(c, path).status_code == 403, path
    assert c.get(f"/export/track/{worker_of(svc, WANXIN_GRID)}.gpx").status_code == 403
    assert c.get(f"/api/v1/workers/{worker_of(svc, WANXIN_GRID)}/track").status_code == 403
    auth.revoke_wall_token(svc, "hall")
    assert c.get("/api/v1/wall/basemap").status_code == 401
    assert app.server.test_client().get("/?wall=gww_forged", headers=HTML).status_code == 302


def test_only_district_supervisors_and_walls_join_the_live_socket(app):
    sio = app.socketio
    boss, _ = login(app, "boss")
    wx, _ = login(app, "wx")
    assert sio.test_client(app.server, flask_test_client=boss).is_connected()
    assert not sio.test_client(app.server, flask_test_client=wx).is_connected()
    assert not sio.test_client(app.server).is_connected()


# ---- machine clients keep their own keys --------------------------------------------------------
def test_machine_clients_need_no_login(app):
    svc = app.server.extensions["gridwall"]
    c = app.server.test_client()
    w = worker_of(svc, WANXIN_GRID)
    assert c.get("/osmand", query_string={"id": w, "lat": 39.13, "lon": 117.26,
                                          "timestamp": int(svc.clock.now())}).status_code == 200
    key = apikeys.create(svc, "消防系统", "dept", "xiaofang")
    resp = c.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200 and [x["id"] for x in resp.get_json()["cases"]] == ["C-JL-1"]
    assert c.get("/api/v1/cases").status_code == 401  # its own check, not a login redirect
    assert c.get("/open311/v2/services.json").status_code == 200
    assert c.get("/metrics").status_code == 200  # the Prometheus scraper needs no login


def test_a_route_nobody_listed_is_denied(app):
    c, _ = login(app, "wx")
    assert c.get("/api/v1/some/new/thing").status_code == 403
    assert c.post("/api/v1/workers", headers={"X-CSRF-Token": c.get_cookie("gw_csrf").value}) \
        .status_code == 403


def test_with_auth_off_everything_is_open(svc):
    from case_helpers import app_client

    c = app_client(svc)
    assert c.get("/district", headers=HTML).status_code == 200
    assert c.get("/api/v1/workers").status_code == 200
    assert c.get("/api/v1/me").get_json()["role"] == "district"


def test_the_demo_prints_a_kiosk_url_and_a_supervisor_login(auth_settings, redis_client):
    from dashboard.auth_cli import demo_accounts

    wall, boss = demo_accounts(auth_settings, auth_settings.redis_url)
    svc = build_services(auth_settings, r=redis_client)
    token = wall.split("?wall=")[1]
    assert auth.wall_session(svc, token) is not None
    password = boss.split("password ")[1]
    assert auth.authenticate(svc, "admin", password, "127.0.0.1").role == "district"
