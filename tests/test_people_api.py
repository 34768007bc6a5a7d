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
PHONE = "people-phone-test-key"  # an OPEN311_API_KEYS key, as the workers' phones hold
TENANT_TASK = "tenant_reregister.R2.20260610"


@pytest.fixture
def app(settings, clock, redis_client):
    from tests.conftest import LiveApp

    svc = build_services(dataclasses.replace(settings, people_admin_keys=KEY,
                                             open311_api_keys=PHONE),
                         clock=clock, r=redis_client)
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
    tid = TENANT_TASK
    r = requests.post(url(app, f"/tasks/{tid}/done"), timeout=5,
                      json={"worker": wid, "note": "已登记", "api_key": PHONE})
    assert r.status_code == 200 and r.json()["done_now"] is True
    assert r.json()["task"]["status"] == "done"
    again = requests.post(url(app, f"/tasks/{tid}/done"), json={"worker": wid}, timeout=5,
                          headers={"X-Api-Key": PHONE})
    assert again.status_code == 200 and again.json()["done_now"] is False
    stats = requests.get(url(app, "/tasks/stats"), timeout=5).json()
    row = next(x for x in stats["rules"] if x["rule"] == "tenant_reregister")
    assert (row["pushed"], row["done"], row["open"]) == (1, 1, 0)
    # W0009 is a party member: the task earned points, and the board explains them
    board = requests.get(url(app, "/points/leaderboard?period=all"), timeout=5).json()
    assert board["rows"][0]["member"] == wid and board["rows"][0]["points"] == 3
    why = requests.get(url(app, f"/members/{wid}/points"), timeout=5).json()
    assert why["awards"][0]["ref"] == tid


def done(app, tid: str, body: dict, key: str | None = PHONE) -> requests.Response:
    """POST a task completion with key as the X-Api-Key header (none if None)."""
    return requests.post(url(app, f"/tasks/{tid}/done"), json=body, timeout=5,
                         headers={"X-Api-Key": key} if key is not None else {})


def _untouched(app, wid: str) -> None:
    """Assert the tenant task is still open and earned nothing."""
    svc = app.svc
    assert [t["id"] for t in requests.get(url(app, f"/workers/{wid}/tasks"),
                                          timeout=5).json()["tasks"]] == [TENANT_TASK]
    assert svc.r.hlen(svc.keys.resident_overlay()) == 0  # tenancy end not moved
    assert svc.r.zcard(svc.keys.points_board("all")) == 0
    assert not svc.r.hget(svc.keys.worker_day("20260601"), f"{wid}|tasks_done")


def test_completing_a_task_without_a_key_is_refused_and_changes_nothing(app):
    run_service_rules(app.svc, app.svc.clock.now())
    wid = app.svc.district.worker_of_grid("WX-01-09").id
    r = done(app, TENANT_TASK, {"worker": wid, "note": "已登记"}, key=None)
    assert r.status_code == 401 and "missing" in r.json()["error"]
    assert done(app, TENANT_TASK, {"worker": wid}, key="").status_code == 401
    assert done(app, "nope.R1.20260101", {"worker": wid}, key=None).status_code == 401
    _untouched(app, wid)


def test_completing_a_task_with_a_wrong_key_or_for_another_worker_is_refused(app):
    from dashboard import apikeys

    run_service_rules(app.svc, app.svc.clock.now())
    wid = app.svc.district.worker_of_grid("WX-01-09").id
    desk = apikeys.create(app.svc, "城管科", "dept", "chengguan")  # a valid key, not a phone's
    for key in ("wrong", desk):
        r = done(app, TENANT_TASK, {"worker": wid}, key=key)
        assert r.status_code == 403 and "key" in r.json()["error"]
    for key in ("wrong", "王" + PHONE, "王" + KEY):
        r = done(app, TENANT_TASK, {"worker": wid, "api_key": key}, key=None)
        assert r.status_code == 403
    r = done(app, TENANT_TASK, {"worker": "W0001"})
    assert r.status_code == 403 and "another worker" in r.json()["error"]
    r = done(app, TENANT_TASK, {"note": "已登记"})  # the worker must be named
    assert r.status_code == 400 and "worker" in r.json()["error"]
    r = done(app, "nope.R1.20260101", {"worker": wid})
    assert r.status_code == 404 and "unknown task" in r.json()["error"]
    _untouched(app, wid)


def test_an_issued_phone_key_or_a_supervisors_admin_key_completes_a_task(app):
    from dashboard import apikeys

    svc = app.svc
    run_service_rules(svc, svc.clock.now())
    issued = apikeys.create(svc, "phones")  # python app.py apikey create phones
    wid = svc.district.worker_of_grid("WX-01-09").id
    r = done(app, TENANT_TASK, {"worker": wid, "note": "已登记"}, key=issued)
    assert r.status_code == 200 and r.json()["done_now"] is True
    assert r.json()["task"]["done_by"] == wid
    senior = "senior_card.R1.20260701"
    owner = svc.district.worker_of_grid("WX-01-01").id
    assert done(app, senior, {"worker": wid}, key=KEY).status_code == 403
    r = requests.post(url(app, f"/tasks/{senior}/done"), timeout=5,
                      json={"worker": owner, "api_key": KEY})
    assert r.status_code == 200 and r.json()["task"]["status"] == "done"
    assert requests.get(url(app, "/tasks?status=open"), timeout=5).json()["tasks"] == []


def test_the_simulators_completions_carry_the_phones_key(app):
    from streams.sim_people import TaskDoers, people_actors

    svc = app.svc
    run_service_rules(svc, svc.clock.now())
    [doers] = people_actors(svc, PHONE)
    assert isinstance(doers, TaskDoers)
    doers.done_share, doers.mean_delay_s = 1.0, 36.0
    svc.clock.advance(3600)
    posts = [p for p in doers.step(svc.clock.now()) if p.path.endswith("/done")]
    assert len(posts) == 2 and all(p.body["api_key"] == PHONE for p in posts)
    for post in posts:  # as streams.simulate sends them
        r = requests.post(app.url + post.path, json=post.body, headers=post.headers, timeout=5)
        assert r.status_code == 200 and r.json()["done_now"] is True
    # without a phone key the volunteers' admin key completes them (scripts/shot_people.py)
    [admin] = people_actors(svc)
    assert admin.phone_key == KEY


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
    assert requests.post(url(app, "/points/volunteer"), json=body, timeout=5,
                         headers={"X-Api-Key": PHONE}).status_code == 403
    ok = requests.post(url(app, "/points/volunteer"), json=body, timeout=5,
                       headers={"X-Api-Key": KEY})
    assert ok.status_code == 201 and ok.json()["awarded"] is True
    why = requests.get(url(app, "/members/R1/points"), timeout=5).json()
    assert why["name"] == "张*辉" and why["total"] == 4


def test_volunteer_points_of_infinity_are_a_400(app):
    body = '{"member": "R1", "activity": "社区清扫", "points": 1e400}'  # json reads inf
    r = requests.post(url(app, "/points/volunteer"), data=body.encode(), timeout=5,
                      headers={"X-Api-Key": KEY, "Content-Type": "application/json"})
    assert r.status_code == 400 and "whole number" in r.json()["error"]


def test_who_recorded_volunteer_points_comes_from_the_key_not_the_body(app):
    body = {"member": "R1", "activity": "社区清扫", "points": 4, "by": "区委书记",
            "api_key": KEY}
    assert requests.post(url(app, "/points/volunteer"), json=body, timeout=5).status_code == 201
    quiet = {"member": "R1", "activity": "义务理发", "points": 2}
    assert requests.post(url(app, "/points/volunteer"), json=quiet, timeout=5,
                         headers={"X-Api-Key": KEY}).status_code == 201
    awards = requests.get(url(app, "/members/R1/points"), timeout=5).json()["awards"]
    by_note = {a["note"]: a["by"] for a in awards}
    assert by_note == {"社区清扫 · 区委书记": f"admin key …{KEY[-4:]}",
                       "义务理发": f"admin key …{KEY[-4:]}"}


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
