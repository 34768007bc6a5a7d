"""Shared fixtures: a real redis-server, settings, services, a live app over HTTP, a browser."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import redis
import requests

from dashboard.clock import FakeClock
from dashboard.config import load_settings
from dashboard.redis_server import EmbeddedRedis, free_port
from dashboard.services import build_services

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
START = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC: Friday 29 May, 04:26 in Tianjin


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """Start one real redis-server (REDIS_URL overrides) for the whole session."""
    if os.environ.get("TEST_REDIS_URL"):
        yield type("External", (), {"url": os.environ["TEST_REDIS_URL"]})()
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server):
    """Return a client of the real server, flushed before and after the test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    try:
        client.flushall()
    except redis.ConnectionError:
        pass
    client.close()


@pytest.fixture
def clock():
    """Return a fake clock starting at a fixed time."""
    return FakeClock(START)


@pytest.fixture
def settings(redis_server, tmp_path):
    """Return test settings: the test server, a temporary data folder, quick timeouts."""
    return load_settings(
        {},
        redis_url=redis_server.url,
        data_dir=str(tmp_path / "var"),
        consumer_block_ms=50,
        push_interval_s=0.2,
        claim_idle_ms=1000,
        auth_required=False,  # access control has its own tests (auth_settings, auth_app)
    )


@pytest.fixture
def svc(settings, clock, redis_client):
    """Return services bound to the test Redis and the fake clock."""
    return build_services(settings, clock=clock, r=redis_client)


@pytest.fixture
def gps_consumer(svc):
    """Return a consumer of the gps stream bound to the test services."""
    from streams.consumer import Consumer
    from streams.gps import GpsHandler

    handler = GpsHandler(svc.r, svc.keys, svc.settings, svc.district, svc.locator, svc.clock)
    return Consumer(
        svc.r,
        svc.keys,
        handler,
        name="test-1",
        batch=500,
        block_ms=50,
        claim_idle_ms=1000,
        clock=svc.clock,
    )


class LiveApp:
    """A running Gridwall web app on a free loopback port, with its consumers in threads."""

    def __init__(self, svc, consumers: bool = True) -> None:
        from werkzeug.serving import make_server

        from app import create_app

        self.svc = svc
        self.app, self.socketio = create_app(svc.settings, services=svc)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, self.app.server, threaded=True)
        self.threads = [threading.Thread(target=self.server.serve_forever, daemon=True)]
        self.stop = threading.Event()
        if consumers:
            from streams.consumer import Consumer
            from streams.registry import handlers

            for h in handlers(svc).values():
                c = Consumer(
                    svc.r,
                    svc.keys,
                    h,
                    name=f"live-{h.name}",
                    batch=500,
                    block_ms=50,
                    claim_idle_ms=1000,
                    clock=svc.clock,
                    stop=self.stop,
                )
                self.threads.append(threading.Thread(target=c.run, daemon=True))
        for t in self.threads:
            t.start()
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/v1/health", timeout=1).status_code < 500:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("live app did not start")

    def close(self) -> None:
        """Stop consumers, the relay and the HTTP server."""
        self.stop.set()
        self.app.server.extensions["gridwall.relay"].stop.set()
        self.server.shutdown()


@pytest.fixture
def live_app(svc):
    """Serve the app over real HTTP on loopback with consumers running; yield it."""
    app = LiveApp(svc)
    yield app
    app.close()


@pytest.fixture
def auth_settings(settings):
    """Return the test settings with access control on (login, wall tokens, CSRF)."""
    import dataclasses

    return dataclasses.replace(settings, auth_required=True)


@pytest.fixture
def auth_svc(auth_settings, clock, redis_client):
    """Return services with access control on."""
    return build_services(auth_settings, clock=clock, r=redis_client)


@pytest.fixture
def auth_app(auth_svc):
    """Serve the app with access control on over real HTTP, consumers running; yield it."""
    app = LiveApp(auth_svc)
    yield app
    app.close()


@pytest.fixture(scope="session")
def browser():
    """Launch Debian's Chromium through Playwright, once per session."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def sign_in(page, url: str, name: str, password: str) -> None:
    """Sign in through the login form and wait for the first page (a drill page or the wall)."""
    page.goto(url + "/login")
    page.fill("#u", name)
    page.fill("#p", password)
    page.click("button[type=submit]")
    page.wait_for_selector(".dr-page, .gw-wall", timeout=20000)


@pytest.fixture
def page(browser):
    """Return a fresh 1920x1080 page; console errors are collected on page.errors."""
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(f"{e}\n{e.stack}"))
    yield pg
    ctx.close()


# ---- scale-out and faults (issue 7) --------------------------------------------------------
@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """Start a real 3-master Redis Cluster on loopback ports for the whole session."""
    from dashboard.redis_cluster import EmbeddedCluster

    cluster = EmbeddedCluster(tmp_path_factory.mktemp("cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_svc(settings, clock, redis_cluster):
    """Return services on the cluster (redis-py's RedisCluster), GPS over three shards; flushed."""
    import dataclasses

    from dashboard.store import connect

    s = dataclasses.replace(settings, redis_url=redis_cluster.url, gps_shards=3,
                            open311_api_keys="cluster-test-key")
    r = connect(s)
    r.flushall()
    yield build_services(s, clock=clock, r=r)
    r.flushall()
    r.close()
