"""Faults against real processes: a consumer killed mid-batch, Redis restarted under load, Redis
down at ingest, a poison message in each stream.  Nothing accepted is lost or counted twice."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis
import requests
from scale_helpers import (
    VALID_ENTRY,
    app_env,
    call_item,
    fix_item,
    report_form,
    spawn,
    stop,
    streams_of,
    wait_for,
    wait_http,
)

from dashboard import queries
from dashboard.clock import Clock
from dashboard.keys import logical_streams
from dashboard.redis_server import EmbeddedRedis, free_port
from dashboard.services import build_services
from streams.call_records import call_to_fields, parse_call_item
from streams.fixes import fix_to_fields, parse_position
from streams.gps_state import unpack_track
from streams.reports import Report, append_report, report_from_fields

pytestmark = pytest.mark.timeout(180)

N_WORKERS, N_FIXES, N_REPORTS, N_CALLS = 40, 50, 300, 2000


def _live(svc):
    """Return services on the same Redis with the real clock (child processes use it too)."""
    return build_services(svc.settings, clock=Clock(), r=svc.r)


def _pending_of(svc, consumer: str) -> int:
    n = 0
    for name, physical in logical_streams(svc.keys).items():
        for s in physical:
            try:
                summary = svc.r.xpending(s, svc.keys.group(name))
            except redis.ResponseError:
                continue
            n += sum(c["pending"] for c in summary["consumers"] if c["name"] == consumer.encode())
    return n


def _all_processed(svc) -> bool:
    now = queries.server_time(svc.r)
    for name, physical in logical_streams(svc.keys).items():
        for s in physical:
            lag = queries.stream_lag(svc.r, s, svc.keys.group(name), now)
            if lag["pending"] or lag["lag_s"]:
                return False
    return True


def _load(svc) -> dict:
    now = time.time()
    workers = [w.id for w in svc.district.workers[:N_WORKERS]]
    pipe = svc.r.pipeline(transaction=False)
    days: set[str] = set()
    for k in range(N_FIXES):
        for w in workers:
            fix = parse_position(fix_item(svc, w, now - 100 + k, k))
            days.add(svc.days.day(fix.ts))
            pipe.xadd(svc.keys.gps_stream(svc.keys.gps_shard(w)), fix_to_fields(fix))
    for i in range(N_CALLS):
        pipe.xadd(svc.keys.calls_stream(),
                  call_to_fields(parse_call_item(call_item(svc, now - 30 + i / 100, i))))
    pipe.execute()
    for i in range(N_REPORTS):
        w = svc.district.workers[i % len(svc.district.workers)]
        entry = report_from_fields({b"r": VALID_ENTRY["events"](svc, i)[1]["r"]})
        append_report(svc, Report(id=f"K{i:05d}", item="CG006", lat=entry.lat, lon=entry.lon,
                                  worker=w.id, at=now - 60))
    return {"workers": workers, "days": days}


def test_a_consumer_killed_mid_batch_loses_nothing_and_counts_nothing_twice(svc, tmp_path):
    svc = _live(svc)
    env = app_env(svc.settings, CONSUMER_BATCH="100", CLAIM_IDLE_MS="500")
    load = _load(svc)
    a = spawn(["consume", "gps", "events", "calls", "--name", "A"], env, str(tmp_path / "a.log"))
    try:
        wait_for(lambda: _pending_of(svc, "A") > 0, 60, "consumer A holding entries")
        os.killpg(a.pid, signal.SIGKILL)
        a.wait(10)
        left = _pending_of(svc, "A")
        assert left > 0  # killed in the middle of a batch: read, not acknowledged
        b = spawn(["consume", "gps", "events", "calls", "--name", "B"], env,
                  str(tmp_path / "b.log"))
        try:
            wait_for(lambda: _pending_of(svc, "A") == 0 and _all_processed(svc), 90,
                     "B to claim A's entries and process everything")
        finally:
            stop(b)
    finally:
        stop(a)
    points = 0
    for w in load["workers"]:
        for day in load["days"]:
            raw = svc.r.get(svc.keys.gps_track(svc.keys.gps_shard(w), day, w))
            points += len(unpack_track(raw or b""))
    assert points == N_WORKERS * N_FIXES  # every fix in its track exactly once
    assert svc.r.zcard(svc.keys.cases_all()) == N_REPORTS
    month = {svc.days.day(time.time() - 60)[:6]}
    assert sum(int(svc.r.hget(svc.keys.cases_stats(m), "rep") or 0) for m in month) == N_REPORTS
    assert int(svc.r.hget(svc.keys.calls_total("n"), "n")) == N_CALLS
    assert all(svc.r.xlen(svc.keys.deadletter(n)) == 0 for n in logical_streams(svc.keys))


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test only (it gets restarted)."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def test_a_redis_restart_loses_no_report_transition_or_reminder(svc, own_redis, tmp_path, page):
    import dataclasses

    from dashboard import apikeys
    from streams.cases import CaseStore

    s = dataclasses.replace(svc.settings, redis_url=own_redis.url,
                            open311_api_keys="restart-key")
    r = redis.Redis.from_url(own_redis.url, socket_timeout=2, socket_connect_timeout=2)
    live = build_services(s, clock=Clock(), r=r)
    port = free_port()
    env = app_env(s, PORT=str(port), CASE_REMIND_INTERVAL_S="1")
    procs = [spawn(["web"], env, str(tmp_path / "web.log")),
             spawn(["consume", "all"], env, str(tmp_path / "consume.log"))]
    url = f"http://127.0.0.1:{port}"
    store = CaseStore(live)
    try:
        wait_http(url + "/api/v1/health", 60)
        page.goto(url + "/")
        page.wait_for_selector("#gw-conn.gw-conn-ok", timeout=30000)
        ids = []
        for w in live.district.workers[:12]:
            resp = requests.post(url + "/open311/v2/requests.json", data=report_form(live, w.id))
            assert resp.status_code == 200
            ids.append(resp.json()[0]["service_request_id"])
        cases = wait_for(lambda: (lambda cs: cs if all(cs) else None)(store.get_many(ids)), 20,
                         "every report dispatched")
        first = cases[0]
        key = apikeys.create(live, "dept", "dept", first.dept)
        hdr = {"Authorization": f"Bearer {key}"}
        assert requests.post(f"{url}/api/v1/cases/{first.id}/accept", headers=hdr).ok
        wait_for(lambda: r.xlen(live.keys.reminders_stream()) >= 3, 20, "reminders sent")
        own_redis.stop()  # SIGTERM: Redis writes its AOF and exits
        reminders = None
        try:
            for path, kw in (("/osmand", {"params": {"id": "W0001", "lat": "39.1",
                                                      "lon": "117.2", "timestamp": "1"}}),
                             ("/open311/v2/requests.json",
                              {"data": report_form(live, live.district.workers[0].id)})):
                resp = requests.request("POST", url + path, timeout=15, **kw)
                assert resp.status_code == 503, (path, resp.status_code)
            page.wait_for_selector("#gw-conn.gw-conn-wait", timeout=15000)
        finally:
            own_redis.start()
        reminders = {e[0] for e in r.xrange(live.keys.reminders_stream())}
        assert store.get(first.id).state == "accepted"
        assert all(store.get_many(ids))
        page.wait_for_selector("#gw-conn.gw-conn-ok", timeout=30000)  # the wall is live again
        after = requests.post(url + "/open311/v2/requests.json",
                              data=report_form(live, live.district.workers[20].id))
        assert after.status_code == 200
        new_id = after.json()[0]["service_request_id"]
        wait_for(lambda: store.get(new_id), 30, "the consumers to reconnect and dispatch")
        wait_for(lambda: len({e[0] for e in r.xrange(live.keys.reminders_stream())}
                             - reminders) > 0, 30, "reminders to go on")
        assert reminders <= {e[0] for e in r.xrange(live.keys.reminders_stream())}
        assert requests.get(url + "/api/v1/health").status_code == 200
        assert page.errors == []
    finally:
        for p in procs:
            stop(p)
        for log in ("web.log", "consume.log"):  # shown by pytest when the test fails
            print(f"---- {log}\n" + (tmp_path / log).read_text(errors="replace")[-3000:])


def test_every_ingest_endpoint_answers_503_with_a_reason_when_redis_is_down(svc, own_redis):
    import dataclasses

    from tests.conftest import LiveApp

    s = dataclasses.replace(svc.settings, redis_url=own_redis.url, open311_api_keys="k")
    r = redis.Redis.from_url(own_redis.url, socket_timeout=1, socket_connect_timeout=1)
    live = build_services(s, clock=svc.clock, r=r)
    app = LiveApp(live, consumers=False)
    w = live.district.workers[0].id
    now = svc.clock.now()
    requests_ = [
        ("GET", "/osmand", {"params": {"id": w, "lat": "39.13", "lon": "117.26",
                                       "timestamp": str(now)}}),
        ("POST", "/osmand", {"data": {"id": w, "lat": "39.13", "lon": "117.26",
                                      "timestamp": str(now)}}),
        ("POST", "/api/v1/positions", {"json": [fix_item(live, w, now - 5)]}),
        ("POST", "/open311/v2/requests.json", {"data": report_form(live, w)}),
        ("POST", "/api/v1/calls", {"json": [call_item(live, now - 5)]}),
    ]
    try:
        own_redis.stop()
        for method, path, kw in requests_:
            resp = requests.request(method, app.url + path, timeout=15, **kw)
            assert resp.status_code == 503, (path, resp.status_code, resp.text)
            assert "retry" in resp.text, path
    finally:
        app.close()


def test_a_poison_message_in_each_stream_is_dead_lettered_and_the_consumer_goes_on(svc,
                                                                                    tmp_path):
    svc = _live(svc)
    names = streams_of(svc)
    env = app_env(svc.settings)
    proc = spawn(["consume", "all", "--name", "P"], env, str(tmp_path / "p.log"))
    try:
        good = {}
        for i, name in enumerate(names):
            stream = logical_streams(svc.keys)[name][0]
            svc.r.xadd(stream, {b"\xff\xfe": b"\x00<script>alert(1)</script>" * 50})
            svc.r.xadd(stream, {"x": "1e309", "la": "NaN", "t": "inf"})
            phys, fields = VALID_ENTRY[name](svc, i)
            good[name] = (phys, svc.r.xadd(phys, fields))
        def dead_lettered() -> dict | None:
            h = queries.health(svc)[0]
            return h if all(h["streams"][n]["deadletters"] == 2 for n in names) else None

        health = wait_for(dead_lettered, 60, "two dead letters in each stream")
        wait_for(lambda: _all_processed(svc), 30, "the consumer to go on past the poison")
        for name in names:
            reasons = health["streams"][name]["deadletter_reasons"]
            assert sum(reasons.values()) == 2 and all(reasons), (name, reasons)
        panel = queries.rejections(svc)  # what the wall's health panel shows
        assert all(sum(n for _r, n in rows) == 2 for rows in panel.values()), panel
        assert proc.poll() is None  # still running
        from streams import deadletters

        letters = deadletters.listing(svc)
        assert len(letters) == 2 * len(names)
        assert deadletters.replay(svc, letters)["replayed"] == 2 * len(names)
        wait_for(lambda: len(deadletters.listing(svc)) == 2 * len(names), 30,
                 "the still-bad entries back in the dead letters")
        assert proc.poll() is None
    finally:
        stop(proc)


def test_two_gps_consumers_on_one_shard_neither_lose_nor_double_count_a_fix(svc):
    from streams.consumer import Consumer
    from streams.gps import GpsHandler

    def consumer(name):
        h = GpsHandler(svc.r, svc.keys, svc.settings, svc.district, svc.locator, svc.clock)
        return Consumer(svc.r, svc.keys, h, name=name, clock=svc.clock)

    a, b = consumer("a"), consumer("b")
    a.ensure_groups()
    w, stream = "W0001", svc.keys.gps_stream(0)
    t = svc.clock.now() - 100
    for k in range(2):
        svc.r.xadd(stream, fix_to_fields(parse_position(fix_item(svc, w, t + 10 * k, k))))
    [(_, held)] = svc.r.xreadgroup(a.group, "a", {stream: ">"}, count=1)  # a holds the older fix
    b.drain()  # b applies the newer one meanwhile
    a.process(stream, held)
    track = unpack_track(svc.r.get(svc.keys.gps_track(0, svc.days.day(t), w)) or b"")
    dead = svc.r.xlen(svc.keys.deadletter("gps"))
    assert len(track) + dead == 2  # each fix either in the track or refused with a reason


def test_a_wall_that_waited_out_a_long_redis_outage_goes_live_again(svc, own_redis, page):
    import dataclasses

    from tests.conftest import LiveApp

    s = dataclasses.replace(svc.settings, redis_url=own_redis.url)
    r = redis.Redis.from_url(own_redis.url, socket_timeout=1, socket_connect_timeout=1)
    app = LiveApp(build_services(s, clock=svc.clock, r=r), consumers=False)
    try:
        page.goto(app.url + "/")
        page.wait_for_selector("#gw-conn.gw-conn-ok", timeout=30000)
        own_redis.stop()
        page.wait_for_selector("#gw-conn.gw-conn-wait", timeout=15000)
        time.sleep(12)  # longer than the server holds a connection before refusing it
        own_redis.start()
        page.wait_for_selector("#gw-conn.gw-conn-ok", timeout=30000)
    finally:
        app.close()
