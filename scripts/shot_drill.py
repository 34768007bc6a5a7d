"""Take the screenshots of the drill-down, login and kiosk pages for the README.

Run: .venv/bin/python scripts/shot_drill.py [--hours 8] [--serve]

Starts a private embedded Redis with access control on; on a fake clock runs the case actors
(Open311 reports, department actions) for a day and a half and today's GPS walkers from
07:00 through the real ingest and consumers, assesses the day, then signs in as a district
supervisor and saves docs/screenshots/<page>.png at 1920x1080 for every drill-down page, the
login page and the kiosk wall.  --serve keeps the app running afterwards (Ctrl-C stops).
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

from dashboard import apikeys, auth  # noqa: E402
from dashboard.clock import FakeClock  # noqa: E402
from dashboard.config import load_settings  # noqa: E402
from dashboard.redis_server import EmbeddedRedis, free_port  # noqa: E402
from dashboard.reminders import ReminderEngine  # noqa: E402
from dashboard.services import build_services  # noqa: E402
from streams.consumer import Consumer  # noqa: E402
from streams.registry import handlers  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "shot-password-1"


def simulate(svc, client, clock, start_of_day: float, hours: float):  # noqa: ANN001, ANN201
    """Run reports and department actions from the day before, walkers from 07:00 today;
    return a function that walks the district on for one more simulated second."""
    from streams.people import assess_day, sync_cases
    from streams.sim_cases import CaseDesks, CaseReporters, desk_keys
    from streams.simulate import Simulator

    key = apikeys.create(svc, "screenshot")
    actors = [CaseReporters(svc, key, per_worker_h=0.25), CaseDesks(svc, desk_keys(svc), key)]
    hs = handlers(svc)
    events = Consumer(svc.r, svc.keys, hs["events"], name="shot", clock=clock)
    gps = Consumer(svc.r, svc.keys, hs["gps"], name="shot", clock=clock)
    engine = ReminderEngine(svc)
    sim = Simulator(svc.district, svc.locator, clock, schedule="realistic", seed=5)
    end = start_of_day + (7 + hours) * 3600
    while clock.now() < end:
        walking = clock.now() >= start_of_day + 7 * 3600
        clock.advance(30 if walking else 120)
        now = clock.now()
        if walking:
            sim.step(now)
            while sim.outbox:
                post = sim.outbox.popleft()
                client.post(post.path, json=post.body)
            gps.drain()
        if int(now) % 120 < (30 if walking else 120):
            for actor in actors:
                for post in actor.step(now):
                    client.post(post.path, json=post.body)
            events.drain()
            engine.tick()
    sync_cases(svc, clock.now())
    assess_day(svc, svc.days.day(start_of_day), clock.now())

    def walk_on() -> None:
        clock.advance(1)
        sim.step(clock.now())
        while sim.outbox:
            post = sim.outbox.popleft()
            if post.path.startswith("/api/v1/positions"):
                client.post(post.path, json=post.body)
        gps.drain()

    return walk_on


def feed(walk_on, stop: threading.Event) -> None:  # noqa: ANN001
    """Keep the live GPS feed going (a simulated second every 0.2 s) until stopped."""
    while not stop.wait(0.2):
        walk_on()


def shoot(base: str, out: Path, svc, walk_on) -> None:  # noqa: ANN001
    """Sign in and save every page; the kiosk (in English) with its GPS feed live."""
    from playwright.sync_api import sync_playwright

    d = svc.district
    worker = d.workers[3]
    grid = d.grid(worker.grid)
    recent = [i.decode() for i in svc.r.zrevrange(svc.keys.cases_all(), 0, 400)]
    pipe = svc.r.pipeline(transaction=False)
    for i in recent:
        pipe.llen(svc.keys.case_history(i))
    case_id = max(zip(pipe.execute(), recent))[1]  # the richest lifecycle
    dept = max(((x.code, svc.r.zcard(svc.keys.cases_queue(x.code))) for x in d.departments),
               key=lambda kv: kv[1])[0]
    pages = {"district": "/district", "street": f"/street/{grid.street}",
             "station": f"/station/{grid.station}", "grid": f"/grid/{grid.code}",
             "worker": f"/worker/{worker.id}", "department": f"/department/{dept}",
             "case": f"/case/{case_id}", "grid_edit": f"/grids/edit/{grid.code}",
             "search": f"/search?q={worker.name[0]}"}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium",
                              args=["--no-sandbox", "--disable-gpu"])
        page = b.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page.goto(base + "/login")
        page.screenshot(path=str(out / "login.png"))
        page.fill("#u", "boss")
        page.fill("#p", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        for name, path in pages.items():
            page.goto(base + path)
            page.wait_for_selector(".dr-page", timeout=30000)
            time.sleep(2.5)
            if name == "worker":
                page.evaluate("() => gw.drill.replay && gw.drill.replay.show("
                              "Math.floor(gw.drill.replay.points.length * 0.6))")
                time.sleep(0.5)
            page.screenshot(path=str(out / f"{name}.png"))
            print("shot", name, path, flush=True)
        token = auth.create_wall_token(svc, "shot")
        kiosk = b.new_page(viewport={"width": 1920, "height": 1080}, locale="en-US")
        stop = threading.Event()
        threading.Thread(target=feed, args=(walk_on, stop), daemon=True).start()
        kiosk.goto(f"{base}/?wall={token}&pin=/&lang=en")
        kiosk.wait_for_function("() => window.gw && gw.drawnCount && gw.drawnCount() > 0",
                                timeout=30000)
        time.sleep(6)
        kiosk.screenshot(path=str(out / "kiosk.png"))
        stop.set()
        b.close()


def main(argv: list[str] | None = None) -> int:
    """Simulate, serve, sign in, screenshot."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--day", default="2026-11-04", help="the local day shown (YYYY-MM-DD)")
    ap.add_argument("--hours", type=float, default=8.0, help="hours of walking from 07:00")
    ap.add_argument("--serve", action="store_true", help="keep serving after the shots")
    args = ap.parse_args(argv)
    from werkzeug.serving import make_server

    from app import create_app

    tmp = Path(tempfile.mkdtemp(prefix="gw-shot-drill-"))
    redis = EmbeddedRedis(tmp / "redis")
    settings = load_settings({}, redis_url=redis.start(), data_dir=str(tmp / "var"),
                             push_interval_s=0.5, auth_required=True)
    day = datetime.fromisoformat(args.day).replace(tzinfo=TZ)
    start_of_day = day.timestamp()
    clock = FakeClock(start_of_day - 86400 + 6 * 3600)
    svc = build_services(settings, clock=clock)
    app, _sio = create_app(settings, services=svc)
    t0 = time.monotonic()
    walk_on = simulate(svc, app.server.test_client(), clock, start_of_day, args.hours)
    print(f"simulated in {time.monotonic() - t0:.0f} s", flush=True)
    auth.add_user(svc, "boss", PASSWORD, "district")
    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    args.out.mkdir(parents=True, exist_ok=True)
    shoot(f"http://127.0.0.1:{port}", args.out, svc, walk_on)
    if args.serve:
        print(f"serving http://127.0.0.1:{port}/login  boss / {PASSWORD}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    server.shutdown()
    redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
