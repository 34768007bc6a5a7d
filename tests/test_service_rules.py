"""Proactive service rules on their edge dates, and idempotent task runs on a real Redis."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from dashboard.config import ROOT
from dashboard.people import people
from dashboard.residents import load_residents, parse_overlay, with_overlay
from dashboard.services_rules import RulesError, birthday, candidates, load_rules, task_ids
from streams.people import TaskError, complete_task, registry_now, run_service_rules
from tests._people import day, frame, resident, use_registry

RULES = load_rules(ROOT / "data" / "districts" / "dongli" / "service_rules.json")
DAY = day("2026-06-01")


def rule(code: str):
    return tuple(r for r in RULES if r.code == code)


def due(rows: list[dict], code: str, on: np.datetime64 = DAY) -> dict[str, str]:
    c = candidates(frame(rows), rule(code), on)
    return {r: str(np.datetime64(d, "D")) for r, d in zip(c["rid"], c["due"], strict=True)}


# ---- senior card: turning 60 within 30 days ------------------------------------------
def test_senior_card_for_whoever_turns_60_within_30_days():
    rows = [resident("R1", birth="1966-07-01"),  # in 30 days
            resident("R2", birth="1966-07-02"),  # in 31 days
            resident("R3", birth="1966-06-01"),  # today
            resident("R4", birth="1966-05-31"),  # yesterday: missed, not pushed late
            resident("R5", birth="1965-06-15")]  # turns 61
    assert set(due(rows, "senior_card")) == {"R1", "R3"}


def test_senior_card_is_due_on_the_birthday_but_never_in_under_three_days():
    rows = [resident("R1", birth="1966-07-01"), resident("R3", birth="1966-06-01")]
    assert due(rows, "senior_card") == {"R1": "2026-07-01", "R3": "2026-06-04"}


def test_a_29_february_birthday_falls_on_28_february_in_a_common_year():
    births = np.array(["1968-02-29", "1966-02-28"], dtype="datetime64[D]")
    assert [str(x) for x in birthday(births, 60)] == ["2028-02-29", "2026-02-28"]
    assert str(birthday(births[:1], 61)[0]) == "2029-02-28"


# ---- tenancy ending or ended ----------------------------------------------------------
def test_tenant_reregistration_within_30_days_of_the_end_or_after_it():
    rows = [resident("R1", tenant=True, lease_holder=True, lease_end="2026-07-01"),  # +30
            resident("R2", tenant=True, lease_holder=True, lease_end="2026-07-02"),  # +31
            resident("R3", tenant=True, lease_holder=True, lease_end="2025-11-01"),  # ended
            resident("R4", tenant=True, lease_holder=False, lease_end="2026-06-10"),
            resident("R5")]
    assert set(due(rows, "tenant_reregister")) == {"R1", "R3"}


def test_an_ended_tenancy_is_due_in_three_days():
    rows = [resident("R3", tenant=True, lease_holder=True, lease_end="2025-11-01")]
    assert due(rows, "tenant_reregister") == {"R3": "2026-06-04"}


# ---- elderly living alone, not visited for 7 days ------------------------------------------
def test_an_elderly_person_living_alone_is_visited_every_seven_days():
    old = "1950-01-01"
    rows = [resident("R1", birth=old, living_alone=True, last_visit="2026-05-25"),  # 7 days
            resident("R2", birth=old, living_alone=True, last_visit="2026-05-26"),  # 6 days
            resident("R3", birth="1957-01-01", living_alone=True, last_visit="2026-05-01"),
            resident("R4", birth=old, living_alone=False, last_visit="2026-05-01"),
            resident("R5", birth="1956-06-01", living_alone=True, last_visit="2026-05-01")]
    assert due(rows, "elderly_alone_visit") == {"R1": "2026-06-02", "R5": "2026-06-02"}


def test_an_elderly_person_living_alone_never_visited_is_due_today():
    rows = [resident("R1", birth="1956-06-01", living_alone=True),  # 70 today, never visited
            resident("R2", birth="1956-06-02", living_alone=True),  # 70 tomorrow
            resident("R3", birth="1950-01-01", living_alone=False),  # not alone
            resident("R4", birth="1950-01-01", living_alone=True, last_visit="2026-05-26")]
    c = candidates(frame(rows), rule("elderly_alone_visit"), DAY)
    assert list(c["rid"]) == ["R1"]
    assert str(np.datetime64(c["occasion"][0], "D")) == "2026-06-01"  # due from today
    assert due(rows, "elderly_alone_visit") == {"R1": "2026-06-02"}  # like a visit due today


# ---- longevity allowance and ID card -----------------------------------------------------
def test_longevity_allowance_for_whoever_turns_80_within_30_days():
    rows = [resident("R1", birth="1946-06-20"), resident("R2", birth="1946-07-10"),
            resident("R3", birth="1956-06-20")]
    assert set(due(rows, "longevity_allowance")) == {"R1"}


def test_id_card_renewal_from_30_days_before_to_60_days_after_expiry():
    rows = [resident("R1", id_expiry="2026-07-01"), resident("R2", id_expiry="2026-07-02"),
            resident("R3", id_expiry="2026-04-02"), resident("R4", id_expiry="2026-04-01"),
            resident("R5", id_expiry=None)]
    assert set(due(rows, "id_card_renewal")) == {"R1", "R3"}


def test_one_task_id_per_rule_resident_and_occasion():
    rows = [resident("R1", birth="1966-07-01")]
    c = candidates(frame(rows), rule("senior_card"), DAY)
    assert list(task_ids(c)) == ["senior_card.R1.20260701"]
    later = candidates(frame(rows), rule("senior_card"), day("2026-06-20"))
    assert list(task_ids(later)) == ["senior_card.R1.20260701"]


def test_a_renewed_date_laid_over_the_registry_ends_the_rule():
    rows = [resident("R1", tenant=True, lease_holder=True, lease_end="2026-06-10")]
    df = with_overlay(frame(rows), parse_overlay({b"R1|lease_end": b"2027-06-01"}))
    assert str(df.loc["R1", "lease_end"])[:10] == "2027-06-01"
    assert candidates(df, rule("tenant_reregister"), DAY).empty


def test_a_rule_file_with_an_unknown_kind_fails_with_its_name(tmp_path: Path):
    bad = tmp_path / "service_rules.json"
    bad.write_text('{"rules": [{"code": "x", "name": "X", "kind": "moon_phase"}]}')
    with pytest.raises(RulesError, match="rules\\[0\\] \\(x\\): kind"):
        load_rules(bad)


def test_the_committed_registry_loads_and_is_realistic():
    df = load_residents(ROOT / "data" / "districts" / "dongli" / "residents.parquet")
    assert 250_000 < len(df) < 400_000
    assert df["id_no"].str.fullmatch(r"120110\d{11}[\dX]").all()
    assert df["id_no"].is_unique
    from scripts.gen_people import id_check_digit

    sample = df["id_no"].sample(200, random_state=1)
    assert all(id_check_digit(x[:17]) == x[17] for x in sample)
    assert df["living_alone"].mean() > 0.02 and df["lease_holder"].sum() > 10_000


# ---- tasks in Redis -----------------------------------------------------------------------
def _at(svc, iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=svc.days.tz).timestamp()


@pytest.fixture
def registry(svc):
    return use_registry(svc, [
        resident("R1", birth="1966-07-01"),
        resident("R2", grid="WX-01-02", tenant=True, lease_holder=True, lease_end="2026-06-10"),
        resident("R3", birth="1950-01-01", living_alone=True, last_visit="2026-05-20"),
        resident("R4")])


def test_a_rule_run_pushes_each_task_to_the_grid_worker_once(svc, clock, registry):
    clock.set(_at(svc, "2026-06-01T06:00"))
    first = run_service_rules(svc, clock.now())
    assert first["created"] == 3
    assert first["by_rule"] == {"senior_card": 1, "tenant_reregister": 1,
                                "elderly_alone_visit": 1}
    w1 = svc.district.worker_of_grid("WX-01-01").id
    w2 = svc.district.worker_of_grid("WX-01-02").id
    assert svc.r.zcard(svc.keys.tasks_worker(w1)) == 2
    assert svc.r.zrange(svc.keys.tasks_worker(w2), 0, -1) == [
        b"tenant_reregister.R2.20260610"]
    clock.advance(86400)
    again = run_service_rules(svc, clock.now())
    assert again["created"] == 0
    assert svc.r.zcard(svc.keys.tasks_open()) == 3
    assert int(svc.r.hget(svc.keys.task_stats("20260601"), "pushed|senior_card")) == 1


def test_a_done_task_is_done_once_and_renews_the_residents_date(svc, clock, registry):
    clock.set(_at(svc, "2026-06-01T06:00"))
    run_service_rules(svc, clock.now())
    tid = "tenant_reregister.R2.20260610"
    worker = svc.district.worker_of_grid("WX-01-02").id
    clock.advance(3 * 3600)
    task, done = complete_task(svc, tid, worker, "新租户已登记", clock.now())
    assert done and task.status == "done" and task.note == "新租户已登记"
    _, again = complete_task(svc, tid, worker, "", clock.now())
    assert not again
    assert int(svc.r.hget(svc.keys.task_stats("20260601"), "done|tenant_reregister")) == 1
    assert int(svc.r.hget(svc.keys.worker_day("20260601"), f"{worker}|tasks_done")) == 1
    assert str(registry_now(svc).loc["R2", "lease_end"])[:10] == "2027-06-01"
    clock.advance(86400)
    assert run_service_rules(svc, clock.now())["created"] == 0


def test_a_task_cannot_be_done_by_another_worker_or_if_unknown(svc, clock, registry):
    clock.set(_at(svc, "2026-06-01T06:00"))
    run_service_rules(svc, clock.now())
    with pytest.raises(TaskError) as err:
        complete_task(svc, "senior_card.R1.20260701", "W0099", "", clock.now())
    assert err.value.status == 403
    with pytest.raises(TaskError) as err:
        complete_task(svc, "senior_card.R9.20260701", "", "", clock.now())
    assert err.value.status == 404


def test_the_visit_rule_comes_back_a_week_after_the_visit(svc, clock, registry):
    clock.set(_at(svc, "2026-06-01T06:00"))
    run_service_rules(svc, clock.now())
    worker = svc.district.worker_of_grid("WX-01-01").id
    complete_task(svc, "elderly_alone_visit.R3.20260527", worker, "", clock.now())
    clock.set(_at(svc, "2026-06-07T06:00"))
    assert run_service_rules(svc, clock.now())["by_rule"] == {}
    clock.set(_at(svc, "2026-06-08T06:00"))
    assert run_service_rules(svc, clock.now())["by_rule"] == {"elderly_alone_visit": 1}
    assert svc.r.exists(svc.keys.task("elderly_alone_visit.R3.20260608"))


def test_a_never_visited_person_gets_one_visit_task_until_it_is_done(svc, clock):
    use_registry(svc, [resident("R5", birth="1940-03-01", living_alone=True)])
    worker = svc.district.worker_of_grid("WX-01-01").id
    clock.set(_at(svc, "2026-06-01T06:00"))
    assert run_service_rules(svc, clock.now())["by_rule"] == {"elderly_alone_visit": 1}
    tid = "elderly_alone_visit.R5.20260601"
    assert svc.r.zrange(svc.keys.tasks_worker(worker), 0, -1) == [tid.encode()]
    for later in ("2026-06-02T06:00", "2026-06-05T06:00"):  # overdue, not pushed again
        clock.set(_at(svc, later))
        assert run_service_rules(svc, clock.now())["created"] == 0
    assert svc.r.zcard(svc.keys.tasks_worker(worker)) == 1
    complete_task(svc, tid, worker, "已探访", clock.now())
    assert str(registry_now(svc).loc["R5", "last_visit"])[:10] == "2026-06-05"
    clock.set(_at(svc, "2026-06-12T06:00"))
    assert run_service_rules(svc, clock.now())["by_rule"] == {"elderly_alone_visit": 1}
    assert svc.r.exists(svc.keys.task("elderly_alone_visit.R5.20260612"))


def test_the_rule_run_reads_the_rules_of_the_district(svc):
    assert {r.code for r in people(svc).service_rules} >= {
        "senior_card", "tenant_reregister", "elderly_alone_visit", "longevity_allowance",
        "id_card_renewal"}
