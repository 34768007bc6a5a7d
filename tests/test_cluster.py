"""The whole system on a real 3-master Redis Cluster: GPS and dispatch end to end, every panel,
housekeeping, and consumers started from the command line with a redis+cluster:// URL."""

from __future__ import annotations

import time

import pytest
import requests
import socketio
from scale_helpers import app_env, call_item, fix_item, report_form, spawn, stop, wait_for

from dashboard import apikeys
from dashboard.clock import Clock
from dashboard.keys import logical_streams
from dashboard.services import build_services
from streams.cases import CaseStore

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def cluster_app(cluster_svc):
    from tests.conftest import LiveApp

    app = LiveApp(cluster_svc)
    yield app
    app.close()


def _masters(svc) -> set[str]:
    """Return the nodes that hold the gps shard streams."""
    return {svc.r.get_node_from_key(s).name for s in svc.keys.gps_streams()}


def test_the_client_is_a_cluster_client_and_gps_shards_spread_over_masters(cluster_svc):
    from redis.cluster import RedisCluster

    assert isinstance(cluster_svc.r, RedisCluster)
    assert len(cluster_svc.r.get_primaries()) == 3
    assert len(_masters(cluster_svc)) >= 2


def test_gps_fixes_flow_from_http_to_read_models_and_the_wall_socket(cluster_app, clock):
    svc = cluster_app.svc
    sio = socketio.Client(reconnection=False)
    seen: set[str] = set()
    sio.on("gps", lambda m: seen.update(m["ids"]))
    sio.connect(cluster_app.url, transports=["websocket"], wait_timeout=10)
    try:
        workers = [w.id for w in svc.district.workers[:30]]
        assert len({svc.keys.gps_shard(w) for w in workers}) == 3
        t = clock.now() - 60
        batch = [fix_item(svc, w, t + k, k) for w in workers for k in range(3)]
        r = requests.post(cluster_app.url + "/api/v1/positions", json={"positions": batch})
        assert r.status_code == 200 and r.json()["accepted"] == 90
        assert requests.get(cluster_app.url + "/osmand", params={
            "id": workers[0], "lat": batch[0]["lat"], "lon": batch[0]["lon"],
            "timestamp": t + 10}).status_code == 200
        wait_for(lambda: seen >= set(workers), 15, "gps deltas of every worker on the socket")
        w0 = requests.get(f"{cluster_app.url}/api/v1/workers/{workers[0]}").json()
        assert w0["position"]["timestamp"] == t + 10
        day = svc.days.day(t)
        track = requests.get(f"{cluster_app.url}/api/v1/workers/{workers[1]}/track",
                             params={"day": day}).json()["points"]
        assert len(track) == 3
        assert int(svc.r.get(svc.keys.counter("gps.accepted"))) == 91
        health = requests.get(cluster_app.url + "/api/v1/health").json()
        assert health["redis"] == "up" and set(health["streams"]) == set(logical_streams(svc.keys))
    finally:
        sio.disconnect()


def test_reports_are_dispatched_linked_handled_and_reminded_on_the_cluster(cluster_app, clock):
    from dashboard.reminders import ReminderEngine

    svc = cluster_app.svc
    w = svc.district.workers[0].id
    url = cluster_app.url + "/open311/v2/requests.json"
    first = requests.post(url, data=report_form(svc, w, description="井盖缺失"))
    assert first.status_code == 200, first.text
    rid = first.json()[0]["service_request_id"]
    store = CaseStore(svc)
    case = wait_for(lambda: store.get(rid), 10, "the dispatched case")
    assert case.state == "dispatched" and case.dept
    second = requests.post(url, data=report_form(svc, w)).json()[0]["service_request_id"]
    assert wait_for(lambda: store.get(second), 10, "the linked case").linked_to == rid
    key = apikeys.create(svc, "dept system", "dept", case.dept)
    hdr = {"Authorization": f"Bearer {key}"}
    api = f"{cluster_app.url}/api/v1/cases/{rid}"
    assert requests.post(api + "/accept", headers=hdr).status_code == 200
    clock.advance(2 * svc.settings.case_remind_interval_s + 1)
    sent = ReminderEngine(svc).tick()
    assert {r.kind for r in sent} >= {"unhandled"}
    assert svc.r.xlen(svc.keys.reminders_stream()) == len(sent)
    assert requests.post(api + "/handle", headers=hdr, json={"note": "已修复"}).status_code == 200
    assert store.get(rid).state == "handled"
    got = requests.get(f"{cluster_app.url}/open311/v2/requests/{rid}.json").json()[0]
    assert got["service_request_id"] == rid


def test_interface_calls_are_counted_on_the_cluster(cluster_app, clock):
    svc = cluster_app.svc
    calls = [call_item(svc, clock.now() - 10, k) for k in range(20)]
    r = requests.post(cluster_app.url + "/api/v1/calls", json={"calls": calls})
    assert r.status_code == 200 and r.json()["accepted"] == 20
    wait_for(lambda: int(svc.r.hget(svc.keys.calls_total("n"), "n") or 0) == 20, 10,
             "20 counted calls")


def test_every_wall_panel_and_the_housekeeping_run_on_the_cluster(cluster_app, clock):
    """A panel reading keys of several slots in one command would fail here (CROSSSLOT)."""
    from streams.archive import Maintenance

    svc = cluster_app.svc
    relay = cluster_app.app.server.extensions["gridwall.relay"]
    for p in relay.periodic:
        p.producer(svc)
    Maintenance(svc).run_once(clock.now() + 5 * 86400)


def test_consumer_processes_started_from_the_cli_work_on_a_cluster_url(cluster_svc, tmp_path):
    svc = build_services(cluster_svc.settings, clock=Clock(), r=cluster_svc.r)
    env = app_env(svc.settings)
    procs = [spawn(["consume", "gps", "--name", f"c{i}"], env, str(tmp_path / f"c{i}.log"))
             for i in range(2)]
    try:
        workers = [w.id for w in svc.district.workers[:40]]
        now = time.time()
        from streams.fixes import fix_to_fields, parse_position

        for k in range(5):
            for w in workers:
                fix = parse_position(fix_item(svc, w, now - 20 + k, k))
                svc.r.xadd(svc.keys.gps_stream(svc.keys.gps_shard(w)), fix_to_fields(fix))
        wait_for(lambda: int(svc.r.get(svc.keys.counter("gps.accepted")) or 0) == 200, 30,
                 "200 fixes accepted by two consumer processes")
        wait_for(lambda: {b"gps/c0", b"gps/c1"} <= set(svc.r.hkeys(
            svc.keys.consumers_heartbeat())), 30, "both consumers' heartbeats")
    finally:
        for p in procs:
            stop(p)



def test_the_people_jobs_run_on_the_cluster(cluster_svc, clock):
    """Assessment, case sync and service rules: each script and MULTI stays in one slot."""
    from streams.people import PeopleJobs

    PeopleJobs(cluster_svc).run_once(clock.now())


def test_a_grid_edit_transaction_runs_on_the_cluster(cluster_svc):
    from test_grid_edit import junction, moved, nudge

    from dashboard import grid_edit as ge

    svc = cluster_svc
    v = junction(svc)
    out = ge.save(svc, moved(svc, v, nudge(v)), {}, by="boss")
    assert [h["version"] for h in ge.history(svc, out["grids"][0])][-1] == 1
    with pytest.raises(ge.EditError):  # the version check still holds on a cluster
        ge.save(svc, moved(svc, nudge(v), nudge(v, 20, 5)), {out["grids"][0]: 0}, by="b")
