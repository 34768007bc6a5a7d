"""HTTP ingest over real HTTP: OsmAnd query, form and Traccar JSON, the batch API, 4xx, 503."""

from __future__ import annotations

import json
import time

import pytest
import requests

from dashboard.redis_server import EmbeddedRedis
from dashboard.services import build_services
from streams.fixes import fix_from_fields


def _entries(svc):
    return [fix_from_fields(f) for _id, f in svc.r.xrange(svc.keys.gps_stream(0))]


@pytest.fixture
def app_only(svc):
    """The app over HTTP without consumers, so the stream can be inspected."""
    from tests.conftest import LiveApp

    app = LiveApp(svc, consumers=False)
    yield app
    app.close()


def test_osmand_get_query_is_appended_to_the_gps_stream(app_only):
    r = requests.get(
        app_only.url + "/osmand",
        params={
            "id": "W0001",
            "lat": "39.13",
            "lon": "117.26",
            "timestamp": "1779999990",
            "speed": "1",
            "batt": "88",
        },
    )
    assert r.status_code == 200
    [fix] = _entries(app_only.svc)
    assert (fix.worker, fix.lat, fix.ts, fix.battery) == ("W0001", 39.13, 1779999990.0, 88.0)


def test_osmand_post_form_is_accepted(app_only):
    r = requests.post(
        app_only.url + "/osmand",
        data={
            "deviceid": "W0002",
            "lat": "39.13",
            "lon": "117.26",
            "timestamp": "2026-05-28T20:26:00Z",
        },
    )
    assert r.status_code == 200
    assert _entries(app_only.svc)[0].worker == "W0002"


def test_traccar_client_json_is_accepted(app_only):
    r = requests.post(
        app_only.url + "/osmand",
        json={
            "device_id": "W0003",
            "location": {
                "timestamp": "2026-05-28T20:26:30Z",
                "coords": {"latitude": 39.13, "longitude": 117.26, "speed": 1.1, "accuracy": 6},
                "battery": {"level": 0.5},
            },
        },
    )
    assert r.status_code == 200
    fix = _entries(app_only.svc)[0]
    assert (fix.worker, fix.speed, fix.battery) == ("W0003", 1.1, 50.0)


@pytest.mark.parametrize(
    "params,reason",
    [
        ({"id": "W0001", "lat": "x", "lon": "117", "timestamp": "1"}, "lat is not a number: 'x'"),
        ({"id": "W0001", "lat": "39", "lon": "117"}, "missing timestamp"),
        ({"id": "GHOST", "lat": "39", "lon": "117", "timestamp": "1"}, "unknown device id: GHOST"),
        ({"lat": "39", "lon": "117", "timestamp": "1"}, "missing device id"),
    ],
)
def test_malformed_osmand_requests_get_400_with_the_reason_and_store_nothing(
    app_only, params, reason
):
    r = requests.get(app_only.url + "/osmand", params=params)
    assert r.status_code == 400 and r.json() == {"error": reason}
    assert _entries(app_only.svc) == []


def test_an_oversized_osmand_form_gets_413_and_stores_nothing(app_only):
    form = {"id": "W0001", "lat": "39.13", "lon": "117.26", "timestamp": "1", "pad": "x" * 70000}
    r = requests.post(app_only.url + "/osmand", data=form)
    assert r.status_code == 413 and r.json() == {"error": "form too large"}
    assert _entries(app_only.svc) == []


def test_a_chunked_osmand_form_is_accepted_too(app_only):
    now = int(app_only.svc.clock.now())
    body = f"id=W0001&lat=39.13&lon=117.26&timestamp={now}".encode()
    r = requests.post(app_only.url + "/osmand", data=iter([body]),  # no Content-Length
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert len(_entries(app_only.svc)) == 1


def test_a_repeated_osmand_parameter_counts_with_its_first_value(app_only):
    now = int(app_only.svc.clock.now())
    r = requests.get(app_only.url + f"/osmand?id=W0001&lat=39.13&lat=north&lon=117.26"
                                    f"&timestamp={now}")
    assert r.status_code == 200
    assert len(_entries(app_only.svc)) == 1


def test_invalid_json_gets_400(app_only):
    r = requests.post(
        app_only.url + "/osmand", data="{nope", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and "JSON" in r.json()["error"]


def test_a_batch_stores_the_good_positions_and_reports_the_bad(app_only):
    r = requests.post(
        app_only.url + "/api/v1/positions",
        json={
            "positions": [
                {"id": "W0001", "timestamp": 1779999990, "lat": 39.13, "lon": 117.26},
                {"id": "W0002", "timestamp": 1779999990, "lat": 999, "lon": 117.26},
                {"id": "W0003", "timestamp": 1779999991, "lat": 39.14, "lon": 117.27, "speed": 1.2},
            ]
        },
    )
    assert r.status_code == 200
    assert r.json() == {"accepted": 2, "rejected": [{"index": 1, "reason": "lat/lon out of range"}]}
    assert [f.worker for f in _entries(app_only.svc)] == ["W0001", "W0003"]


def test_a_batch_keeps_its_order_whether_an_item_is_plain_or_needs_the_full_parser(app_only):
    items = [
        {"id": "W0001", "timestamp": 1779999990, "lat": 39.13, "lon": 117.26},
        {"id": "W0002", "timestamp": "2026-05-28T20:26:30Z", "lat": "39.14", "lon": "117.27"},
        {"id": "W0003", "timestamp": 1779999991, "lat": float("nan"), "lon": 117.27},
        {"device_id": "W0004", "timestamp": 1779999992, "lat": 39.15, "lon": 117.28},
        {"id": "W0005", "timestamp": 1779999993, "lat": 39.16, "lon": 117.29, "batt": 55},
    ]
    body = json.dumps({"positions": items})  # json, not requests: NaN must reach the server
    r = requests.post(app_only.url + "/api/v1/positions", data=body,
                      headers={"Content-Type": "application/json"})
    assert r.json() == {"accepted": 4, "rejected": [{"index": 2, "reason": "lat is not finite"}]}
    stored = _entries(app_only.svc)
    assert [f.worker for f in stored] == ["W0001", "W0002", "W0004", "W0005"]
    assert (stored[1].lat, stored[1].ts, stored[3].battery) == (39.14, 1779999990.0, 55.0)


def test_a_batch_lands_in_each_workers_shard_in_order(svc, clock):
    import dataclasses

    from streams.fixes import make_fix
    from streams.ingest import append_fixes

    sharded = build_services(dataclasses.replace(svc.settings, gps_shards=3), clock=clock,
                             r=svc.r)
    fixes = [make_fix(w.id, 1780000000 + k, 39.1, 117.3)
             for k, w in enumerate(svc.district.workers[:30])]
    append_fixes(sharded, fixes)
    for shard in range(3):
        stored = [fix_from_fields(f) for _, f in svc.r.xrange(sharded.keys.gps_stream(shard))]
        assert stored and stored == [f for f in fixes if sharded.keys.gps_shard(f.worker) == shard]


def test_a_batch_of_only_bad_positions_is_400(app_only):
    r = requests.post(app_only.url + "/api/v1/positions", json=[{"id": "W0001"}])
    assert r.status_code == 400 and r.json()["accepted"] == 0


def test_a_batch_that_is_not_a_list_is_400(app_only):
    r = requests.post(app_only.url + "/api/v1/positions", json={"id": "W0001"})
    assert r.status_code == 400


def test_ingest_answers_503_when_redis_is_down_and_never_200(settings, clock, tmp_path):
    from tests.conftest import LiveApp

    server = EmbeddedRedis(tmp_path / "r")
    server.start()
    import redis

    client = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    svc = build_services(settings, clock=clock, r=client)
    app = LiveApp(svc, consumers=False)
    try:
        server.stop()
        r = requests.get(
            app.url + "/osmand",
            params={"id": "W0001", "lat": "39.13", "lon": "117.26", "timestamp": "1"},
        )
        assert r.status_code == 503 and "retry" in r.json()["error"]
        h = requests.get(app.url + "/api/v1/health")
        assert h.status_code == 503 and h.json()["redis"] == "down"
    finally:
        app.close()
        server.stop()


def test_the_worker_api_reports_position_status_and_grid(live_app, clock):
    requests.get(
        live_app.url + "/osmand",
        params={"id": "W0001", "lat": "39.1376", "lon": "117.2585", "timestamp": clock.now()},
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        w = requests.get(live_app.url + "/api/v1/workers/W0001").json()
        if w["position"]:
            break
        time.sleep(0.05)
    assert w["position"]["lat"] == 39.1376 and w["status"] in ("idle", "outside")
    assert w["phone"].count("*") == 4 and w["name"]
    assert len(requests.get(live_app.url + "/api/v1/workers").json()) == 278
    assert requests.get(live_app.url + "/api/v1/workers/NOBODY").status_code == 404


def test_health_reports_redis_lag_and_dead_letters(live_app):
    h = requests.get(live_app.url + "/api/v1/health")
    assert h.status_code == 200
    body = h.json()
    assert body["redis"] == "up" and body["streams"]["gps"]["deadletters"] == 0


def test_a_json_integer_beyond_any_float_is_a_400_with_its_reason(app_only):
    body = ('{"positions": [{"id": "W0001", "timestamp": 1779999990, "lat": 1' + "0" * 400
            + ', "lon": 117.26}]}')
    r = requests.post(app_only.url + "/api/v1/positions", data=body,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["rejected"] == [{"index": 0, "reason": "lat is not finite"}]
