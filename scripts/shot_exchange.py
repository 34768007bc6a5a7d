"""Take the exchange screenshot of the README: a day and a half of simulated exchange calls.

Run: .venv/bin/python scripts/shot_exchange.py [--out docs/screenshots/exchange.png] [--hours 36]

Starts a private embedded Redis, posts the simulated gateway's calls (streams/sim_calls.py,
default SIM_CALLS_PER_DAY) through POST /api/v1/calls on a fake clock ending on a Friday
afternoon, counts them with the calls consumer, serves the app on loopback and saves a
1920x1080 Chromium screenshot of /exchange.
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

from dashboard.clock import FakeClock  # noqa: E402
from dashboard.config import load_settings  # noqa: E402
from dashboard.redis_server import EmbeddedRedis, free_port  # noqa: E402
from dashboard.services import build_services  # noqa: E402
from streams.consumer import Consumer  # noqa: E402
from streams.registry import handlers  # noqa: E402
from streams.sim_calls import call_actor  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Simulate, serve, screenshot."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "exchange.png")
    ap.add_argument("--hours", type=float, default=36.0)
    ap.add_argument("--lang", default="zh")
    args = ap.parse_args(argv)
    from app import create_app

    tmp = Path(tempfile.mkdtemp(prefix="gw-shot-"))
    redis = EmbeddedRedis(tmp / "redis")
    settings = load_settings({}, redis_url=redis.start(), data_dir=str(tmp / "var"),
                             push_interval_s=0.5, lang=args.lang,
                             auth_required=False)  # the exchange page, not the login
    end = datetime(2026, 5, 29, 15, 40, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    clock = FakeClock(end - args.hours * 3600)
    svc = build_services(settings, clock=clock)
    app, _sio = create_app(settings, services=svc)
    client = app.server.test_client()
    actor = call_actor(svc)
    calls = Consumer(svc.r, svc.keys, handlers(svc)["calls"], name="shot", clock=clock)
    actor.step(clock.now())
    while clock.now() < end:
        clock.advance(600)
        for post in actor.step(clock.now()):
            client.post(post.path, json=post.body)
        calls.drain()
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium",
                              args=["--no-sandbox", "--disable-gpu"])
        page = b.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
        page.goto(f"http://127.0.0.1:{port}/exchange")
        page.wait_for_selector("[data-code=identity]", timeout=20000)
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
