"""The kiosk wall in a real Chromium: opened by a wall token, it survives the app being
restarted under it and a network drop, rotates its playlist or stays pinned, scales to 4K,
tiles a 3x3 wall and speaks the language of its URL."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import conftest
import pytest
import requests
from case_helpers import WANXIN_GRID, point_in, report, worker_of

from dashboard import auth

pytestmark = pytest.mark.browser
LIVE = ("() => document.querySelector('#gw-conn') && "
        "document.querySelector('#gw-conn').textContent === '{}'")
CJK = re.compile(r"[\u3400-\u9fff]")
PLOT = "document.querySelector('#xc-curve .js-plotly-plot')"


@pytest.fixture
def token(auth_app):
    return auth.create_wall_token(auth_app.svc, "hall")


def _process(args: list[str], env: dict):
    """Start `python app.py ARGS` as a real process of its own."""
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, str(conftest.Path(__file__).parent.parent / "app.py"),
                             *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _wait_up(url: str) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError("web process did not start")


def test_the_wall_comes_back_with_live_data_after_the_app_process_restarts(
        auth_svc, page, tmp_path):
    """The web process is killed and started again under an open wall (consumers run on)."""
    import os
    import time

    from dashboard.redis_server import free_port

    svc = auth_svc
    token = auth.create_wall_token(svc, "hall")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, REDIS_URL=svc.settings.redis_url, PORT=str(port), HOST="127.0.0.1",
               DATA_DIR=str(tmp_path / "proc"), AUTH_REQUIRED="true", SIMULATE="false",
               PUSH_INTERVAL_S="0.2")
    consumers = _process(["consume", "gps"], env)
    web = _process(["web"], env)
    wid = worker_of(svc, WANXIN_GRID)
    lat, lon = point_in(svc, WANXIN_GRID)
    try:
        _wait_up(url)
        fix = {"id": wid, "lat": lat, "lon": lon, "timestamp": int(time.time())}
        assert requests.get(url + "/osmand", params=fix, timeout=5).ok
        page.goto(f"{url}/?wall={token}&pin=/")
        page.wait_for_function(LIVE.format("实时"), timeout=20000)
        page.wait_for_function("(id) => gw.positionOf(id)", arg=wid, timeout=20000)
        page.evaluate("() => { window.__sameDocument = 1; }")
        web.terminate()
        web.wait(10)
        page.wait_for_function(LIVE.format("重连中…"), timeout=15000)
        web = _process(["web"], env)
        _wait_up(url)
        page.wait_for_function(LIVE.format("实时"), timeout=30000)
        fix |= {"lat": lat + 0.0004, "timestamp": int(time.time())}
        assert requests.get(url + "/osmand", params=fix, timeout=5).ok
        page.wait_for_function("([id, lat]) => Math.abs(gw.positionOf(id)[0] - lat) < 1e-6",
                               arg=[wid, lat + 0.0004], timeout=20000)
        assert page.evaluate("() => window.__sameDocument") == 1  # nobody reloaded it
        assert page.query_selector(".dash-fe-error__title") is None
        assert page.errors == []
    finally:
        for proc in (web, consumers):
            proc.terminate()
            proc.wait(10)


def test_the_wall_rides_out_a_network_drop_without_a_reload(auth_app, token, page):
    """Offline: the header says 重连中… (nothing else); online again: live data, same page."""
    svc = auth_app.svc
    wid = worker_of(svc, WANXIN_GRID)
    lat, lon = point_in(svc, WANXIN_GRID)
    page.goto(f"{auth_app.url}/?wall={token}&pin=/")
    page.wait_for_function(LIVE.format("实时"), timeout=20000)
    page.evaluate("() => { window.__sameDocument = 1; }")
    page.context.set_offline(True)
    page.wait_for_function(LIVE.format("重连中…"), timeout=15000)
    assert page.evaluate("() => document.body.classList.contains('gw-offline')")
    page.wait_for_timeout(3000)  # socket.io keeps trying in vain meanwhile
    assert page.evaluate("() => document.querySelector('#gw-conn').textContent") == "重连中…"
    page.context.set_offline(False)
    page.wait_for_function(LIVE.format("实时"), timeout=30000)
    fix = {"id": wid, "lat": lat, "lon": lon, "timestamp": int(svc.clock.now())}
    assert requests.get(auth_app.url + "/osmand", params=fix, timeout=5).ok
    page.wait_for_function("([id, lat]) => { const p = gw.positionOf(id);"
                           " return p && Math.abs(p[0] - lat) < 1e-6; }",
                           arg=[wid, lat], timeout=20000)
    assert page.evaluate("() => window.__sameDocument") == 1  # nobody reloaded it
    assert not page.evaluate("() => document.body.classList.contains('gw-offline')")
    assert page.query_selector(".dash-fe-error__title") is None
    assert page.errors == []


def test_the_playlist_rotates_through_the_wall_pages(auth_app, token, page):
    page.goto(f"{auth_app.url}/?wall={token}&playlist=/,/exchange&interval=3")
    page.wait_for_url(lambda u: urlparse(u).path == "/exchange", timeout=15000,
                      wait_until="commit")
    assert "wall=" in page.url and "playlist=" in page.url  # the kiosk's settings go along
    page.wait_for_url(lambda u: urlparse(u).path == "/", timeout=15000, wait_until="commit")


def test_a_pinned_kiosk_stays_on_its_page(auth_app, token, page):
    """A wall token's kiosk rotates its playlist every 2 s here, unless it is pinned."""
    page.goto(f"{auth_app.url}/exchange?wall={token}&pin=/people&interval=2")
    page.wait_for_url(lambda u: urlparse(u).path == "/people", timeout=15000,
                      wait_until="commit")
    page.wait_for_selector(".pp-page")
    page.evaluate("() => { window.__sameDocument = 1; }")
    page.wait_for_timeout(5000)  # an unpinned kiosk would have moved on twice by now
    assert urlparse(page.url).path == "/people"
    assert page.evaluate("() => window.__sameDocument") == 1  # not even reloaded


def test_a_3x3_video_wall_shows_one_ninth_of_the_canvas_per_screen(auth_app, token, page):
    page.goto(f"{auth_app.url}/?wall={token}&pin=/&tile=1,2&of=3x3")
    page.wait_for_selector(".gw-wall")
    box = page.evaluate("() => { const r = document.querySelector('.gw-wall')"
                        ".getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }")
    assert box == [-3840, -1080, 5760, 3240]
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "48px"


def _texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")


def _overdue_case(svc, rid: str) -> None:
    """Report a garbage pile-up in Wanxin (the street office's), dispatched, then two days late."""
    import time

    from dashboard import drill_queries as dq

    report(svc, rid, item="CG006")
    deadline = time.monotonic() + 10
    while (dq.case(svc, rid) or {}).get("state") != "dispatched":
        assert time.monotonic() < deadline, "not dispatched"
        time.sleep(0.05)
    svc.clock.advance(2 * 86400)


def test_scale_and_language_come_from_the_url(auth_app, token, page):
    _overdue_case(auth_app.svc, "EN-OD-1")
    page.goto(f"{auth_app.url}/?wall={token}&pin=/&scale=2&lang=en")
    page.wait_for_function(LIVE.format("live"), timeout=15000)
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "32px"
    assert page.evaluate("() => document.documentElement.lang") == "en"
    labels, titles = _texts(page, ".gw-kpi-label"), _texts(page, ".gw-panel-title")
    assert "Workers online" in labels and "Department ranking" in titles
    assert not CJK.search(" ".join(labels + titles + _texts(page, ".gw-title span + span")))
    page.wait_for_function("() => document.querySelector('#gw-streets').textContent"
                           ".includes('Wanxin Subdistrict')", timeout=15000)  # pushed names too
    # the case panels' pushed item, street and department names are English too
    page.wait_for_selector("#gw-od-EN-OD-1", timeout=15000)
    assert page.inner_text("#gw-od-EN-OD-1 .gw-od-item") == "Garbage pile-up"
    assert page.inner_text("#gw-od-EN-OD-1 .gw-od-dept") == "Wanxin Subdistrict Office"
    assert page.inner_text("#gw-od-EN-OD-1 .gw-od-place").startswith("Wanxin Subdistrict ")
    page.wait_for_selector("#gw-rk-st-wanxin", timeout=15000)
    assert page.inner_text("#gw-rk-st-wanxin .gw-rk-name") == "Wanxin Subdistrict Office"
    assert not CJK.search(" ".join(_texts(page, ".gw-od-item, .gw-od-dept, .gw-rk-name")))


@pytest.mark.parametrize("path", ["/exchange", "/people"])
def test_the_other_wall_pages_follow_lang_en_too(auth_app, token, page, path):
    page.goto(f"{auth_app.url}{path}?wall={token}&pin={path}&lang=en")
    page.wait_for_function(LIVE.format("live"), timeout=15000)
    labels, titles = _texts(page, ".gw-kpi-label"), _texts(page, ".gw-panel-title")
    assert labels and titles
    assert not CJK.search(" ".join(labels + titles + _texts(page, ".gw-title span + span")))
    if path == "/exchange":  # the pushed curve (UI_LANG is zh) is relabelled for the page
        page.wait_for_function(f"() => {PLOT} && {PLOT}.data", timeout=15000)
        page.evaluate(f"() => {{ window.__firstCurve = {PLOT}.data; }}")
        page.wait_for_function(f"() => {PLOT}.data !== window.__firstCurve", timeout=15000)
        names = page.evaluate(f"() => {PLOT}.data.map(d => d.name)")
        assert names == ["Calls", "Errors", "15-min mean"]
