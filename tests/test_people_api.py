"""The people API over real HTTP: tasks, assessment, points, volunteer records, residents."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
import requests

from dashboard.services import build_services
from streams.people import assess_day, run_service_rules
from tests._people import cover_walk, put_track, resident, use_registry

KEY = "people-admin-test-key"


@pytest.fixture
def app(settings, clock, redis_client):
    from tests.conftest import LiveApp

    svc = build_services(dataclasses.replace(settings, people_admin_keys=KEY), clock=clock,
                         r=redis_client)
    use_registry(svc, [
        resident("R1", name="张泽辉", birth="1966-07-01", party_member=True),
        resident("R2", name="李梅", grid="WX-01-09", tenant=True, lease_holder=True,
                 lease_end="2026-06-10", id_no="12011019800101567X", phone="13900001111")])
    clock.set(datetime(2026, 6, 1, 6, 0, tzinfo=svc.days.tz).timestamp())
    live = LiveApp(svc, consumers=False)
    yield live
    live.close()


def url(app, path: str) -> str:
    return app.url + "/api/v1" + path


def test_a_worker_sees_their_tasks_with_residents_masked(app):
    run_service_rules(app.svc, app.svc.clock.now())
    wid = app.svc.district.worker_of_grid("WX-01-09").id
    r = requests.get(url(app, f"/workers/{wid}/tasks"), timeout=5)
    assert r.status_code == 200
    [task] = r.json()["tasks"]
    assert task["id"] == "tenant_reregister.R2.20260610" and task["rule_name"] == "租户信息重新登记"
    assert task["resident"]["name"] == "李*"
    assert task["resident"]["id_no"] == "120110********567X"
    assert task["resident"]["phone"] == "139****1111"
    assert task["resident"]["address"] == "铁城公寓3号楼2门501"
    assert "李梅" not in r.text and "13900001111" not in r.text


def test_a_task_is_completed_through_the_api_once(app):
    run_service_rules(app.svc, app.svc.clock.now())
    wid = app.svc.district.worker_of_grid("WX-01-09").id
    tid = "tenant_reregister.R2.20260610"
    r = requests.post(url(app, f"/tasks/{tid}/done"), json={"worker": wid, "note": "已登记"},
                      timeout=5)
    assert r.status_code == 200 and r.json()["done_now"] is True
    assert r.json()["task"]["status"] == "done"
    again = requests.post(url(app, f"/tasks/{tid}/done"), json={"worker": wid}, timeout=5)
    assert again.status_code == 200 and again.json()["done_now"] is False
    stats = requests.get(url(app, "/tasks/stats"), timeout=5).json()
    row = next(x for x in stats["rules"] if x["rule"] == "tenant_reregister")
    assert (row["pushed"], row["done"], row["open"]) == (1, 1, 0)
    # W0009 is a party member: the task earned points, and the board explains them
    board = requests.get(url(app, "/points/leaderboard?period=all"), timeout=5).json()
    assert board["rows"][0]["member"] == wid and board["rows"][0]["points"] == 3
    why = requests.get(url(app, f"/members/{wid}/points"), timeout=5).json()
    assert why["awards"][0]["ref"] == tid


def test_completing_an_unknown_or_anothers_task_is_refused(app):
    run_service_rules(app.svc, app.svc.clock.now())
    assert requests.post(url(app, "/tasks/nope.R1.20260101/done"), json={},
                         timeout=5).status_code == 404
    r = requests.post(url(app, "/tasks/tenant_reregister.R2.20260610/done"),
                      json={"worker": "W0001"}, timeout=5)
    assert r.status_code == 403


def test_open_and_overdue_tasks_are_listed_for_the_phones(app):
    run_service_rules(app.svc, app.svc.clock.now())
    open_ = requests.get(url(app, "/tasks?status=open"), timeout=5).json()["tasks"]
    assert {t["rule"] for t in open_} == {"senior_card", "tenant_reregister"}
    assert requests.get(url(app, "/tasks?status=overdue"), timeout=5).json()["tasks"] == []
    app.svc.clock.advance(40 * 86400)
    overdue = requests.get(url(app, "/tasks?status=overdue"), timeout=5).json()["tasks"]
    assert len(overdue) == 2


def test_a_workers_assessment_is_served_after_the_day_is_assessed(app):
    svc = app.svc
    wid = "W0009"
    assert requests.get(url(app, f"/workers/{wid}/assessment"), timeout=5).status_code == 404
    start = datetime(2026, 6, 1, 8, 30, tzinfo=svc.days.tz).timestamp()
    put_track(svc, wid, cover_walk(svc.district.grid("WX-01-09").ring, start))
    svc.clock.set(start + 4 * 3600)
    assess_day(svc, "20260601", svc.clock.now())
    doc = requests.get(url(app, f"/workers/{wid}/assessment?day=20260601"), timeout=5).json()
    assert doc["patrols"] == 1 and doc["name"] == "张立伟" and doc["rank"]["rank"] == 1
    assert 0 < doc["score"] <= 100 and set(doc["parts"]) >= {"patrols", "coverage"}
    rank = requests.get(url(app, "/assessment/ranking?period=20260601&station=WX-01"),
                        timeout=5).json()
    assert rank["rows"][0]["worker"] == wid
    month = requests.get(url(app, "/assessment/ranking?period=202606"), timeout=5).json()
    assert month["rows"][0]["worker"] == wid
    assert requests.get(url(app, f"/workers/{wid}/assessment?day=june"),
                        timeout=5).status_code == 400


def test_volunteer_points_need_the_admin_key(app):
    body = {"member": "R1", "activity": "社区清扫", "points": 4, "by": "站长"}
    assert requests.post(url(app, "/points/volunteer"), json=body,
                         timeout=5).status_code == 401
    assert requests.post(url(app, "/points/volunteer"), json=body, timeout=5,
                         headers={"X-Api-Key": "wrong"}).status_code == 403
    ok = requests.post(url(app, "/points/volunteer"), json=body, timeout=5,
                       headers={"X-Api-Key": KEY})
    assert ok.status_code == 201 and ok.json()["awarded"] is True
    why = requests.get(url(app, "/members/R1/points"), timeout=5).json()
    assert why["name"] == "张*辉" and why["total"] == 4


def test_the_service_rules_run_on_demand_with_the_admin_key(app):
    assert requests.post(url(app, "/service-rules/run"), timeout=5).status_code == 401
    r = requests.post(url(app, "/service-rules/run"), headers={"X-Api-Key": KEY}, timeout=10)
    assert r.status_code == 200 and r.json()["created"] == 2


def test_residents_are_found_by_masked_name_and_shown_masked(app):
    r = requests.get(url(app, "/residents"), params={"q": "张*辉"}, timeout=5)
    [found] = r.json()["residents"]
    assert found["rid"] == "R1" and found["name"] == "张*辉"
    assert found["id_no"] == "120110********1234"
    assert requests.get(url(app, "/residents"), timeout=5).status_code == 400
