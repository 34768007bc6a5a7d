"""The case loop on the wall in a real Chromium: a report appears on the map; once the fake
clock passes its deadline it appears in the overdue panel and the ranking changes."""

from __future__ import annotations

import pytest
import requests
from case_helpers import WANXIN_GRID, point_in, worker_of

from dashboard import apikeys
from dashboard.reminders import ReminderEngine

pytestmark = pytest.mark.browser


def test_an_open311_report_goes_on_the_map_then_overdue_into_the_alerts(live_app, page):
    svc = live_app.svc
    key = apikeys.create(svc, "browser test")
    page.goto(live_app.url + "/")
    page.wait_for_function("() => window.gw && window.gw.cases && "
                           "Object.keys(window.gw.cases.views).length > 0", timeout=15000)
    lat, lon = point_in(svc, WANXIN_GRID)
    resp = requests.post(f"{live_app.url}/open311/v2/requests.json", timeout=5, data={
        "api_key": key, "service_code": "CG006", "lat": lat, "long": lon,
        "device_id": worker_of(svc, WANXIN_GRID),
        "description": "<img src=x onerror=alert(1)>垃圾"})
    rid = resp.json()[0]["service_request_id"]
    page.wait_for_function("(id) => window.gw.casesMarker(id) !== null", arg=rid, timeout=10000)
    page.wait_for_selector("#gw-rk-st-wanxin", timeout=10000)
    assert page.query_selector("#gw-rk-st-wanxin .gw-rk-bad") is None  # nothing overdue yet
    assert page.query_selector(f"#gw-od-{rid}") is None

    svc.clock.advance(24 * 3600 + 60)
    ReminderEngine(svc).tick()
    row = page.wait_for_selector(f"#gw-od-{rid}", timeout=3000)
    assert "垃圾堆积" in row.inner_text() and "万新街道办事处" in row.inner_text()
    assert "gw-new" in row.get_attribute("class")
    page.wait_for_selector("#gw-rk-st-wanxin .gw-rk-bad", timeout=10000)
    assert page.inner_text("#gw-rk-st-wanxin .gw-rk-bad") == "1"
    assert page.inner_text("#kpi-case-overdue") == "1"
    assert page.query_selector("img[src=x]") is None
    assert page.errors == []
