"""Take the /people screenshot of the README: two days of service tasks and cases, a day of
patrols.

Run: .venv/bin/python scripts/shot_people.py [--out docs/screenshots/people.png]

Starts a private embedded Redis; on a fake clock runs the case actors (Open311 reports,
department actions) and the people actor (tasks done, volunteer records) for two days with
the daily service rule run at 06:00, then today's GPS walkers (realistic schedule) through
the real ingest and consumer; a few workers get a deviant day (no morning patrol, a long
stay outside the grid, a long stop on patrol, an impossible jump); the people jobs assess
the day; the app is served on loopback and Chromium saves a 1920x1080 screenshot.
"""

from __future__ import annotations

import argparse
import math
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

TZ = ZoneInfo("Asia/Shanghai")
ADMIN = "shot-people-admin"


def _deviant(svc, day_start: float) -> None:  # noqa: ANN001
    """Give four workers a day the assessment should flag (their track is replaced)."""
    from shapely.geometry import Polygon

    from dashboard.patrols import M_PER_DEG
    from streams.gps_state import pack_point

    def track(wid: str, pieces: list[tuple[str, float, float]]) -> None:
        g = svc.district.grid(svc.district.worker(wid).grid)
        c = Polygon(g.ring).centroid
        kx = M_PER_DEG * math.cos(math.radians(c.y))
        blob, t = bytearray(), None
        for kind, start_h, minutes in pieces:
            t = day_start + start_h * 3600
            for i in range(int(minutes * 6)):  # a point every 10 s
                a = i / 30.0
                if kind == "walk":  # a loop of ~130 m radius around the centre
                    x, y = 130 * math.cos(a), 110 * math.sin(a)
                elif kind == "away":  # 700 m east of the grid
                    x, y = 700 + 5 * math.sin(i), 5 * math.cos(i)
                elif kind == "jump" and i == 30:
                    x, y = 900, 0
                elif kind == "jump":
                    x, y = 130 * math.cos(a), 110 * math.sin(a)
                else:  # stand
                    x, y = 20 + 3 * math.sin(i), 10 + 3 * math.cos(i)
                blob += pack_point(t + i * 10, c.y + y / M_PER_DEG, c.x + x / kx)
        key = svc.keys.gps_track(svc.keys.gps_shard(wid), svc.days.day(day_start + 43200), wid)
        svc.r.set(key, bytes(blob))

    ws = [w.id for w in svc.district.workers]
    track(ws[4], [("stand", 8.0, 200), ("walk", 14.2, 80)])  # no morning patrol
    track(ws[40], [("walk", 8.5, 90), ("away", 13.5, 50), ("walk", 14.6, 70)])
    track(ws[90], [("walk", 8.4, 60), ("stand", 9.4, 13), ("walk", 9.62, 40)])
    track(ws[150], [("walk", 8.6, 80), ("jump", 14.1, 60), ("walk", 15.1, 30)])


def main(argv: list[str] | None = None) -> int:
    """Simulate, assess, serve, screenshot."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "people.png")
    ap.add_argument("--day", default="2026-11-04", help="the local day shown (YYYY-MM-DD)")
    args = ap.parse_args(argv)
    from app import create_app
    from streams.people import assess_day, run_service_rules, sync_cases
    from streams.sim_cases import CaseDesks, CaseReporters, desk_keys
    from streams.sim_people import TaskDoers
    from streams.simulate import Simulator

    tmp = Path(tempfile.mkdtemp(prefix="gw-shot-people-"))
    redis = EmbeddedRedis(tmp / "redis")
    settings = load_settings({}, redis_url=redis.start(), data_dir=str(tmp / "var"),
                             push_interval_s=0.5, people_admin_keys=ADMIN)
    day = datetime.fromisoformat(args.day).replace(tzinfo=TZ)
    start_of_day = day.timestamp()
    end = start_of_day + 16.5 * 3600
    clock = FakeClock(start_of_day - 2 * 86400 + 5 * 3600)
    svc = build_services(settings, clock=clock)
    app, _sio = create_app(settings, services=svc)
    client = app.server.test_client()
    key = apikeys.create(svc, "screenshot")
    cases = [CaseReporters(svc, key, per_worker_h=0.25), CaseDesks(svc, desk_keys(svc), key)]
    doers = TaskDoers(svc, admin_key=ADMIN)
    hs = handlers(svc)
    events = Consumer(svc.r, svc.keys, hs["events"], name="shot", clock=clock)
    gps = Consumer(svc.r, svc.keys, hs["gps"], name="shot", clock=clock)
    engine = ReminderEngine(svc)
    sim = Simulator(svc.district, svc.locator, clock, schedule="realistic", seed=5)
    ran_rules: set[str] = set()
    t_start = time.monotonic()
    while clock.now() < end:
        walking = clock.now() >= start_of_day + 7 * 3600
        clock.advance(30 if walking else 120)
        now = clock.now()
        today = svc.days.day(now)
        if today not in ran_rules and datetime.fromtimestamp(now, TZ).hour >= 6:
            ran_rules.add(today)
            print(today, run_service_rules(svc, now), flush=True)
        if walking:
            sim.step(now)
            while sim.outbox:
                post = sim.outbox.popleft()
                client.post(post.path, json=post.body)
            gps.drain()
        if int(now) % 120 < (30 if walking else 120):
            for actor in (*cases, doers):
                for post in actor.step(now):
                    client.post(post.path, json=post.body)
            events.drain()
            engine.tick()
    print(f"simulated in {time.monotonic() - t_start:.0f} s", flush=True)
    _deviant(svc, start_of_day)
    print(sync_cases(svc, clock.now()))
    print(assess_day(svc, svc.days.day(start_of_day), clock.now()))
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium",
                              args=["--no-sandbox", "--disable-gpu"])
        page = b.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page.goto(f"http://127.0.0.1:{port}/people")
        page.wait_for_function("() => document.querySelectorAll('.pp-points-row').length > 3",
                               timeout=30000)
        time.sleep(4)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        b.close()
    server.shutdown()
    redis.stop()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
