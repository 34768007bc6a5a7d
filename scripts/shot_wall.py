"""Take the wall screenshot of the README: a day and a half of simulated case traffic.

Run: .venv/bin/python scripts/shot_wall.py [--out docs/screenshots/wall.png] [--hours 36]

Starts a private embedded Redis, runs the case actors of the simulator (reports through
Open311, department actions through the case API) on a fake clock, then the GPS walkers
for a few minutes, serves the app on loopback and saves a 1920x1080 Chromium screenshot.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard import apikeys  # noqa: E402
from dashboard.clock import FakeClock  # noqa: E402
from dashboard.config import load_settings  # noqa: E402
from dashboard.redis_server import EmbeddedRedis, free_port  # noqa: E402
from dashboard.reminders import ReminderEngine  # noqa: E402
from dashboard.services import build_services  # noqa: E402
from streams.consumer import Consumer  # noqa: E402
from streams.registry import handlers  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Simulate, serve, screenshot."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "wall.png")
    ap.add_argument("--hours", type=float, default=36.0)
    ap.add_argument("--rate", type=float, default=0.3, help="reports per worker per hour")
    args = ap.parse_args(argv)
    from app import create_app
    from streams.sim_cases import CaseDesks, CaseReporters, desk_keys
    from streams.simulate import Simulator

    tmp = Path(tempfile.mkdtemp(prefix="gw-shot-"))
    redis = EmbeddedRedis(tmp / "redis")
    settings = load_settings({}, redis_url=redis.start(), data_dir=str(tmp / "var"),
                             push_interval_s=0.5, auth_required=False)  # the wall, not login
    end = datetime(2026, 5, 29, 15, 40, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    clock = FakeClock(end - args.hours * 3600)
    svc = build_services(settings, clock=clock)
    app, _sio = create_app(settings, services=svc)
    client = app.server.test_client()
    key = apikeys.create(svc, "screenshot")
    actors = [CaseReporters(svc, key, per_worker_h=args.rate),
              CaseDesks(svc, desk_keys(svc), key)]
    hs = handlers(svc)
    events = Consumer(svc.r, svc.keys, hs["events"], name="shot", clock=clock)
    gps = Consumer(svc.r, svc.keys, hs["gps"], name="shot", clock=clock)
    engine = ReminderEngine(svc)
    while clock.now() < end - 900:
        clock.advance(120)
        for actor in actors:
            for post in actor.step(clock.now()):
                client.post(post.path, json=post.body)
        events.drain()
        engine.tick()
    sim = Simulator(svc.district, svc.locator, clock, seed=3)

    def walk(seconds: float) -> None:
        clock.advance(seconds)
        sim.step(clock.now())
        while sim.outbox:
            post = sim.outbox.popleft()
            client.post(post.path, json=post.body)
        gps.drain()

    while clock.now() < end:
        walk(5)
    engine.tick()
    stop = threading.Event()

    def feed() -> None:  # the phones keep reporting while the screenshot is taken
        while not stop.wait(0.5):
            walk(1)

    threading.Thread(target=feed, daemon=True).start()
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium",
                              args=["--no-sandbox", "--disable-gpu"])
        page = b.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function("() => document.querySelectorAll('.gw-rk-row').length > 1",
                               timeout=20000)
        time.sleep(4)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        stop.set()
        b.close()
    server.shutdown()
    redis.stop()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
