"""Wall rendering in Chromium with 20,000 workers: first render and main-thread time per update."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import requests

from bench import emit
from bench.city import grid_center, make_city
from dashboard.config import ROOT, load_settings
from dashboard.redis_server import EmbeddedRedis, free_port
from dashboard.services import build_services
from streams.gps_state import PATROLLING, WorkerState

WORKERS = int(os.environ.get("BENCH_WORKERS", "20000"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _seed_states(svc, now: float) -> list[tuple[str, float, float]]:
    pos = [(w.id, *grid_center(svc.district, w.id)) for w in svc.district.workers]
    pipe = svc.r.pipeline(transaction=False)
    for i, (wid, lat, lon) in enumerate(pos):
        st = WorkerState(f"{int(now * 1000)}-{i}", now, lat, lon, svc.district.worker(wid).grid,
                         PATROLLING, 1.2, 80, now, lat, lon)
        pipe.hset(svc.keys.gps_last(svc.keys.gps_shard(wid)), wid, st.pack())
    pipe.execute()
    return pos


def main() -> None:
    """Measure the wall with WORKERS workers and print JSON lines."""
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-wall-"))
    server = EmbeddedRedis(tmp / "redis")
    server.start()
    port = free_port()
    city = make_city(tmp / "city", WORKERS)
    env = {**os.environ, "REDIS_URL": server.url, "DISTRICT": str(city), "PORT": str(port),
           "DATA_DIR": str(tmp / "var"), "AUTH_REQUIRED": "0"}  # rendering, not the login
    svc = build_services(load_settings(env))
    pos = _seed_states(svc, time.time())
    web = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "web"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(url + "/api/v1/health", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.add_init_script("""
              window.__long = []; window.__apply = [];
              new PerformanceObserver(
                l => l.getEntries().forEach(e => window.__long.push(e.duration)))
                .observe({type: 'longtask', buffered: true});
            """)
            wait = "(n) => window.gw && window.gw.drawnCount && window.gw.drawnCount() >= n"
            page.goto(url + "/")
            page.wait_for_function(wait, arg=len(pos), timeout=120_000, polling=50)
            cold = page.evaluate("() => performance.now()")
            page.reload()  # the kiosk's steady state: server caches warm, browser cache warm
            page.wait_for_function(wait, arg=len(pos), timeout=120_000, polling=50)
            first = page.evaluate("() => performance.now()")
            page.evaluate("""() => { const f = window.gw.applyGps; window.gw.applyGps = (m) => {
                const t = performance.now(); f(m);
                Object.values(window.gw.state.views).forEach(v => v.layer.redrawNow());
                window.__apply.push(performance.now() - t); }; }""")
            page.evaluate("() => { window.__long = []; }")
            rng = np.random.default_rng(5)
            for _ in range(10):
                now = time.time()
                ids = [w for w, _, _ in pos]
                lat = [round(la + rng.normal(0, 0.0002), 6) for _, la, _ in pos]
                lon = [round(lo + rng.normal(0, 0.0002), 6) for _, _, lo in pos]
                msg = {"ids": ids, "lat": lat, "lon": lon, "st": [PATROLLING] * len(ids),
                       "g": [""] * len(ids), "ts": [int(now)] * len(ids), "t0": now}
                svc.r.publish(svc.keys.channel("gps"), orjson.dumps(msg))
                time.sleep(1.2)
            applies = page.evaluate("() => window.__apply")
            longs = page.evaluate("() => window.__long")
            browser.close()
    finally:
        web.terminate()
        web.wait(10)
        server.stop()
    emit("wall_first_render_ms", first, "ms", 1500, "lower", workers=len(pos))
    emit("wall_first_render_cold_server_ms", cold, "ms", workers=len(pos))
    emit("wall_update_longtask_ms", float(np.percentile(applies, 95)) if applies else -1, "ms",
         150, "lower", workers=len(pos), updates=len(applies),
         longtask_max_ms=round(max(longs), 1) if longs else 0)


if __name__ == "__main__":
    main()
