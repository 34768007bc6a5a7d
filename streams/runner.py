"""Process supervision for the command line: the demo (run), web, consumers, jobs, simulator."""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from dashboard.config import ROOT, Settings

log = logging.getLogger("gridwall.runner")


def settle() -> None:
    """Move everything built at start-up out of the garbage collector's sight.

    A process holds a whole district (tens of thousands of polygons and records); without
    this, every full collection walks all of it, a pause of tens of milliseconds that the
    GPS stream pays as push lag (gc.freeze, as large Python services do).
    """
    gc.collect()
    gc.freeze()


def _stop_on_signals(stop: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())


WEB_THREADS = 64  # threads per gunicorn worker; each open wall websocket holds one


def run_web(settings: Settings) -> int:
    """Serve the Dash app and socket.io on HOST:PORT (threaded Werkzeug + simple-websocket)."""
    if settings.web_workers > 1:
        return run_gunicorn(settings)
    from app import create_app

    app, socketio = create_app(settings)
    settle()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per GPS post
    log.info("wall on http://%s:%s/", settings.host, settings.port)
    socketio.run(
        app.server,
        host=settings.host,
        port=settings.port,
        debug=False,
        use_reloader=False,
        log_output=False,
        allow_unsafe_werkzeug=True,
    )
    return 0


def run_gunicorn(settings: Settings) -> int:
    """Serve WEB_WORKERS processes on one port with gunicorn's threaded workers.

    No sticky sessions: the wall's socket.io client uses the websocket transport only (one
    connection, so one worker), pub/sub deltas reach every worker and the panels go through
    socket.io's message queue on Redis (dashboard/push.py).
    """
    import dataclasses
    import secrets

    from gunicorn.app.base import BaseApplication

    from dashboard.api import build_basemap_json
    from dashboard.district import load_district

    if not settings.secret_key:  # one secret for every worker's cookies
        settings = dataclasses.replace(settings, secret_key=secrets.token_hex(32))
    # Built once here, before the fork: every worker (and one gunicorn restarts) inherits it
    # instead of spending seconds of CPU on it while it serves phones.
    basemap = build_basemap_json(load_district(settings.district))

    class Server(BaseApplication):
        def load_config(self) -> None:
            conf = {"bind": f"{settings.host}:{settings.port}", "workers": settings.web_workers,
                    "worker_class": "gthread", "threads": WEB_THREADS, "timeout": 60,
                    "graceful_timeout": 10, "keepalive": 5, "loglevel": "warning"}
            for key, value in conf.items():
                self.cfg.set(key, value)

        def load(self):  # noqa: ANN202 - runs in each worker, after the fork
            from app import create_app
            from dashboard.services import build_services

            svc = build_services(settings)
            svc.extra["wall_basemap"] = basemap
            server = create_app(settings, services=svc)[0].server
            settle()
            return server

    log.info("wall on http://%s:%s/ (%d gunicorn workers)", settings.host, settings.port,
             settings.web_workers)
    Server().run()
    return 0


def run_consumers(settings: Settings, names: list[str], name: str | None = None,
                  skip: list[str] | None = None) -> int:
    """Run the named stream consumers (or all) in threads until SIGINT/SIGTERM."""
    from dashboard.services import build_services
    from streams.consumer import Consumer, consumer_name
    from streams.registry import handlers

    svc = build_services(settings)
    stop = threading.Event()
    _stop_on_signals(stop)
    available = handlers(svc)
    chosen = list(available) if names in ([], ["all"]) else names
    chosen = [n for n in chosen if n not in (skip or [])]
    unknown = [n for n in chosen if n not in available]
    if unknown:
        print(f"unknown stream(s): {', '.join(unknown)}; known: {', '.join(available)}")
        return 2
    settle()
    threads = []
    for n in chosen:
        c = Consumer(
            svc.r,
            svc.keys,
            available[n],
            name=name or consumer_name(),
            batch=settings.consumer_batch,
            block_ms=settings.consumer_block_ms,
            claim_idle_ms=settings.claim_idle_ms,
            deadletter_maxlen=settings.deadletter_maxlen,
            clock=svc.clock,
            stop=stop,
        )
        t = threading.Thread(target=c.run, name=f"consume-{n}", daemon=True)
        t.start()
        threads.append(t)
    from dashboard import grid_edit  # issue 6: corrected grid boundaries reach the locator

    threads.append(grid_edit.start_watcher(svc, stop))
    if "events" in chosen:  # the reminder engine runs beside the dispatch consumer
        from dashboard.reminders import start_thread

        threads.append(start_thread(svc, stop))
    stop.wait()
    for t in threads:
        t.join(5)
    return 0


def run_jobs(settings: Settings, every_s: float = 10.0) -> int:
    """Run the periodic jobs (assessment, points, service rules, archive, trim) until stopped.

    They run in their own process, not beside a consumer: an assessment of a whole city holds
    the interpreter for seconds, which a GPS consumer sharing it would pay for as push lag.
    Every job is locked in Redis, so any number of job processes may run.
    """
    from dashboard.services import build_services
    from streams.archive import Maintenance
    from streams.people import start_thread as start_people

    os.nice(max(0, min(19, settings.jobs_nice)))  # background work: ingest and consumers first
    svc = build_services(settings)
    settle()
    stop = threading.Event()
    _stop_on_signals(stop)
    people = start_people(svc, stop)
    maint = Maintenance(svc)
    while not stop.wait(every_s):
        try:
            maint.run_once(svc.clock.now())
        except Exception:  # noqa: BLE001 - maintenance retries next round
            log.exception("maintenance failed")
    people.join(5)
    return 0


def run_simulator(settings: Settings, url: str = "") -> int:
    """Run the district simulator against the app at url until SIGINT/SIGTERM."""
    from dashboard.services import build_services
    from streams.simulate import run_simulator as run

    svc = build_services(settings)
    stop = threading.Event()
    _stop_on_signals(stop)
    run(svc, url or f"http://{settings.host}:{settings.port}", stop)
    return 0


def _child(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), *args], env=env)


def _wait_http(url: str, timeout_s: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)


def run_all(settings: Settings) -> int:
    """Start embedded Redis (unless REDIS_URL), consumers, simulator and the web app."""
    from dashboard.redis_server import EmbeddedRedis

    env = dict(os.environ)
    redis_proc = None
    if not settings.redis_url and not settings.redis_cluster_nodes:
        redis_proc = EmbeddedRedis(Path(settings.redis_dir), unix=True)
        env["REDIS_URL"] = redis_proc.start()
        log.info(
            "embedded redis-server at %s (AOF on, data in %s)", env["REDIS_URL"], settings.redis_dir
        )
    env["CLOCK_START"] = str(settings.clock_start or time.time())
    env["SIM_SPEED"] = str(settings.sim_speed)
    if "AUTH_REQUIRED" not in os.environ and settings.host in ("127.0.0.1", "localhost"):
        env["AUTH_REQUIRED"] = "false"  # the loopback demo opens the wall without a login
    env["PORT"] = str(settings.port)
    if settings.sim_workers:
        env["SIM_WORKERS"] = str(settings.sim_workers)
    env["DISTRICT"] = settings.district
    if not settings.open311_api_keys:  # a key for the simulator's (and your) Open311 reports
        env["OPEN311_API_KEYS"] = "gw_demo_" + __import__("secrets").token_urlsafe(16)
    if not settings.people_admin_keys:  # lets the simulator record volunteer activities
        env["PEOPLE_ADMIN_KEYS"] = "gw_demo_" + __import__("secrets").token_urlsafe(16)
    print(f"Open311 API key of this demo: {env.get('OPEN311_API_KEYS', '').split(',')[0]}",
          flush=True)
    env["WEB_WORKERS"] = str(settings.web_workers)
    if settings.web_workers > 1 and not settings.secret_key:  # the same cookies on every worker
        env["SECRET_KEY"] = __import__("secrets").token_hex(32)
    children = [_child(["consume", "all"], env) for _ in range(max(1, settings.consumer_procs))]
    children.append(_child(["jobs"], env))
    children.append(_child(["web"], env))
    if settings.simulate:
        _wait_http(f"http://{settings.host}:{settings.port}/api/v1/health", 30.0)
        children.append(_child(["simulate"], env))
    stop = threading.Event()
    _stop_on_signals(stop)
    from dashboard.auth_cli import demo_accounts  # issue 6: a kiosk URL and a demo login

    print("\n".join(demo_accounts(settings, env.get("REDIS_URL", ""))), flush=True)
    print("(Ctrl-C stops everything)", flush=True)
    while not stop.wait(0.5):
        if any(c.poll() is not None for c in children):
            log.error("a child process exited; stopping")
            break
    for c in children:
        if c.poll() is None:
            c.send_signal(signal.SIGTERM)
    for c in children:
        try:
            c.wait(10)
        except subprocess.TimeoutExpired:
            c.kill()
    if redis_proc:
        redis_proc.stop()
    return 0
