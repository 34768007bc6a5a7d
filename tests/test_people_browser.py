"""The /people wall in a real Chromium: service counts and the points leaderboard change by
push when the simulator's workers complete their tasks; residents on it are masked."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
import requests

from streams.people import run_service_rules
from streams.sim_people import TaskDoers
from tests._people import resident, use_registry

pytestmark = pytest.mark.browser
PHONE, ADMIN = "people-wall-phone-key", "people-wall-admin-key"


@pytest.fixture
def app(svc, clock):
    from tests.conftest import LiveApp

    svc.settings = dataclasses.replace(svc.settings, open311_api_keys=PHONE,
                                       people_admin_keys=ADMIN)
    use_registry(svc, [
        resident("R1", grid="WX-01-09", tenant=True, lease_holder=True, lease_end="2026-06-10"),
        resident("R2", grid="WX-01-09", birth="1966-06-20"),
        resident("R3", grid="WX-01-01", name="王淑珍", birth="1950-01-01", living_alone=True,
                 last_visit="2026-05-20", party_member=True)])
    clock.set(datetime(2026, 6, 1, 6, 0, tzinfo=svc.days.tz).timestamp())
    run_service_rules(svc, clock.now())
    live = LiveApp(svc, consumers=False)
    yield live
    live.close()


def _cell(page, rule: str, cls: str) -> str:
    return page.inner_text(f'[data-rule="{rule}"] .{cls}')


def _wait_text(page, selector: str, text: str) -> None:
    """Wait until a pushed element shows text (pushes come every few seconds)."""
    page.wait_for_function(
        "([sel, text]) => { const e = document.querySelector(sel);"
        " return e && e.textContent === text; }", arg=[selector, text], timeout=15000)


def test_the_people_wall_follows_the_simulator(app, page, clock):
    page.goto(app.url + "/people")
    page.wait_for_selector('[data-rule="tenant_reregister"]', timeout=15000)
    assert _cell(page, "tenant_reregister", "pp-pushed") == "1"
    assert _cell(page, "tenant_reregister", "pp-done") == "0"
    assert page.inner_text("#pp-kpi-pushed") == "3"
    assert page.query_selector(".pp-points-row") is None
    # the simulator's workers act: every open task done through the HTTP API
    doers = TaskDoers(app.svc, done_share=1.0, mean_delay_h=0.01, phone_key=PHONE)
    clock.advance(3600)
    posts = doers.step(clock.now())
    assert len(posts) == 3
    for post in posts:
        assert post.body["api_key"] == PHONE
        assert requests.post(app.url + post.path, json=post.body, timeout=5).status_code == 200
    _wait_text(page, '[data-rule="tenant_reregister"] .pp-done', "1")
    _wait_text(page, "#pp-kpi-done", "3")
    # W0009 (WX-01-09) is a party member: two tasks, six points, now on the board
    page.wait_for_selector('.pp-points-row[data-member="W0009"]', timeout=15000)
    row = page.inner_text('.pp-points-row[data-member="W0009"]')
    assert "张立伟" in row and "6" in row
    # a resident party member's volunteer points put her on the board: masked
    r = requests.post(app.url + "/api/v1/points/volunteer", timeout=5, headers={
        "X-Api-Key": ADMIN}, json={"member": "R3", "activity": "社区环境清扫", "points": 9})
    assert r.status_code == 201
    page.wait_for_selector('.pp-points-row[data-member="R3"]', timeout=15000)
    resident_row = page.inner_text('.pp-points-row[data-member="R3"]')
    assert "王*珍" in resident_row and "9" in resident_row
    assert "王淑珍" not in page.content()  # residents are never shown unmasked
    assert page.errors == []
