"""Access-control and drill-down benchmarks against a real redis-server: what the guard adds to
every request, a login's argon2 cost, and how long the drill pages take to render (the Dash
routing callback) with a city's worth of open cases."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench import emit
from dashboard import auth
from dashboard.clock import FakeClock
from dashboard.config import load_settings
from dashboard.redis_server import EmbeddedRedis
from dashboard.services import build_services

REQUESTS = 500
OPEN_CASES = 5000


def _page(client, path: str) -> float:
    body = {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}
    token = client.get_cookie("gw_csrf").value
    t0 = time.perf_counter()
    resp = client.post("/_dash-update-component", json=body, headers={"X-CSRF-Token": token})
    assert resp.status_code == 200, (path, resp.status_code)
    return time.perf_counter() - t0


def _cases(svc, n: int) -> None:
    """Store n open cases spread over the district's grids (as the dispatch consumer would)."""
    from shapely.geometry import Polygon

    pipe = svc.r.pipeline(transaction=False)
    grids = svc.district.grids
    now = svc.clock.now()
    for i in range(n):
        g = grids[i % len(grids)]
        p = Polygon(g.ring).representative_point()
        cid = f"B{i:06d}"
        pipe.hset(svc.keys.case(cid), mapping={
            "id": cid, "it": "CG006", "u": "normal", "s": "dispatched", "d": "chengguan",
            "la": p.y, "lo": p.x, "g": g.code, "sn": g.station, "sr": g.street,
            "w": svc.district.worker_of_grid(g.code).id, "at": now - 3600, "up": now - 3600,
            "dl": now + 3600 * (
                (i % 48) - 4)})
        pipe.zadd(svc.keys.cases_open(), {cid: now + i})
        pipe.hincrby(svc.keys.cases_count("grid"), g.code, 1)
    pipe.execute()


def main() -> None:
    """Measure and print JSON lines."""
    from app import create_app

    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-auth-"))
    redis = EmbeddedRedis(tmp / "redis")
    try:
        settings = load_settings({}, redis_url=redis.start(), data_dir=str(tmp / "var"),
                                 auth_required=True)
        svc = build_services(settings, clock=FakeClock(1_780_000_000.0))
        app, _ = create_app(settings, services=svc, start_relay=False)
        auth.add_user(svc, "boss", "bench-password", "district")
        t0 = time.perf_counter()
        for _ in range(10):
            auth.authenticate(svc, "boss", "bench-password", "127.0.0.1")
        emit("auth.login_verify", (time.perf_counter() - t0) / 10 * 1000, "ms")
        c = app.server.test_client()
        c.get("/login")
        c.post("/login", data={"username": "boss", "password": "bench-password",
                               "csrf": c.get_cookie("gw_csrf").value})
        t0 = time.perf_counter()
        for _ in range(REQUESTS):
            assert c.get("/api/v1/me").status_code == 200
        per = (time.perf_counter() - t0) / REQUESTS * 1000
        off_settings = load_settings({}, redis_url=settings.redis_url, data_dir=str(tmp / "v2"),
                                     auth_required=False)
        off_app, _ = create_app(off_settings, services=build_services(
            off_settings, clock=FakeClock(1_780_000_000.0)), start_relay=False)
        open_ = off_app.server.test_client()
        t0 = time.perf_counter()
        for _ in range(REQUESTS):
            assert open_.get("/api/v1/me").status_code == 200
        base = (time.perf_counter() - t0) / REQUESTS * 1000
        emit("auth.guard_overhead", per - base, "ms/request", target=2.0, better="lower",
             with_auth=round(per, 3), without=round(base, 3))
        _cases(svc, OPEN_CASES)
        w = svc.district.workers[0]
        g = svc.district.grid(w.grid)
        for name, path in (("district", "/district"), ("street", f"/street/{g.street}"),
                           ("station", f"/station/{g.station}"), ("grid", f"/grid/{g.code}"),
                           ("worker", f"/worker/{w.id}"), ("department", "/department/chengguan"),
                           ("case", "/case/B000001"), ("grid_edit", f"/grids/edit/{g.code}")):
            _page(c, path)  # warm
            times = []
            for _ in range(5):
                svc.extra.pop("drill_open", None)  # cold: the open cases are read again
                times.append(_page(c, path))
            times.sort()
            emit(f"drill.page_{name}", times[2] * 1000, "ms", target=1000, better="lower",
                 open_cases=OPEN_CASES)
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
