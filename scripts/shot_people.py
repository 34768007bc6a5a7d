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
    from dashboard.patrols import M_PER_DEG
    from streams.gps_state import pack_point
    from tests._people import cover_walk

    def put(wid: str, points: list) -> None:
        blob = b"".join(pack_point(t, la, lo) for t, la, lo in sorted(points))
        day = svc.days.day(day_start + 43200)
        svc.r.set(svc.keys.gps_track(svc.keys.gps_shard(wid), day, wid), blob)

    def stand(t0: float, lat: float, lon: float, minutes: float, dx_m: float = 0.0) -> list:
        kx = M_PER_DEG * math.cos(math.radians(lat))
        return [(t0 + 30 * i, lat + 3 * math.cos(i) / M_PER_DEG,
                 lon + (dx_m + 3 * math.sin(i)) / kx) for i in range(int(minutes * 2))]

    h = lambda hours: day_start + hours * 3600  # noqa: E731
    ws = [w.id for w in svc.district.workers]
    ring = lambda wid: svc.district.grid(svc.district.worker(wid).grid).ring  # noqa: E731
    # no morning patrol: at the desk until the afternoon
    _, la, lo = cover_walk(ring(ws[4]), h(14.2))[0]
    put(ws[4], stand(h(8), la, lo, 360) + cover_walk(ring(ws[4]), h(14.2)))
    # fifty minutes 700 m outside the grid after lunch
    walk = cover_walk(ring(ws[40]), h(8.5))
    _, la, lo = walk[-1]
    put(ws[40], walk + stand(h(13.5), la, lo, 50, 700) + cover_walk(ring(ws[40]), h(14.6)))
    # thirteen minutes standing still in the middle of the morning patrol
    walk = cover_walk(ring(ws[90]), h(8.4))
    half = len(walk) // 2
    t, la, lo = walk[half]
    rest = [(tt + 13 * 60, a, b) for tt, a, b in walk[half + 1:]]
    put(ws[90], walk[:half] + stand(t + 30, la, lo, 12.5) + rest + cover_walk(ring(ws[90]),
                                                                           h(14.3)))
    # an impossible jump of 900 m in the afternoon patrol
    walk = cover_walk(ring(ws[150]), h(14.1))
    t, la, lo = walk[40]
    put(ws[150], cover_walk(ring(ws[150]), h(8.6)) + walk[:40] + [(t + 2, la + 0.008, lo)] +
        [(tt + 4, a, b) for tt, a, b in walk[40:]])


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
                             push_interval_s=0.5, people_admin_keys=ADMIN,
                             auth_required=False)  # the kiosk view, without a wall token
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
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"http://127.0.0.1:{port}/people")
        try:
            page.wait_for_function(
                "() => document.querySelectorAll('.pp-points-row').length > 3", timeout=30000)
        except Exception:  # noqa: BLE001 - save what there is, say why
            print("page did not fill in:", errors or page.inner_text("body")[:500])
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
