"""The exchange over real HTTP: catalog queries, call ingest, approvals for administrators."""

from __future__ import annotations

import dataclasses

import pytest
import requests

from dashboard.exchange import CONDITIONAL, NOT_SHARED, UNCONDITIONAL
from dashboard.exchange_queries import registry
from dashboard.redis_server import EmbeddedRedis
from dashboard.services import build_services
from streams.call_records import call_from_fields

ADMIN = "s3cret-admin"


@pytest.fixture
def app_only(svc):
    """The app over HTTP without consumers, so the calls stream can be inspected."""
    from tests.conftest import LiveApp

    svc.settings = dataclasses.replace(svc.settings, exchange_admin_keys=f"other,{ADMIN}")
    app = LiveApp(svc, consumers=False)
    yield app
    app.close()


def _stream(svc):
    return [call_from_fields(f) for _id, f in svc.r.xrange(svc.keys.calls_stream())]


def _approved(reg):
    return next((cat, unit) for (cat, unit), found in sorted(reg.approvals.items())
                if "identity" in reg.catalogs[cat].interfaces and found[0].until is None)


# ---- catalogs ----------------------------------------------------------------------------------
def test_catalogs_filter_by_unit_and_sharing_class(app_only):
    reg = registry(app_only.svc)
    r = requests.get(app_only.url + "/api/v1/catalogs",
                     params={"unit": "minzheng", "sharing": CONDITIONAL, "limit": 500})
    assert r.status_code == 200
    body = r.json()
    expected = [c for c in reg.catalogs.values()
                if c.unit == "minzheng" and c.sharing == CONDITIONAL]
    assert body["total"] == len(expected) == len(body["catalogs"])
    assert body["items"] == sum(c.items for c in expected)
    first = body["catalogs"][0]
    assert first["unit_name"] == "民政局" and first["sharing"] == CONDITIONAL


def test_catalogs_accept_the_chinese_class_name_and_page(app_only):
    r = requests.get(app_only.url + "/api/v1/catalogs",
                     params={"sharing": "不予共享", "limit": 10, "offset": 5}).json()
    assert r["total"] == 81 and len(r["catalogs"]) == 10
    assert all(c["sharing"] == NOT_SHARED for c in r["catalogs"])


def test_all_catalogs_add_up_to_the_registry(app_only):
    r = requests.get(app_only.url + "/api/v1/catalogs", params={"limit": 2000}).json()
    assert (r["total"], r["items"]) == (1457, 21661)


@pytest.mark.parametrize("params,reason", [
    ({"unit": "nowhere"}, "unknown unit: nowhere"),
    ({"sharing": "sometimes"}, "sharing must be one of unconditional, conditional, not_shared"),
    ({"interface": "fax"}, "unknown interface: fax"),
    ({"limit": "many"}, "limit and offset must be whole numbers"),
])
def test_bad_catalog_filters_are_400_with_a_reason(app_only, params, reason):
    r = requests.get(app_only.url + "/api/v1/catalogs", params=params)
    assert r.status_code == 400 and r.json()["error"] == reason


def test_one_catalog_by_id_and_404_for_an_unknown_one(app_only):
    assert requests.get(app_only.url + "/api/v1/catalogs/gongan-001").json()["interfaces"] == [
        "identity"]
    assert requests.get(app_only.url + "/api/v1/catalogs/zz-999").status_code == 404


def test_interfaces_list_their_provider_and_catalogs(app_only):
    rows = {i["code"]: i for i in requests.get(app_only.url + "/api/v1/interfaces").json()}
    assert len(rows) == 8
    assert rows["identity"]["name"] == "个人身份查询"
    assert rows["identity"]["provider_name"] == "公安东丽分局" and rows["identity"]["catalogs"]


# ---- call ingest -------------------------------------------------------------------------------
def test_a_batch_of_calls_is_appended_to_the_calls_stream(app_only, clock):
    cat, unit = _approved(registry(app_only.svc))
    r = requests.post(app_only.url + "/api/v1/calls", json={"calls": [
        {"time": clock.now() - 5, "caller": unit, "provider": "gongan", "interface": "identity",
         "catalog": cat, "result": "ok", "latency_ms": 42},
        {"time": "2026-05-28T20:26:00Z", "caller": unit, "interface": "identity",
         "catalog": cat, "result": "error", "latency_ms": 3000.4}]})
    assert r.status_code == 200 and r.json() == {"accepted": 2, "rejected": []}
    a, b = _stream(app_only.svc)
    assert (a.caller, a.catalog, a.ok, a.latency_ms) == (unit, cat, True, 42)
    assert (b.provider, b.ok, b.latency_ms) == ("gongan", False, 3000)


def test_bad_calls_are_rejected_by_index_and_the_good_ones_kept(app_only, clock):
    cat, unit = _approved(registry(app_only.svc))
    good = {"time": clock.now(), "caller": unit, "interface": "identity", "catalog": cat,
            "result": "ok", "latency_ms": 5}
    r = requests.post(app_only.url + "/api/v1/calls", json=[
        good, good | {"catalog": "nope"}, good | {"result": "maybe"},
        good | {"latency_ms": -3}, good | {"time": clock.now() + 3600}, "x"])
    assert r.status_code == 200
    assert r.json()["rejected"] == [
        {"index": 1, "reason": "unknown catalog: nope"},
        {"index": 2, "reason": "result must be ok or error"},
        {"index": 3, "reason": "latency_ms must be between 0 and 10,000,000"},
        {"index": 4, "reason": "future timestamp: 3600 s ahead"},
        {"index": 5, "reason": "call must be an object"}]
    assert len(_stream(app_only.svc)) == 1


def test_a_violation_is_accepted_it_is_the_auditors_job_to_flag_it(app_only, clock):
    reg = registry(app_only.svc)
    secret = next(c for c in reg.catalogs.values() if c.sharing == NOT_SHARED and c.interfaces)
    r = requests.post(app_only.url + "/api/v1/calls", json=[
        {"time": clock.now(), "caller": "minzheng", "interface": secret.interfaces[0],
         "catalog": secret.id, "result": "ok", "latency_ms": 5}])
    assert r.json()["accepted"] == 1


@pytest.mark.parametrize("body,status", [({"calls": "all"}, 400), ([], 400),
                                         ([{}] * 5001, 413)])
def test_malformed_batches_are_4xx(app_only, body, status):
    assert requests.post(app_only.url + "/api/v1/calls", json=body).status_code == status


def test_a_gateway_key_is_required_once_configured(svc):
    from tests.conftest import LiveApp

    svc.settings = dataclasses.replace(svc.settings, exchange_gateway_keys="gw-key")
    app = LiveApp(svc, consumers=False)
    try:
        r = requests.post(app.url + "/api/v1/calls", json=[])
        assert r.status_code == 401
        r = requests.post(app.url + "/api/v1/calls", json=[], headers={"X-Api-Key": "gw-key"})
        assert r.status_code == 400  # past the key check: an empty batch
    finally:
        app.close()


def test_the_simulated_gateway_sends_its_key_once_one_is_configured(svc, clock):
    import requests as http

    from streams.sim_calls import call_actor
    from tests.conftest import LiveApp

    svc.settings = dataclasses.replace(svc.settings, exchange_gateway_keys="gw-1, gw-2",
                                       sim_calls_per_day=200000)
    actor = call_actor(svc)
    actor.step(clock.now() - 600)
    posts = actor.step(clock.now())
    app = LiveApp(svc, consumers=False)
    try:
        answers = [http.post(app.url + p.path, json=p.body, headers=p.headers) for p in posts]
    finally:
        app.close()
    assert posts and {a.status_code for a in answers} == {200}
    assert sum(a.json()["accepted"] for a in answers) == len(actor.calls)


def test_call_ingest_answers_503_when_redis_is_down(settings, clock, tmp_path):
    from tests.conftest import LiveApp

    server = EmbeddedRedis(tmp_path / "r")
    server.start()
    import redis

    client = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    svc = build_services(settings, clock=clock, r=client)
    cat, unit = _approved(registry(svc))
    app = LiveApp(svc, consumers=False)
    try:
        server.stop()
        r = requests.post(app.url + "/api/v1/calls", json=[
            {"time": clock.now(), "caller": unit, "interface": "identity", "catalog": cat,
             "result": "ok", "latency_ms": 5}])
        assert r.status_code == 503 and "retry" in r.json()["error"]
        r = requests.get(app.url + "/api/v1/exchange/summary")
        assert r.status_code == 503 and "retry" in r.json()["error"]
    finally:
        app.close()
        server.stop()


# ---- approvals ---------------------------------------------------------------------------------
def _conditional_outsider(reg):
    cat, _ = _approved(reg)
    unit = next(u for u in ("wangxin", "tiyu", "fulian") if (cat, u) not in reg.approvals)
    return cat, unit


def test_an_administrator_grants_an_approval(app_only, clock):
    cat, unit = _conditional_outsider(registry(app_only.svc))
    r = requests.post(app_only.url + "/api/v1/approvals", headers={"X-Api-Key": ADMIN},
                      json={"catalog": cat, "unit": unit, "until": "2026-12-31", "by": "张科长"})
    assert r.status_code == 201
    body = r.json()
    assert (body["catalog"], body["unit"], body["since"], body["by"], body["source"]) == (
        cat, unit, clock.now(), "张科长", "api")
    assert body["until"] == 1798732800.0  # 2027-01-01 00:00 in Tianjin: the 31st is included
    listed = requests.get(app_only.url + "/api/v1/approvals", params={"unit": unit}).json()
    assert [(a["catalog"], a["source"]) for a in listed] == [(cat, "api")]


@pytest.mark.parametrize("headers,status", [({}, 401), ({"X-Api-Key": "guess"}, 403)])
def test_approvals_need_an_admin_key(app_only, headers, status):
    cat, unit = _conditional_outsider(registry(app_only.svc))
    r = requests.post(app_only.url + "/api/v1/approvals", headers=headers,
                      json={"catalog": cat, "unit": unit})
    assert r.status_code == status
    assert app_only.svc.r.hlen(app_only.svc.keys.exchange_approvals()) == 0


def test_without_configured_admin_keys_nobody_grants(svc):
    from tests.conftest import LiveApp

    app = LiveApp(svc, consumers=False)
    try:
        r = requests.post(app.url + "/api/v1/approvals", headers={"X-Api-Key": ""},
                          json={"catalog": "gongan-001", "unit": "wangxin"})
        assert r.status_code == 403 and "EXCHANGE_ADMIN_KEYS" in r.json()["error"]
    finally:
        app.close()


def test_only_conditional_catalogs_of_other_units_can_be_approved(app_only):
    reg = registry(app_only.svc)
    free = next(c.id for c in reg.catalogs.values() if c.sharing == UNCONDITIONAL)
    for body, reason in (({"catalog": free, "unit": "wangxin"}, "unconditional"),
                         ({"catalog": "gongan-001", "unit": "gongan"}, "owns"),
                         ({"catalog": "gongan-001", "unit": "ghost"}, "unknown unit"),
                         ({"catalog": "gongan-001", "unit": "wangxin", "since": "2026-06-01",
                           "until": "2026-05-01"}, "until must be after since")):
        r = requests.post(app_only.url + "/api/v1/approvals", headers={"X-Api-Key": ADMIN},
                          json=body)
        assert r.status_code == 400 and reason in r.json()["error"]


def test_a_granted_approval_clears_later_calls_of_the_consumer(live_app, clock):
    svc = live_app.svc
    svc.settings = dataclasses.replace(svc.settings, exchange_admin_keys=ADMIN)
    cat, unit = _conditional_outsider(registry(svc))
    r = requests.post(live_app.url + "/api/v1/approvals", headers={"X-Api-Key": ADMIN},
                      json={"catalog": cat, "unit": unit, "since": clock.now() - 60})
    assert r.status_code == 201
    call = {"caller": unit, "interface": "identity", "catalog": cat, "result": "ok",
            "latency_ms": 9}
    requests.post(live_app.url + "/api/v1/calls", json=[call | {"time": clock.now() - 120},
                                                         call | {"time": clock.now() - 30}])
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = requests.get(live_app.url + "/api/v1/exchange/summary").json()
        if s["totals"]["calls_total"] == 2:
            break
        time.sleep(0.05)
    assert (s["totals"]["calls_total"], s["totals"]["violations_total"]) == (2, 1)


def test_json_integers_beyond_any_float_are_rejected_with_a_reason(app_only, clock):
    cat, unit = _approved(registry(app_only.svc))
    huge = "1" + "0" * 400
    body = (f'[{{"time": {huge}, "caller": "{unit}", "interface": "identity", "catalog": "{cat}",'
            f' "result": "ok", "latency_ms": 5}}, {{"time": {int(clock.now())}, "caller": '
            f'"{unit}", "interface": "identity", "catalog": "{cat}", "result": "ok", '
            f'"latency_ms": {huge}}}]')
    r = requests.post(app_only.url + "/api/v1/calls", data=body,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["rejected"] == [
        {"index": 0, "reason": "timestamp is not finite"},
        {"index": 1, "reason": "latency_ms must be between 0 and 10,000,000"}]
