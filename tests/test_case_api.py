"""The department case API: list, accept, handle, return; isolation between departments."""

from __future__ import annotations

import pytest
from case_helpers import JUNLIANG_GRID, app_client, dispatcher, report, worker_of

from dashboard import apikeys


@pytest.fixture
def client(svc):
    report(svc, "1", item="CG006")  # Wanxin street office
    report(svc, "2", item="AQ001", grid=JUNLIANG_GRID)  # fire brigade
    dispatcher(svc).drain()
    return app_client(svc)


def auth(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def wanxin(svc):
    return auth(apikeys.create(svc, "万新街道系统", "dept", "st-wanxin"))


@pytest.fixture
def fire(svc):
    return auth(apikeys.create(svc, "消防系统", "dept", "xiaofang"))


@pytest.fixture
def boss(svc):
    return auth(apikeys.create(svc, "区监督中心", "supervisor"))


def test_a_department_lists_only_its_own_open_cases(client, wanxin, fire):
    assert [c["id"] for c in client.get("/api/v1/cases", headers=wanxin).get_json()["cases"]] \
        == ["1"]
    cases = client.get("/api/v1/cases", headers=fire).get_json()["cases"]
    assert [(c["id"], c["department_name"], c["item_name"]) for c in cases] == [
        ("2", "消防救援支队", "消防通道堵塞")]


def test_a_department_key_cannot_read_or_change_another_departments_case(client, wanxin):
    assert client.get("/api/v1/cases/2", headers=wanxin).status_code == 404
    for action in ("accept", "handle", "return"):
        resp = client.post(f"/api/v1/cases/2/{action}", headers=wanxin, json={"note": "x"})
        assert resp.status_code == 404
    assert client.get("/api/v1/cases/2", headers=wanxin).status_code == 404


def test_a_missing_or_unknown_key_is_401(client):
    assert client.get("/api/v1/cases").status_code == 401
    assert client.get("/api/v1/cases", headers=auth("gw_nope")).status_code == 401


def test_accept_then_handle_with_a_note(client, wanxin):
    c = client.post("/api/v1/cases/1/accept", headers=wanxin).get_json()
    assert c["state"] == "accepted"
    c = client.post("/api/v1/cases/1/handle", headers=wanxin,
                    json={"note": "已清运"}).get_json()
    assert (c["state"], c["note"]) == ("handled", "已清运")
    hist = client.get("/api/v1/cases/1", headers=wanxin).get_json()["history"]
    assert [h["action"] for h in hist] == ["report", "dispatch", "accept", "handle"]
    assert hist[-1]["actor"] == "dept:st-wanxin"


def test_an_illegal_transition_is_409_with_the_reason(client, wanxin):
    resp = client.post("/api/v1/cases/1/handle", headers=wanxin, json={})
    assert resp.status_code == 409 and "note" in resp.get_json()["error"]
    client.post("/api/v1/cases/1/accept", headers=wanxin)
    resp = client.post("/api/v1/cases/1/accept", headers=wanxin)
    assert resp.status_code == 409
    assert resp.get_json() == {"error": "cannot accept a case that is accepted "
                                        "(only when dispatched)", "state": "accepted"}


def test_returning_to_a_named_department_hands_the_case_over(client, wanxin, fire):
    resp = client.post("/api/v1/cases/1/return", headers=wanxin,
                       json={"reason": "涉及消防通道", "to": "xiaofang"})
    assert resp.status_code == 200 and resp.get_json()["department"] == "xiaofang"
    assert client.get("/api/v1/cases/1", headers=wanxin).status_code == 404
    ids = [c["id"] for c in client.get("/api/v1/cases", headers=fire).get_json()["cases"]]
    assert sorted(ids) == ["1", "2"]


def test_a_return_without_target_waits_for_the_supervisor_who_redispatches(client, wanxin,
                                                                            boss):
    c = client.post("/api/v1/cases/1/return", headers=wanxin,
                    data={"reason": "不属于本单位"}).get_json()
    assert (c["state"], c["department"]) == ("returned", "@district")
    queue = client.get("/api/v1/cases?dept=@district", headers=boss).get_json()["cases"]
    assert [q["id"] for q in queue] == ["1"]
    resp = client.post("/api/v1/cases/1/redispatch", headers=wanxin, json={"to": "chengguan"})
    assert resp.status_code == 403
    c = client.post("/api/v1/cases/1/redispatch", headers=boss, json={"to": "chengguan"})
    assert c.get_json()["department"] == "chengguan"
    resp = client.post("/api/v1/cases/1/redispatch", headers=boss, json={"to": "nobody"})
    assert resp.status_code == 409


def test_only_the_reporting_worker_verifies_and_the_supervisor_closes(client, svc, wanxin,
                                                                      boss):
    app = auth(apikeys.create(svc, "worker app"))
    client.post("/api/v1/cases/1/handle", headers=wanxin, json={"note": "done"})
    other = worker_of(svc, JUNLIANG_GRID)
    assert client.post("/api/v1/cases/1/verify", headers=app,
                       json={"worker": other}).status_code == 404
    me = worker_of(svc, "WX-01-01")
    assert client.post("/api/v1/cases/1/verify", headers=app,
                       json={"worker": me}).get_json()["state"] == "verified"
    assert client.post("/api/v1/cases/1/close", headers=app).status_code == 403
    assert client.post("/api/v1/cases/1/close", headers=boss).get_json()["state"] == "closed"


def test_a_description_with_html_is_returned_as_text(client, svc, boss):
    report(svc, "3", item="CG007", description="<script>alert(1)</script>")
    dispatcher(svc).drain()
    c = client.get("/api/v1/cases/3", headers=boss).get_json()
    assert c["description"] == "<script>alert(1)</script>"


def test_the_command_line_issues_keys_for_open311_and_departments(svc, settings, monkeypatch,
                                                                   capsys):
    import app

    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("DATA_DIR", settings.data_dir)
    assert app.main(["apikey", "create", "城管系统", "--dept", "chengguan"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("gw_") and apikeys.lookup(svc, key).dept == "chengguan"
    assert app.main(["apikey", "create", "app"]) == 0
    assert apikeys.lookup(svc, capsys.readouterr().out.strip()).role == "open311"
    assert app.main(["apikey", "create", "x", "--dept", "nobody"]) == 2
    assert app.main(["apikey", "revoke", "城管系统"]) == 0
    assert apikeys.lookup(svc, key) is None


def test_the_department_page_shows_last_months_handling_times_early_in_a_month(client, wanxin,
                                                                              svc, clock):
    from dashboard import drill_queries as dq

    client.post("/api/v1/cases/1/accept", headers=wanxin)
    client.post("/api/v1/cases/1/handle", headers=wanxin, json={"note": "已清运"})
    assert sum(dq.department(svc, "st-wanxin")["hist"].values()) == 1
    clock.advance(4 * 86400)  # from 29 May into June
    doc = dq.department(svc, "st-wanxin")
    assert sum(doc["hist"].values()) == 1 and doc["handled_30d"] == 1


def test_the_department_page_lists_the_cases_it_returned_with_the_reason(client, wanxin, svc,
                                                                         clock):
    from dashboard import drill_queries as dq

    client.post("/api/v1/cases/1/return", headers=wanxin,
                json={"reason": "涉及消防通道", "to": "xiaofang"})
    [row] = dq.department(svc, "st-wanxin")["returned"]
    assert (row["id"], row["return_reason"], row["now_dept"], row["state"]) == (
        "1", "涉及消防通道", "消防救援支队", "已派遣")
    clock.advance(31 * 86400)  # listed for 30 days
    assert dq.department(svc, "st-wanxin")["returned"] == []


def test_the_returned_cases_export_as_the_department_page_lists_them(client, wanxin, svc):
    client.post("/api/v1/cases/1/return", headers=wanxin, json={"reason": "不属于本单位"})
    resp = client.get("/export/table/returned.csv?path=/department/st-wanxin")
    lines = resp.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert resp.status_code == 200
    assert lines[0].split(",")[:3] == ["案件编号", "退回时间", "退回理由"]
    assert lines[1].startswith("1,") and "不属于本单位" in lines[1]


def test_reminder_and_overdue_recipients_show_by_name_in_a_cases_timeline(svc):
    from dashboard import drill_queries as dq

    w = svc.district.workers[0]
    assert dq.recipient_name(svc, w.id) == w.name
    assert dq.recipient_name(svc, "street:wanxin") == "万新街道"
    assert dq.recipient_name(svc, "street:wanxin", "en").startswith("Wanxin")
    assert dq.recipient_name(svc, "xiaofang") == "消防救援支队"
    assert dq.t("step_linked", "zh") != "step_linked"
