"""Several web processes behind gunicorn on one port: every browser sees every update, whichever
worker it is connected to, and the panels survive the death of the worker that computes them."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import orjson
import pytest
import requests
import socketio
from scale_helpers import app_env, fix_item, spawn, stop, wait_for, wait_http

from dashboard.api import build_basemap_json
from dashboard.clock import Clock
from dashboard.keys import Keys
from dashboard.redis_server import free_port
from dashboard.services import build_services

pytestmark = pytest.mark.timeout(180)


def test_the_keys_of_several_web_processes_are_pinned():
    k = Keys("gw")
    assert k.push_leader() == "gw:{ops}:push:leader"
    assert k.web_processes() == "gw:{ops}:web"
    assert k.push_queue() == "gw:sio" and not k.push_queue().startswith(k.channel(""))


class Wall:
    """A browser-side socket.io client that records what it receives."""

    def __init__(self, url: str) -> None:
        self.gps: set[str] = set()
        self.kpis = 0
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2)
        self.sio.on("gps", self._gps)
        self.sio.on("kpi", self._kpi)
        self.sio.connect(url, transports=["websocket"], wait_timeout=10)

    def _gps(self, m: dict) -> None:
        with self.lock:
            self.gps.update(m["ids"])

    def _kpi(self, _m: dict) -> None:
        with self.lock:
            self.kpis += 1


def _processes(svc) -> dict[str, dict]:
    return {k.decode(): orjson.loads(v) for k, v in svc.r.hgetall(svc.keys.web_processes()).items()
            if time.time() - orjson.loads(v)["at"] < 10}


@pytest.fixture
def prod(svc, tmp_path):
    """gunicorn with two workers and a consumer process, on the test Redis and a real clock."""
    live = build_services(svc.settings, clock=Clock(), r=svc.r)
    port = free_port()
    env = app_env(svc.settings, PORT=str(port), WEB_WORKERS="2")
    procs = [spawn(["web"], env, str(tmp_path / "web.log")),
             spawn(["consume", "gps"], env, str(tmp_path / "consume.log"))]
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/api/v1/health", 60)
        yield live, url, procs
    finally:
        for p in procs:
            stop(p)


def _connect_on_both_workers(svc, url: str) -> list[Wall]:
    walls: list[Wall] = []
    for _ in range(30):  # gunicorn hands connections to whichever worker accepts first
        walls.append(Wall(url))
        if len(walls) >= 4:
            busy = wait_for(lambda: [p for p in _processes(svc).values() if p["clients"]]
                            if sum(p["clients"] for p in _processes(svc).values()) == len(walls)
                            else None, 10, "the web processes' client counts")
            if len(busy) >= 2:
                return walls
    raise AssertionError("every connection went to one worker")


def test_a_browser_on_any_worker_sees_every_update(prod):
    svc, url, _ = prod
    walls = _connect_on_both_workers(svc, url)
    try:
        workers = [w.id for w in svc.district.workers[:20]]
        now = time.time()
        body = {"positions": [fix_item(svc, w, now - 5, 0) for w in workers]}
        assert requests.post(url + "/api/v1/positions", json=body).json()["accepted"] == 20
        for wall in walls:
            wait_for(lambda wall=wall: wall.gps >= set(workers) and wall.kpis, 15,
                     "gps deltas and the kpi panel on every client")
        metrics = requests.get(url + "/metrics").text
        assert re.search(rf"^gridwall_push_clients {len(walls)}\.0$", metrics, re.M)
        leaders = [p for p in _processes(svc).values() if p["leader"]]
        assert len(leaders) == 1  # the panels are computed once, not once per worker
    finally:
        for wall in walls:
            wall.sio.disconnect()


def test_the_panels_go_on_when_the_worker_computing_them_dies(prod):
    svc, url, _ = prod
    walls = _connect_on_both_workers(svc, url)
    try:
        [leader] = [name for name, p in _processes(svc).items() if p["leader"]]
        os.kill(int(leader.rsplit("-", 1)[1]), signal.SIGKILL)  # gunicorn starts a new one
        time.sleep(1.0)
        alive = [w for w in walls if w.sio.connected]
        assert alive
        counts = [w.kpis for w in alive]
        wait_for(lambda: all(w.kpis >= c + 2 for w, c in zip(alive, counts, strict=True)), 20,
                 "panels on the surviving worker's clients")
        wait_for(lambda: [n for n, p in _processes(svc).items() if p["leader"] and n != leader],
                 20, "a new lease holder")
    finally:
        for wall in walls:
            wall.sio.disconnect()


def test_every_worker_serves_the_basemap_the_master_built_before_the_fork(prod):
    svc, url, _ = prod
    expected = orjson.loads(build_basemap_json(svc.district))
    served = [requests.get(url + "/api/v1/wall/basemap", timeout=10) for _ in range(8)]
    assert all(r.status_code == 200 and orjson.loads(r.content) == expected for r in served)
