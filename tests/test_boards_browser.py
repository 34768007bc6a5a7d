"""The people boards of the drill-down in a real Chromium: a station's and a street's worker
ranking (today and this month) and party-member points (this month and all time) after two
days assessed and points awarded; a worker's page explains their points award by award."""

from __future__ import annotations

import time
from datetime import datetime

import orjson
import pytest
from case_helpers import report

from dashboard import auth
from dashboard import drill_queries as dq
from dashboard.people import people
from streams.people import assess_day, record_volunteer
from tests._people import cover_walk, put_track, resident, use_registry
from tests.conftest import sign_in

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-1"
PARTY, OTHER = "W0009", "W0001"  # station WX-01 of Wanxin; W0009 is a party member
CELL = "{table} .ag-row[row-id='{row}'] [col-id='{col}']"


def at(svc, hhmm: str, day: str) -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=svc.days.tz).timestamp()


def walk(svc, wid: str, day: str, *starts: str) -> None:
    """Store a worker's day: one lawn-mower patrol of their grid from each start time."""
    ring = svc.district.grid(svc.district.worker(wid).grid).ring
    put_track(svc, wid, [p for s in starts for p in cover_walk(ring, at(svc, s, day))])


def wait_for(cond, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def two_days(svc) -> dict[str, dict[str, float]]:
    """Assess two days (OTHER patrols twice on the 28th, PARTY twice and OTHER once on the 29th,
    the rest of the district not at all); it is then 29 May 18:30.  PARTY has 1 point for the
    double patrol and 5 volunteer points this month and 3 from April, a resident party member of
    the station 2 volunteer points.  Return the scores of PARTY and OTHER by day."""
    use_registry(svc, [resident("R3", grid="WX-01-01", name="王淑珍", party_member=True)])
    walk(svc, OTHER, "2026-05-28", "08:30", "14:30")
    assess_day(svc, "20260528", at(svc, "18:30", "2026-05-28"))
    walk(svc, PARTY, "2026-05-29", "08:30", "14:30")
    walk(svc, OTHER, "2026-05-29", "08:30")
    svc.clock.set(at(svc, "18:30", "2026-05-29"))
    assess_day(svc, "20260529", svc.clock.now())
    ctx = people(svc)
    april = at(svc, "10:00", "2026-04-20")
    assert ctx.ledger.award(ctx.member(PARTY), "task_done", "T-APRIL", april, "202604")
    assert record_volunteer(svc, PARTY, "社区环境清扫", 5, "boss", "ACT-7", svc.clock.now())[0]
    assert record_volunteer(svc, "R3", "关爱老人", 2, "boss", "ACT-8", svc.clock.now())[0]
    scores = {}
    for day in ("20260528", "20260529"):
        raw = svc.r.hmget(svc.keys.assessment(day), [PARTY, OTHER])
        scores[day] = {w: orjson.loads(x)["score"] for w, x in zip((PARTY, OTHER), raw,
                                                                  strict=True)}
    assert scores["20260529"][PARTY] > scores["20260529"][OTHER] > 0 == scores["20260528"][PARTY]
    return scores


@pytest.fixture
def assessed(live_app):
    """The live app (access control off) after two_days."""
    return live_app, two_days(live_app.svc)


def row_ids(page, grid: str) -> list[str]:
    """Return the ids of every row of an ag-grid (the DOM holds only the rows in view)."""
    return page.evaluate("""(id) => { const ids = [];
        dash_ag_grid.getApi(id).forEachNode(n => ids.push(n.id)); return ids; }""", grid)


def cell(page, table: str, row: str, col: str) -> str:
    return page.inner_text(CELL.format(table=table, row=row, col=col)).strip()


def test_a_stations_page_ranks_its_workers_today_and_by_their_mean_this_month(assessed, page):
    app, scores = assessed
    svc = app.svc
    page.goto(app.url + "/station/WX-01")
    page.wait_for_selector("#drill-ranking .ag-row")
    station = [w.id for w in svc.district.workers if w.grid.startswith("WX-01-")]
    assert sorted(row_ids(page, "drill-ranking")) == sorted(f"/worker/{w}" for w in station)
    today = scores["20260529"]
    month = {w: (scores["20260528"][w] + today[w]) / 2 for w in (PARTY, OTHER)}
    best_month = max(month, key=month.get)
    for wid, rank in ((PARTY, "1"), (OTHER, "2")):
        row = f"/worker/{wid}"
        assert cell(page, "#drill-ranking", row, "name") == svc.district.worker(wid).name
        assert cell(page, "#drill-ranking", row, "rank_today") == rank
        assert float(cell(page, "#drill-ranking", row, "score_today")) == round(today[wid], 1)
        assert float(cell(page, "#drill-ranking", row, "score_month")) == pytest.approx(
            month[wid], abs=0.051)
        assert cell(page, "#drill-ranking", row, "rank_month") == (
            "1" if wid == best_month else "2")
    assert page.errors == []


@pytest.fixture
def street_supervisor(auth_app, page):
    """The Wanxin street supervisor signed in after two_days (access control on)."""
    two_days(auth_app.svc)
    auth.add_user(auth_app.svc, "wx", PASSWORD, "street", street="wanxin")
    sign_in(page, auth_app.url, "wx", PASSWORD)
    page.wait_for_url("**/street/wanxin")
    return auth_app


def test_a_streets_points_board_counts_this_month_and_all_time_and_opens_a_worker(
        street_supervisor, page):
    svc = street_supervisor.svc
    page.wait_for_selector("#drill-points .ag-row")
    me, r3 = f"/worker/{PARTY}", "R3"
    assert cell(page, "#drill-points", me, "name") == svc.district.worker(PARTY).name
    assert cell(page, "#drill-points", me, "kind") == "网格员"
    assert cell(page, "#drill-points", me, "rank_month") == "1"
    assert cell(page, "#drill-points", me, "points_month") == "6"  # double patrol 1 + volunteer 5
    assert cell(page, "#drill-points", me, "points_total") == "9"  # and 3 in April
    assert cell(page, "#drill-points", r3, "kind") == "居民"
    assert (cell(page, "#drill-points", r3, "points_month"),
            cell(page, "#drill-points", r3, "points_total")) == ("2", "2")
    # the street's whole ranking: every Wanxin worker assessed today, none of Junliangcheng
    assert sorted(row_ids(page, "drill-ranking")) == sorted(
        f"/worker/{w.id}" for w in svc.district.workers if w.grid.startswith("WX-"))
    page.click(f"#drill-points .ag-center-cols-container .ag-row[row-id='{me}']")
    page.wait_for_url(f"**/worker/{PARTY}")
    assert page.errors == []


def test_a_workers_page_explains_their_points_award_by_award(assessed, page):
    app, _ = assessed
    svc = app.svc
    report(svc, "C-POINTS-1", grid=svc.district.worker(PARTY).grid)
    wait_for(lambda: (dq.case(svc, "C-POINTS-1") or {}).get("state") == "dispatched")
    ctx = people(svc)
    assert ctx.ledger.award(ctx.member(PARTY), "case_confirmed", "C-POINTS-1", svc.clock.now(),
                            "202605")
    page.goto(f"{app.url}/worker/{PARTY}")
    page.wait_for_selector("#drill-worker-awards .ag-row >> nth=3")
    rows = page.eval_on_selector_all(
        "#drill-worker-awards .ag-center-cols-container .ag-row",
        """rs => rs.map(r => Object.fromEntries(Array.from(r.querySelectorAll('[col-id]'))
                .map(c => [c.getAttribute('col-id'), c.textContent.trim()])))""")
    assert {(r["reason"], r["points"], r["ref"], r["note"]) for r in rows} == {
        ("上报事件经部门受理", "2", "C-POINTS-1", ""),  # the case
        ("志愿服务(督导登记)", "5", "ACT-7", "社区环境清扫"),  # the activity recorded
        ("完成每日双巡", "1", "2026-05-29", ""),  # the day
        ("完成主动服务任务", "3", "T-APRIL", "")}  # the task
    when = page.eval_on_selector_all(  # the first column is pinned on the left
        "#drill-worker-awards .ag-pinned-left-cols-container [col-id=when]",
        "cs => cs.map(c => c.textContent.trim())")
    assert "2026-04-20 10:00" in when and "2026-05-29 18:30" in when
    side = page.inner_text(".dr-side")
    assert "本月积分 8" in side and "累计积分 11" in side
    page.click("#drill-worker-awards .ag-center-cols-container .ag-row[row-id='/case/C-POINTS-1']")
    page.wait_for_url("**/case/C-POINTS-1")
    assert page.errors == []
