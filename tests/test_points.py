"""Party-member points: awards made once, boards per scope, explanations, cases read in."""

from __future__ import annotations

from datetime import datetime

import pytest

from dashboard.cases import Case, to_hash
from dashboard.people import people
from dashboard.people_queries import leaderboard, member_points
from dashboard.points import PointsError
from streams.people import TaskError, record_volunteer, sync_cases
from tests._people import resident, use_registry

PARTY, OTHER = "W0009", "W0001"  # W0009 (WX-01-09) is a party member, W0001 is not


def at(svc, iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=svc.days.tz).timestamp()


def award(svc, member: str, rule: str, ref: str, ts: float, points=None) -> bool:
    ctx = people(svc)
    return ctx.ledger.award(ctx.member(member), rule, ref, ts, ctx.month(ts), points)


def test_an_award_is_made_once_per_rule_and_reference(svc, clock):
    now = clock.now()
    assert award(svc, PARTY, "task_done", "senior_card.R1.20260701", now)
    assert not award(svc, PARTY, "task_done", "senior_card.R1.20260701", now + 60)
    assert svc.r.zscore(svc.keys.points_board("all"), PARTY) == 3


def test_points_go_to_party_members_only(svc, clock):
    assert not award(svc, OTHER, "task_done", "t1", clock.now())
    assert svc.r.zscore(svc.keys.points_board("all"), OTHER) is None


def test_boards_are_kept_for_the_district_street_station_month_and_all_time(svc, clock):
    may, june = at(svc, "2026-05-30T10:00"), at(svc, "2026-06-02T10:00")
    award(svc, PARTY, "task_done", "t1", may)
    award(svc, PARTY, "case_confirmed", "c1", june)
    k = svc.keys
    assert svc.r.zscore(k.points_board("all"), PARTY) == 5
    assert svc.r.zscore(k.points_board("202605"), PARTY) == 3
    assert svc.r.zscore(k.points_board("202606", "street.wanxin"), PARTY) == 2
    assert svc.r.zscore(k.points_board("all", "station.WX-01"), PARTY) == 5
    assert svc.r.zscore(k.points_board("all", "station.WX-02"), PARTY) is None


def test_a_score_is_explained_award_by_award(svc, clock):
    clock.set(at(svc, "2026-05-30T12:00"))
    award(svc, PARTY, "task_done", "senior_card.R1.20260701", at(svc, "2026-05-30T09:00"))
    award(svc, PARTY, "verify_on_time", "260530000001", at(svc, "2026-05-30T11:00"))
    doc = member_points(svc, PARTY)
    assert (doc["total"], doc["month_points"], doc["month_rank"]) == (4, 4, 1)
    assert [(a["rule"], a["points"], a["ref"]) for a in doc["awards"]] == [
        ("verify_on_time", 1, "260530000001"), ("task_done", 3, "senior_card.R1.20260701")]
    assert doc["awards"][1]["rule_name"] == "完成主动服务任务"


def test_the_leaderboard_ranks_members_with_names(svc, clock):
    clock.set(at(svc, "2026-05-30T12:00"))
    award(svc, PARTY, "task_done", "t1", clock.now())
    award(svc, "W0015", "task_done", "t2", clock.now())
    award(svc, "W0015", "case_confirmed", "c2", clock.now())
    board = leaderboard(svc, "month")
    assert [(r["member"], r["points"], r["rank"]) for r in board["rows"]] == [
        ("W0015", 5, 1), (PARTY, 3, 2)]
    assert board["rows"][0]["name"] == "刘琳" and board["rows"][0]["station"] == "WX-02"
    assert leaderboard(svc, "month", station="WX-01")["rows"][0]["member"] == PARTY


# ---- volunteer activity -------------------------------------------------------------------------
@pytest.fixture
def residents(svc):
    return use_registry(svc, [resident("R1", name="张泽辉", party_member=True),
                              resident("R2", name="李梅", party_member=False)])


def test_a_supervisor_records_volunteer_points_for_a_resident_party_member(svc, clock,
                                                                             residents):
    ok, out = record_volunteer(svc, "R1", "社区清扫", 5, "站长郑淑珍", "", clock.now())
    assert ok and out["award"].startswith("volunteer:R1:")
    again, _ = record_volunteer(svc, "R1", "社区清扫", 5, "站长郑淑珍", "", clock.now())
    assert not again  # the same activity on the same day is one award
    doc = member_points(svc, "R1")
    assert doc["name"] == "张*辉" and doc["total"] == 5
    assert doc["awards"][0]["note"] == "社区清扫" and doc["awards"][0]["by"] == "站长郑淑珍"


def test_volunteer_points_are_bounded_by_the_rule(svc, clock, residents):
    with pytest.raises(PointsError, match="1 to 10"):
        record_volunteer(svc, "R1", "扫雪", 50, "x", "", clock.now())


def test_volunteer_points_need_a_known_party_member(svc, clock, residents):
    with pytest.raises(TaskError) as err:
        record_volunteer(svc, "R2", "扫雪", 3, "x", "", clock.now())
    assert err.value.status == 422
    with pytest.raises(TaskError) as err:
        record_volunteer(svc, "R404", "扫雪", 3, "x", "", clock.now())
    assert err.value.status == 404


def test_the_recorders_own_words_are_kept_as_a_note_not_as_who(svc, clock, residents):
    record_volunteer(svc, "R1", "社区清扫", 5, "admin key …1234", "", clock.now(),
                     note="区委书记")
    [a] = member_points(svc, "R1")["awards"]
    assert (a["by"], a["note"]) == ("admin key …1234", "社区清扫 · 区委书记")


# ---- the wall's KPI strip ------------------------------------------------------------------------
def test_the_kpi_strip_does_not_read_the_months_points_board(svc, clock, monkeypatch):
    from dashboard.people_queries import wall_kpis

    for i in range(50):
        award(svc, PARTY, "task_done", f"t{i}", clock.now())
    board = svc.keys.points_board(people(svc).month(clock.now()))
    assert svc.r.zcard(board) == 1
    touched: list[tuple] = []
    real = svc.r.execute_command

    def spy(*args, **kw):
        touched.append(args)
        return real(*args, **kw)

    monkeypatch.setattr(svc.r, "execute_command", spy)
    kpis = wall_kpis(svc)
    assert touched and not [a for a in touched if board in map(str, a)]
    assert "month_points" not in kpis  # the page never showed it
    assert set(kpis) >= {"pushed", "done", "overdue", "double_patrol", "mean_score",
                         "anomalies", "workers"}


# ---- cases read into counts and points -----------------------------------------------------------
def put_case(svc, cid: str, worker: str, reported: float, state: str = "dispatched",
             **kw) -> None:
    grid = svc.district.worker(worker).grid
    g = svc.district.grid(grid)
    c = Case(id=cid, item="cg01", urgency="normal", state=state, dept="chengguan", lat=39.1,
             lon=117.3, grid=grid, station=g.station, street=g.street, worker=worker,
             reported_at=reported, updated_at=reported, rv=1, **kw)
    svc.r.hset(svc.keys.case(cid), mapping=to_hash(c))
    svc.r.zadd(svc.keys.cases_all(), {cid: reported})


def test_a_confirmed_case_earns_its_reporter_points_and_counts_as_reported(svc, clock):
    t = at(svc, "2026-05-30T09:00")
    clock.set(t + 6 * 3600)
    put_case(svc, "c1", PARTY, t, "accepted", accepted_at=t + 600)
    put_case(svc, "c2", PARTY, t + 60)  # not yet accepted
    put_case(svc, "c3", PARTY, t + 120, "linked")  # a duplicate: reported, never confirmed
    out = sync_cases(svc, clock.now())
    assert out["awarded"] == 1
    assert int(svc.r.hget(svc.keys.worker_day("20260530"), f"{PARTY}|cases_reported")) == 3
    again = sync_cases(svc, clock.now())
    assert again == {"cases": 3, "counted": 0, "awarded": 0}


def test_a_verification_within_the_window_is_on_time(svc, clock):
    t = at(svc, "2026-05-30T09:00")
    clock.set(t + 3 * 86400)
    put_case(svc, "c1", PARTY, t, "verified", accepted_at=t + 600, handled_at=t + 3600,
             verified_at=t + 3600 + 20 * 3600)
    put_case(svc, "c2", OTHER, t, "verified", accepted_at=t + 600, handled_at=t + 3600,
             verified_at=t + 3600 + 30 * 3600)
    sync_cases(svc, clock.now())
    counts = svc.r.hgetall(svc.keys.worker_day("20260531"))
    assert counts[f"{PARTY}|cases_verified".encode()] == b"1"
    assert f"{OTHER}|cases_verified".encode() not in counts
    awards = {a["rule"] for a in member_points(svc, PARTY)["awards"]}
    assert awards == {"case_confirmed", "verify_on_time"}


# ---- the people keys (could live in test_keys.py) ----------------------------------------------
def test_people_keys_are_pinned_and_share_one_cluster_slot():
    from redis.cluster import key_slot

    from dashboard.keys import Keys

    k = Keys("gw")
    assert k.points_board("202606", "station.WX-01") == "gw:{people}:pb:202606:station.WX-01"
    assert k.task("senior_card.R1.20260701") == "gw:{people}:t:senior_card.R1.20260701"
    assert k.assess_rank("20260601", "street.wanxin") == "gw:{people}:rk:20260601:street.wanxin"
    assert k.anomalies("20260601") == "gw:{people}:an:20260601"
    every = [k.assessment("d"), k.assess_rank("d"), k.assess_days("m"), k.anomalies("d"),
             k.anomaly_feed("d"), k.worker_day("d"), k.people_marks("d"), k.points_awards(),
             k.points_board("all"), k.points_by_rule("all"), k.points_member("W1"),
             k.task("t"), k.tasks_worker("W1"), k.tasks_open(), k.task_stats("d"),
             k.resident_overlay(), k.rule_runs(), k.people_lock("x"), k.people_jobs()]
    assert len({key_slot(x.encode()) for x in every}) == 1
