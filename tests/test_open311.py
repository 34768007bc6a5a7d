"""Open311 GeoReport v2: services, intake with validation, request status, error arrays."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from case_helpers import JUNLIANG_GRID, WANXIN_GRID, app_client, dispatcher, point_in, worker_of

from dashboard import apikeys
from dashboard.reminders import ReminderEngine
from streams.cases import CaseStore


@pytest.fixture
def client(svc):
    return app_client(svc)


@pytest.fixture
def key(svc):
    return apikeys.create(svc, "worker app")


def post(client, key, svc, grid=WANXIN_GRID, **kw):
    lat, lon = point_in(svc, grid)
    form = {"api_key": key, "service_code": "CG006", "lat": lat, "long": lon,
            "description": "小区门口垃圾堆积", "device_id": worker_of(svc, grid)} | kw
    return client.post("/open311/v2/requests.json", data={k: v for k, v in form.items()
                                                           if v is not None})


def test_services_list_every_item_with_its_category_as_group(client):
    rows = client.get("/open311/v2/services.json").get_json()
    assert len(rows) >= 140
    row = next(r for r in rows if r["service_code"] == "CG043")
    assert row["service_name"] == "机动车违停人行道"
    assert row["group"] == "城管" and row["type"] == "realtime" and row["metadata"] is True
    assert {r["group"] for r in rows} == {"城管", "安全", "环保", "社会治安", "矛盾纠纷"}


def test_services_are_available_as_xml(client):
    resp = client.get("/open311/v2/services.xml")
    assert resp.mimetype == "text/xml"
    root = ET.fromstring(resp.data)
    assert root.tag == "services"
    assert root.find("service/service_code").text == "CG001"


def test_a_service_definition_offers_the_urgency_attribute(client):
    doc = client.get("/open311/v2/services/CG006.json").get_json()
    attr = doc["attributes"][0]
    assert (doc["service_code"], attr["code"], attr["datatype"]) == ("CG006", "urgency",
                                                                     "singlevaluelist")
    assert [v["key"] for v in attr["values"]] == ["urgent", "normal", "routine"]
    resp = client.get("/open311/v2/services/NOPE.json")
    assert resp.status_code == 404 and resp.get_json()[0]["code"] == 404


def test_a_valid_report_is_answered_with_its_id_and_enters_the_stream(client, key, svc):
    resp = post(client, key, svc)
    assert resp.status_code == 200
    body = resp.get_json()
    rid = body[0]["service_request_id"]
    assert rid.startswith("260529") and svc.r.xlen(svc.keys.events_stream()) == 1
    dispatcher(svc).drain()
    req = client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]
    assert req["status"] == "open"
    assert req["status_notes"].startswith("dispatched")
    assert req["agency_responsible"] == "万新街道办事处"
    assert req["requested_datetime"] == "2026-05-29T04:26:40+08:00"
    assert req["expected_datetime"] == "2026-05-30T04:26:40+08:00"
    assert req["service_code"] == "CG006" and req["address_id"] == WANXIN_GRID


@pytest.mark.parametrize("change,status,reason", [
    ({"api_key": None}, 403, "api_key"),
    ({"api_key": "gw_wrong"}, 403, "api_key"),
    ({"service_code": None}, 400, "service_code is required"),
    ({"service_code": "NOPE"}, 400, "not found"),
    ({"lat": None}, 400, "lat is required"),
    ({"long": "east"}, 400, "long is not a number"),
    ({"lat": "39.9", "long": "116.4"}, 400, "outside the district"),
    ({"device_id": None}, 400, "device_id is required"),
    ({"device_id": "X999"}, 400, "not a known worker"),
    ({"attribute[urgency]": "asap"}, 400, "attribute[urgency]"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
])
def test_invalid_reports_get_a_georeport_error_array_and_never_enter_the_stream(
        client, key, svc, change, status, reason):
    resp = post(client, key, svc, **change)
    assert resp.status_code == status
    err = resp.get_json()
    assert err[0]["code"] == status and reason in err[0]["description"]
    assert svc.r.exists(svc.keys.events_stream()) == 0


def test_errors_come_as_xml_from_xml_endpoints(client, svc):
    resp = client.post("/open311/v2/requests.xml", data={"service_code": "CG006"})
    assert resp.status_code == 403
    root = ET.fromstring(resp.data)
    assert root.tag == "errors" and root.find("error/code").text == "403"


def test_keys_from_the_environment_are_accepted(svc, settings):
    import dataclasses

    svc.settings = dataclasses.replace(settings, open311_api_keys="k-one, k-two")
    resp = post(app_client(svc), "k-two", svc)
    assert resp.status_code == 200


def test_a_non_ascii_key_is_refused_with_403_not_a_server_error(svc, settings):
    import dataclasses

    svc.settings = dataclasses.replace(settings, open311_api_keys="k-one")
    resp = post(app_client(svc), "钥匙", svc)
    assert resp.status_code == 403


def test_the_reporter_of_a_likely_duplicate_is_told_which_case(client, key, svc):
    first = post(client, key, svc).get_json()[0]["service_request_id"]
    dispatcher(svc).drain()
    resp = post(client, key, svc).get_json()[0]
    assert first in resp["service_notice"]
    dispatcher(svc).drain()
    req = client.get(f"/open311/v2/requests/{resp['service_request_id']}.json").get_json()[0]
    assert req["status_notes"].startswith(f"linked: 与案件 {first}")


def test_requests_can_be_searched_by_code_status_and_dates(client, key, svc):
    a = post(client, key, svc).get_json()[0]["service_request_id"]
    b = post(client, key, svc, grid=JUNLIANG_GRID, service_code="AQ001").get_json()[0][
        "service_request_id"]
    dispatcher(svc).drain()
    store = CaseStore(svc)
    store.act(b, "handle", "d", note="done")
    store.act(b, "verify", "w")
    store.act(b, "close", "s")

    def ids(**q):
        rows = client.get("/open311/v2/requests.json", query_string=q).get_json()
        return [r["service_request_id"] for r in rows]

    assert ids() == [b, a] or ids() == [a, b]
    assert ids(status="open") == [a]
    assert ids(status="closed") == [b]
    assert ids(service_code="AQ001") == [b]
    assert ids(service_request_id=f"{a},{b}") == [a, b]
    assert ids(start_date="2026-05-29T05:00:00+08:00", end_date="2026-05-29T06:00:00Z") == []
    assert ids(end_date="2026-05-29T05:00:00+08:00", start_date="2026-05-29T04:00:00+08:00")
    bad = client.get("/open311/v2/requests.json", query_string={"start_date": "yesterday"})
    assert bad.status_code == 400 and "ISO 8601" in bad.get_json()[0]["description"]


def test_an_overdue_case_stays_open_with_its_expected_datetime(client, key, svc):
    rid = post(client, key, svc).get_json()[0]["service_request_id"]
    dispatcher(svc).drain()
    svc.clock.advance(25 * 3600)
    ReminderEngine(svc).tick()
    req = client.get(f"/open311/v2/requests/{rid}.json").get_json()[0]
    assert req["status"] == "open" and req["expected_datetime"] < "2026-05-30T05"


def test_an_unknown_request_is_404(client):
    resp = client.get("/open311/v2/requests/000.json")
    assert resp.status_code == 404 and resp.get_json()[0]["code"] == 404
