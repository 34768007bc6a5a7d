"""Prometheus metrics at /metrics: ingest, lag, dead letters, reminders, overdue, push clients."""

from __future__ import annotations

import pytest
import requests
import socketio
from prometheus_client.parser import text_string_to_metric_families
from scale_helpers import call_item, fix_item, report_form, wait_for

from dashboard.keys import logical_streams


def _scrape(url: str) -> dict[tuple[str, tuple], float]:
    resp = requests.get(url + "/metrics")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(resp.text) for s in fam.samples}


@pytest.fixture
def app(svc):
    import dataclasses

    from dashboard.services import build_services
    from tests.conftest import LiveApp

    s = dataclasses.replace(svc.settings, open311_api_keys="metrics-key")
    live = LiveApp(build_services(s, clock=svc.clock, r=svc.r))
    yield live
    live.close()


def test_every_stream_has_ingest_lag_length_and_dead_letter_metrics(app):
    m = _scrape(app.url)
    assert m[("gridwall_redis_up", ())] == 1
    for name in logical_streams(app.svc.keys):
        group = app.svc.keys.group(name)
        assert ("gridwall_ingested_total", (("stream", name),)) in m
        assert ("gridwall_ingest_rate", (("stream", name),)) in m
        assert m[("gridwall_consumer_lag_seconds", (("group", group), ("stream", name)))] >= 0
        assert ("gridwall_consumer_pending", (("group", group), ("stream", name))) in m
        assert ("gridwall_deadletters_waiting", (("stream", name),)) in m
    assert m[("gridwall_redis_memory_bytes", ())] > 0


def test_ingest_is_counted_per_stream_as_stored(app, clock):
    svc = app.svc
    w = svc.district.workers[0].id
    batch = [fix_item(svc, w, clock.now() - 30 + k, k) for k in range(3)] + [{"id": "NOBODY"}]
    assert requests.post(app.url + "/api/v1/positions", json=batch).json()["accepted"] == 3
    assert requests.get(app.url + "/osmand", params={"id": "NOBODY"}).status_code == 400
    assert requests.post(app.url + "/open311/v2/requests.json",
                         data=report_form(svc, w)).status_code == 200
    calls = [call_item(svc, clock.now() - 5, k) for k in range(4)]
    assert requests.post(app.url + "/api/v1/calls", json=calls).status_code == 200
    m = _scrape(app.url)
    got = {s: m[("gridwall_ingested_total", (("stream", s),))] for s in ("gps", "events", "calls")}
    assert got == {"gps": 3, "events": 1, "calls": 4}
    wait_for(lambda: _scrape(app.url)[("gridwall_gps_fixes_total", (("result", "accepted"),))]
             == 3, 10, "3 accepted fixes")


def test_dead_letters_reminders_overdue_and_open_cases_are_reported(app, clock):
    from dashboard.reminders import ReminderEngine

    svc = app.svc
    svc.r.xadd(svc.keys.gps_stream(0), {"w": "NOBODY", "t": "1", "la": "39.1", "lo": "117.2"})
    w = svc.district.workers[0].id
    requests.post(app.url + "/open311/v2/requests.json", data=report_form(svc, w))
    wait_for(lambda: svc.r.zcard(svc.keys.cases_open()) == 1, 10, "one open case")
    clock.advance(30 * 86400)  # far past any deadline
    sent = ReminderEngine(svc).tick()
    m = wait_for(lambda: (lambda m: m if m.get(
        ("gridwall_deadletters_total", (("reason", "unknown worker"), ("stream", "gps")))) == 1
        else None)(_scrape(app.url)), 10, "the dead letter")
    assert m[("gridwall_reminders_sent_total", ())] == len(sent) > 0
    assert m[("gridwall_cases", (("state", "open"),))] == 1
    assert m[("gridwall_cases", (("state", "overdue"),))] == 1


def test_push_clients_are_counted(app):
    client = socketio.Client(reconnection=False)
    client.connect(app.url, transports=["websocket"], wait_timeout=10)
    try:
        wait_for(lambda: _scrape(app.url)[("gridwall_push_clients", ())] == 1, 10,
                 "one push client")
    finally:
        client.disconnect()


def test_metrics_answer_with_redis_down(settings, clock, tmp_path):
    import redis

    from dashboard.redis_server import EmbeddedRedis
    from dashboard.services import build_services
    from tests.conftest import LiveApp

    server = EmbeddedRedis(tmp_path / "r")
    server.start()
    client = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
    app = LiveApp(build_services(settings, clock=clock, r=client), consumers=False)
    try:
        server.stop()
        assert _scrape(app.url) == {("gridwall_redis_up", ()): 0}
    finally:
        app.close()
