"""English drill pages (?lang=en) in a real Chromium: a worker's cases and a case's lifecycle
show English states, urgencies and actors, not the Chinese ones of the default language."""

from __future__ import annotations

import time

import pytest
from case_helpers import WANXIN_GRID, report, worker_of

from dashboard import case_queries
from dashboard import drill_queries as dq
from dashboard.i18n import t
from streams.cases import CaseStore

CELLS = ("(sel) => Array.from(document.querySelectorAll(sel))"
         ".map(e => e.textContent.trim())")


def wait_for(cond, timeout: float = 10.0) -> None:
    """Wait until cond() is true."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_chinese_words_of_states_and_urgencies_stay_those_of_the_case_api():
    assert {s: t(f"state_{s}") for s in case_queries.STATE_ZH} == case_queries.STATE_ZH
    assert {u: dq.urgency_name(u) for u in case_queries.URGENCY_ZH} == case_queries.URGENCY_ZH
    assert dq.state_name("dispatched", "en") == "dispatched" and dq.state_name("odd") == "odd"


@pytest.fixture
def worked_case(live_app):
    """A case reported by the Wanxin worker, dispatched, accepted and redispatched."""
    svc = live_app.svc
    report(svc, "EN-1", worker=worker_of(svc, WANXIN_GRID))
    wait_for(lambda: (dq.case(svc, "EN-1") or {}).get("state") == "dispatched")
    dept = dq.case(svc, "EN-1")["department"]
    store = CaseStore(svc)
    store.act("EN-1", "accept", f"dept:{dept}")
    store.act("EN-1", "redispatch", "supervisor:boss", dept=dept)
    return live_app, svc.district.department(dept)


@pytest.mark.browser
def test_an_english_case_page_names_its_actors_and_state_in_english(worked_case, page):
    app, dept = worked_case
    page.goto(f"{app.url}/case/EN-1?lang=en")
    page.wait_for_selector("#drill-timeline .ag-row >> nth=3")
    actors = page.evaluate(CELLS, "#drill-timeline .ag-center-cols-container [col-id=actor]")
    assert {"System", "District supervision centre", dept.name_en} <= set(actors)
    facts = page.inner_text(".dr-facts")
    assert "dispatched" in facts and dept.name_en in facts and "Garbage pile-up" in facts
    assert "Wanxin Subdistrict" in page.inner_text(".dr-crumbs")
    body = page.inner_text("body")
    assert not [w for w in ("系统", "区级监督中心", "已派遣") if w in body]
    assert page.errors == []


@pytest.mark.browser
def test_an_english_worker_page_shows_english_states_and_urgencies(worked_case, page):
    app, _dept = worked_case
    wid = worker_of(app.svc, WANXIN_GRID)
    page.goto(f"{app.url}/worker/{wid}?lang=en")
    page.wait_for_selector("#drill-worker-cases .ag-row")
    rows = "#drill-worker-cases .ag-center-cols-container [col-id={}]"
    assert page.evaluate(CELLS, rows.format("state")) == ["dispatched"]
    assert page.evaluate(CELLS, rows.format("urgency")) == ["Normal"]
    assert page.evaluate(CELLS, rows.format("item")) == ["Garbage pile-up"]
    assert "Wanxin Subdistrict" in page.inner_text(".dr-crumbs")
    assert page.errors == []
