"""Drill-down in a real Chromium: from the wall's map to a worker, the track replayed and
downloaded as GPX; street -> station -> grid by clicking the maps; a boundary corrected."""

from __future__ import annotations

import gpxpy
import pytest
import requests
from case_helpers import WANXIN_GRID, point_in, worker_of

from dashboard import auth
from dashboard.queries import track
from streams.gps_state import pack_point
from tests.conftest import sign_in

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-1"


@pytest.fixture
def boss(auth_app, page):
    auth.add_user(auth_app.svc, "boss", PASSWORD, "district")
    sign_in(page, auth_app.url, "boss", PASSWORD)
    page.wait_for_selector(".gw-wall")
    return auth_app


def walk(app, wid: str, n: int = 40) -> list[tuple[int, float, float]]:
    """Store a track of today for a worker and post its last point as the live fix."""
    svc = app.svc
    lat, lon = point_in(svc, svc.district.worker(wid).grid)
    t0 = int(svc.clock.now()) - 30 * n
    pts = [(t0 + 30 * i, round(lat + (i % 10) * 2e-5, 6), round(lon + (i // 10) * 2e-5, 6))
           for i in range(n)]
    day = svc.days.day(pts[0][0])
    svc.r.set(svc.keys.gps_track(svc.keys.gps_shard(wid), day, wid),
              b"".join(pack_point(*p) for p in pts))
    t, la, lo = pts[-1]
    assert requests.get(f"{app.url}/osmand", params={"id": wid, "lat": la, "lon": lo,
                                                     "timestamp": t + 5}, timeout=5).ok
    return pts


def wait_for(cond, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def click_latlng(page, map_js: str, lat: float, lon: float) -> None:
    """Click the page where a Leaflet map (a JS expression) draws lat/lon."""
    box = page.evaluate(f"""([lat, lon]) => {{ const m = {map_js};
        const p = m.latLngToContainerPoint([lat, lon]);
        const r = m.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }}""", [lat, lon])
    page.mouse.click(*box)


def test_from_the_walls_map_to_a_worker_whose_track_replays_and_downloads(boss, page):
    wid = worker_of(boss.svc, WANXIN_GRID)
    pts = walk(boss, wid)
    page.wait_for_function("(id) => window.gw.positionOf(id) && gw.drawnCount() > 0", arg=wid,
                           timeout=15000)
    lat, lon = page.evaluate("(id) => gw.positionOf(id)", wid)
    view = page.evaluate("() => Object.keys(gw.state.views)[0]")
    click_latlng(page, f"gw.state.views['{view}'].map", lat, lon)
    page.wait_for_url(f"**/worker/{wid}", timeout=10000)
    page.wait_for_function("() => gw.drill.replay && gw.drill.replay.points.length > 0")
    assert page.evaluate("() => gw.drill.replay.marker()") == [pts[0][1], pts[0][2]]
    page.select_option("#drill-replay-speed", "1200")
    page.click("#drill-replay-play")
    page.wait_for_function("() => gw.drill.replay.i > 5", timeout=10000)
    page.click("#drill-replay-play")  # pause
    stopped = page.evaluate("() => gw.drill.replay.i")
    page.wait_for_timeout(400)
    assert page.evaluate("() => gw.drill.replay.i") == stopped
    stored = [tuple(p) for p in track(boss.svc, wid, boss.svc.days.day(pts[0][0]))]
    assert stored[:len(pts)] == pts  # and the live fix the phone sent after them
    page.fill("#drill-replay-slider", str(len(stored) - 1))
    assert page.evaluate("() => gw.drill.replay.marker()") == [stored[-1][1], stored[-1][2]]
    with page.expect_download() as dl:
        page.click("#drill-gpx")
    gpx = gpxpy.parse(open(dl.value.path(), encoding="utf-8").read())
    assert [(int(p.time.timestamp()), p.latitude, p.longitude)
            for p in gpx.tracks[0].segments[0].points] == stored
    assert page.errors == []


def test_street_station_grid_worker_by_clicking_maps_and_rows(boss, page):
    svc = boss.svc
    grid = svc.district.grid(WANXIN_GRID)
    lat, lon = point_in(svc, WANXIN_GRID)
    page.goto(boss.url + f"/street/{grid.street}")
    page.wait_for_function("() => gw.drill.maps['drill-map-unit']")
    click_latlng(page, "gw.drill.maps['drill-map-unit']", lat, lon)
    page.wait_for_url(f"**/station/{grid.station}")
    page.wait_for_function("() => gw.drill.maps['drill-map-unit']")
    click_latlng(page, "gw.drill.maps['drill-map-unit']", lat, lon)
    page.wait_for_url(f"**/grid/{grid.code}")
    assert grid.name in page.inner_text(".dr-crumbs")
    page.click("text=万新街道")  # the breadcrumb goes back up
    page.wait_for_url(f"**/street/{grid.street}")
    page.wait_for_selector("#drill-workers .ag-row")
    page.click("#drill-workers .ag-center-cols-container .ag-row >> nth=0")
    page.wait_for_url("**/worker/*")
    assert page.errors == []


def test_a_supervisor_corrects_a_boundary_and_the_locator_uses_it(boss, page):
    from collections import Counter

    svc = boss.svc
    counts = Counter(p for g in svc.district.grids for p in g.ring[:-1])
    code = "WX-01-05"
    ring = svc.district.grid(code).ring
    i = next(k for k, p in enumerate(ring[:-1]) if counts[p] == 4)
    page.goto(boss.url + f"/grids/edit/{code}")
    page.wait_for_function("() => gw.drill.edit")
    lon, lat = ring[i]
    page.evaluate("([i, lon, lat]) => gw.drill.edit.move(i, lon, lat)",
                  [i, lon + 0.006, lat + 0.0045])  # far: across the neighbours beyond
    page.click("#ge-save")
    page.wait_for_selector(".dr-errors li")
    assert svc.district.grid(code).ring == ring  # refused: nothing stored
    page.evaluate("([i, lon, lat]) => gw.drill.edit.move(i, lon, lat)",
                  [i, lon + 0.00012, lat + 0.00009])
    with page.expect_navigation():  # saved: the page reloads with the new version
        page.click("#ge-save")
    from dashboard import grid_edit

    wait_for(lambda: len(grid_edit.history(svc, code)) == 2)
    new = (round(lon + 0.00012, 12), round(lat + 0.00009, 12))
    moved = svc.district.grid(code).ring[i]
    assert moved == pytest.approx(new, abs=1e-9)
    assert svc.locator.locate(*moved) is not None
    page.wait_for_selector("#drill-versions .ag-row >> nth=1")
    with page.expect_navigation():
        page.click("#ge-restore")
    wait_for(lambda: len(grid_edit.history(svc, code)) == 3)
    assert svc.district.grid(code).ring == ring
    assert page.errors == []


TRUNCATED = """(sel) => Array.from(document.querySelectorAll(sel)).filter(
    e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.trim())"""


def test_the_grid_pages_case_table_shows_every_column_in_full(boss, page):
    """At 1920x1080 no header or cell of the grid's open cases is cut off ("上报…")."""
    from case_helpers import dispatcher, report

    svc = boss.svc
    for rid, item in (("G-LONG-1", "ZA015"), ("G-LONG-2", "HB026"), ("G-LONG-3", "CG041")):
        report(svc, rid, item=item)  # the longest item and department names there are
    dispatcher(svc).drain()
    svc.clock.advance(3 * 86400)  # and every one of them days late
    page.goto(boss.url + f"/grid/{WANXIN_GRID}")
    page.wait_for_selector("#drill-cases .ag-row >> nth=2")
    headers = page.eval_on_selector_all("#drill-cases .ag-header-cell-text",
                                        "hs => hs.map(h => h.textContent)")
    assert len(headers) >= 6
    assert page.evaluate(TRUNCATED, "#drill-cases .ag-header-cell-text") == []
    assert page.evaluate(TRUNCATED, "#drill-cases .ag-cell") == []
    assert page.errors == []
