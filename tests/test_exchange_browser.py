"""The exchange page in a real Chromium: calls posted through the API move the live curve and
the rankings by push, without a reload."""

from __future__ import annotations

import pytest
import requests

from dashboard.exchange_queries import registry

pytestmark = pytest.mark.browser

CURVE_SUM = ("() => { const g = document.querySelector('#xc-curve .js-plotly-plot');"
             " return g && g.data ? g.data[0].y.reduce((a, b) => a + b, 0) : null; }")
IDENTITY = ("() => { const e = document.querySelector('[data-code=identity] .xc-iface-num');"
            " return e ? e.textContent : null; }")


def _calls(svc, clock, n):
    reg = registry(svc)
    cat, unit = next((c, u) for (c, u), found in sorted(reg.approvals.items())
                     if "identity" in reg.catalogs[c].interfaces and found[0].until is None)
    return [{"time": clock.now() - 30 + i / 10, "caller": unit, "interface": "identity",
             "catalog": cat, "result": "ok", "latency_ms": 30 + i} for i in range(n)]


def test_posted_calls_move_the_curve_and_the_ranking_without_reload(live_app, page, clock):
    page.goto(live_app.url + "/exchange")
    page.wait_for_selector("[data-code=identity]", timeout=20000)
    page.wait_for_function(f"() => ({CURVE_SUM})() !== null", timeout=20000)
    assert page.evaluate(CURVE_SUM) == 0
    assert page.evaluate(IDENTITY) == "0"
    page.evaluate("() => { window.__noReload = 1; }")

    r = requests.post(live_app.url + "/api/v1/calls",
                      json={"calls": _calls(live_app.svc, clock, 25)}, timeout=10)
    assert r.json()["accepted"] == 25

    page.wait_for_function(f"() => ({CURVE_SUM})() === 25", timeout=20000)
    page.wait_for_function(f"() => ({IDENTITY})() === '25'", timeout=20000)
    page.wait_for_function("() => document.querySelector('#xc-kpi-calls_today').textContent "
                           "=== '25'", timeout=20000)
    assert page.evaluate("() => window.__noReload") == 1
    assert page.errors == []


def test_the_page_shows_names_not_codes(live_app, page):
    page.goto(live_app.url + "/exchange")
    page.wait_for_selector("[data-code=identity]", timeout=20000)
    text = page.inner_text("body")
    assert "民政局" in text and "个人身份查询" in text and "79.34%" in text
    for code in ("minzheng", "identity", "gongan-001", "not_shared"):
        assert code not in text
    assert page.errors == []
