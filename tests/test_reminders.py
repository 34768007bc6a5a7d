"""Reminders on a fake clock: first, repeated, check, overdue, escalation; restarts."""

from __future__ import annotations

import pytest
from case_helpers import dispatcher, report, worker_of

from dashboard import case_queries
from dashboard.reminders import ReminderEngine
from streams.cases import CaseStore

H = 3600.0


@pytest.fixture
def case(svc):
    """A garbage pile-up (normal: 24 h) dispatched to the Wanxin street office at t0."""
    report(svc, "1", item="CG006")
    dispatcher(svc).drain()
    return CaseStore(svc).get("1")


def kinds(sent):
    return [(r.kind, r.to) for r in sent]


def test_nothing_is_sent_before_the_first_interval(svc, case):
    svc.clock.advance(H - 1)
    assert ReminderEngine(svc).tick() == []


def test_the_department_is_reminded_every_interval_until_it_handles(svc, case):
    eng = ReminderEngine(svc)
    svc.clock.advance(H)
    assert kinds(eng.tick()) == [("unhandled", "st-wanxin")]
    assert eng.tick() == []  # not twice for the same interval
    svc.clock.advance(H)
    assert [(r.kind, r.n) for r in eng.tick()] == [("unhandled", 2)]
    CaseStore(svc).act("1", "handle", "dept:st-wanxin", note="cleared")
    svc.clock.advance(18 * H)  # 80 % of 24 h: the worker is still told to check
    assert [r.kind for r in eng.tick()] == ["check"]
    assert CaseStore(svc).get("1").reminders == 2


def test_the_worker_gets_a_check_reminder_when_80_percent_of_the_limit_passed(svc, case):
    eng = ReminderEngine(svc)
    svc.clock.advance(0.8 * 24 * H - 1)
    assert "check" not in [r.kind for r in eng.tick()]
    svc.clock.advance(1)
    sent = eng.tick()
    assert ("check", worker_of(svc, "WX-01-01")) in kinds(sent)
    svc.clock.advance(H)
    assert "check" not in [r.kind for r in eng.tick()]


def test_at_the_deadline_the_case_is_overdue_and_goes_to_the_street_then_the_district(svc,
                                                                                      case):
    eng = ReminderEngine(svc)
    svc.clock.advance(24 * H - 1)
    eng.tick()
    assert case_queries.overdue_count(svc) == 0
    svc.clock.advance(1)
    assert ("overdue", "street:wanxin") in kinds(eng.tick())
    assert case_queries.overdue_count(svc) == 1
    assert case_queries.overdue_by_department(svc) == {"st-wanxin": 1}
    assert case_queries.overdue_now(svc)[0]["dept"] == "万新街道办事处"
    svc.clock.advance(svc.settings.case_escalate_after_s - 1)
    assert "escalate" not in [r.kind for r in eng.tick()]
    svc.clock.advance(1)
    assert ("escalate", "district") in kinds(eng.tick())
    assert CaseStore(svc).get("1").escalation == 2
    svc.clock.advance(24 * H)
    assert [r.kind for r in eng.tick()] == ["unhandled"]  # reminders go on, escalation is done


def test_handling_late_clears_the_overdue_backlog_and_counts_late_once(svc, case):
    eng = ReminderEngine(svc)
    svc.clock.advance(25 * H)
    eng.tick()
    CaseStore(svc).act("1", "handle", "dept:st-wanxin", note="finally")
    assert case_queries.overdue_count(svc) == 0
    assert case_queries.overdue_by_department(svc) == {}
    ranking = {r["code"]: r for r in case_queries.department_ranking(svc)["rows"]}
    assert ranking["st-wanxin"]["ontime_month"] == 0.0
    assert ranking["st-wanxin"]["judged_month"] == 1


def test_after_downtime_missed_reminders_collapse_into_one(svc, case):
    svc.clock.advance(5.5 * H)
    assert [(r.kind, r.n) for r in ReminderEngine(svc).tick()] == [("unhandled", 5)]


def test_a_restarted_engine_neither_loses_nor_repeats_reminders(svc, case):
    svc.clock.advance(H)
    assert len(ReminderEngine(svc).tick()) == 1
    fresh = ReminderEngine(svc)  # a new process: only Redis remembers
    assert fresh.tick() == []
    svc.clock.advance(H)
    assert len(fresh.tick()) == 1
    history = [h["action"] for h in CaseStore(svc).history("1")]
    assert history.count("remind.unhandled") == 2
    assert svc.r.xlen(svc.keys.reminders_stream()) == 2


def test_two_engines_racing_send_each_reminder_once(svc):
    for i, grid in enumerate(svc.district.grids[:50]):
        report(svc, str(i), item="CG006", grid=grid.code)
    dispatcher(svc).drain()
    svc.clock.advance(H)
    a, b = ReminderEngine(svc), ReminderEngine(svc)
    import threading

    out = []
    threads = [threading.Thread(target=lambda e=e: out.extend(e.tick())) for e in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 50
    assert svc.r.xlen(svc.keys.reminders_stream()) == 50


def test_reminders_are_published_to_the_web_tier(svc, case):
    ps = svc.r.pubsub(ignore_subscribe_messages=True)
    ps.subscribe(svc.keys.channel("cases"))
    ps.get_message(timeout=1)
    svc.clock.advance(24 * H)
    ReminderEngine(svc).tick()
    import orjson

    msg = ps.get_message(timeout=2)
    ev = orjson.loads(msg["data"])["events"][0]
    assert ev["ev"] == "remind" and "overdue" in ev["kinds"]
    assert ev["row"]["item"] == "垃圾堆积"
    ps.close()
