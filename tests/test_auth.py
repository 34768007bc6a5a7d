"""Access control on the server: users, sessions, lockout, CSRF, and each role's pages,
callbacks, APIs and exports (403 beyond its scope); machine clients keep their own keys."""

from __future__ import annotations

import json

import pytest
from case_helpers import JUNLIANG_GRID, WANXIN_GRID, dispatcher, report, worker_of
from redis.cluster import key_slot

from dashboard import apikeys, auth
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
