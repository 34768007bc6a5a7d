"""The wall in a real Chromium: live map markers move by push, without a reload."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.browser


def _marker_latlng(page, wid: str):
    return page.evaluate("(id) => window.gw && window.gw.positionOf(id)", wid)


def _post_fix(app, wid: str, lat: float, lon: float, ts: float) -> None:
    resp = requests.get(
        f"{app.url}/osmand",
        params={"id": wid, "lat": lat, "lon": lon, "timestamp": int(ts)},
        timeout=5,
    )
    assert resp.status_code == 200, resp.text


def test_a_posted_fix_moves_the_workers_marker_without_reload(live_app, page, clock):
    w = live_app.svc.district.workers[0]
    grid = live_app.svc.district.grid(w.grid)
    lon0, lat0 = grid.ring[0]
    lon2, lat2 = grid.ring[2]
    a = (lat0 + (lat2 - lat0) * 0.3, lon0 + (lon2 - lon0) * 0.3)
    b = (lat0 + (lat2 - lat0) * 0.6, lon0 + (lon2 - lon0) * 0.6)
    _post_fix(live_app, w.id, *a, clock.now() - 60)
    page.goto(live_app.url + "/")
    page.wait_for_function(
        "(id) => window.gw && window.gw.positionOf(id) && window.gw.drawnCount() > 0",
        arg=w.id, timeout=15000)
    assert _marker_latlng(page, w.id) == pytest.approx(list(a), abs=1e-5)
    page.evaluate("() => { window.__noReload = 1; }")
    _post_fix(live_app, w.id, *b, clock.now() - 30)
    page.wait_for_function(
        "([id, lat]) => Math.abs(window.gw.positionOf(id)[0] - lat) < 1e-5",
        arg=[w.id, b[0]],
        timeout=10000,
    )
    assert page.evaluate("() => window.__noReload") == 1
    assert page.errors == []
