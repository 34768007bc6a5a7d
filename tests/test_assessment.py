"""Worker assessment: score weights, anomalies, and a day assessed from tracks in Redis."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest

from dashboard.assessment import (
    AssessmentError,
    AssessmentRules,
    anomalies,
    load_rules,
    parts,
    score,
)
from dashboard.config import ROOT
from dashboard.patrols import Analysis
from streams.people import assess_day
from tests._people import cover_walk, put_track, stand

TZ = ZoneInfo("Asia/Shanghai")
DAY = "20260529"
RULES = AssessmentRules()
DUTY_S = 10 * 3600.0


def at(hhmm: str, day: str = "2026-05-29") -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=TZ).timestamp()


def metrics(**kw) -> dict[str, np.ndarray]:
    base = {"patrols": 0, "coverage": 0.0, "distance_m": 0.0, "inside_s": 0.0, "online_s": 0.0,
            "cases_reported": 0, "cases_verified": 0, "tasks_done": 0}
    base.update(kw)
    return {k: np.array([v], dtype=float) for k, v in base.items()}


PERFECT = dict(patrols=2, coverage=0.8, distance_m=9000, inside_s=DUTY_S, online_s=DUTY_S,
               cases_reported=3, cases_verified=1, tasks_done=5)


# ---- score ------------------------------------------------------------------------------
def test_a_worker_meeting_every_target_scores_100():
    assert score(metrics(**PERFECT), RULES, DUTY_S)[0] == 100.0


def test_a_silent_worker_scores_0():
    assert score(metrics(), RULES, DUTY_S)[0] == 0.0


def test_each_part_counts_with_its_weight():
    one_patrol = score(metrics(patrols=1), RULES, DUTY_S)[0]
    assert one_patrol == pytest.approx(100 * 30 * 0.5 / 100)
    only_tasks = score(metrics(tasks_done=3), RULES, DUTY_S)[0]
    assert only_tasks == pytest.approx(10.0)


def test_weights_are_configurable():
    patrols_only = AssessmentRules(weights={"patrols": 1})
    assert score(metrics(patrols=1, tasks_done=9), patrols_only, DUTY_S)[0] == 50.0
    no_patrols = AssessmentRules(weights=RULES.weights | {"patrols": 0})
    assert score(metrics(**PERFECT | {"patrols": 0}), no_patrols, DUTY_S)[0] == 100.0


def test_parts_are_capped_at_one_and_online_is_a_share_of_duty_so_far():
    p = parts(metrics(patrols=5, online_s=1800), RULES, 3600.0)
    assert p["patrols"][0] == 1.0 and p["online"][0] == 0.5
    before_duty = parts(metrics(online_s=0), RULES, 0.0)
    assert before_duty["online"][0] == 0.0


def test_the_district_file_sets_the_patrol_rule_and_weights():
    rules = load_rules(ROOT / "data" / "districts" / "dongli" / "assessment.json")
    assert rules.patrols_per_day == 2 and rules.cutoffs == ("11:30", "17:30")
    assert rules.track.min_minutes == 30 and rules.track.min_coverage == 0.35
    assert sum(rules.weights.values()) == 100


def test_a_weight_for_an_unknown_part_is_refused(tmp_path: Path):
    path = tmp_path / "assessment.json"
    path.write_text(json.dumps({"weights": {"smiles": 5}}))
    with pytest.raises(AssessmentError, match="unknown weight"):
        load_rules(path)


# ---- anomalies ----------------------------------------------------------------------------
def analysis(n: int, patrols=(), first=None, outside=(), stills=(), jumps=()) -> Analysis:
    z = np.zeros(n)
    return Analysis(z, z, z, z, np.zeros(n, np.int64),
                    np.array(first if first is not None else [at("07:45")] * n),
                    list(patrols), list(stills), list(outside), list(jumps))


def test_no_patrol_by_the_cutoff_is_raised_only_after_it_passes():
    a = analysis(2, patrols=[(0, at("09:00"), at("10:00"), 0.5)])
    assert anomalies(a, ["W1", "W2"], RULES, DAY, TZ, at("11:29")) == []
    found = anomalies(a, ["W1", "W2"], RULES, DAY, TZ, at("11:30"))
    assert [(x.worker, x.kind, x.id) for x in found] == [
        ("W2", "no_patrol", f"{DAY}:W2:no_patrol:1")]


def test_the_second_cutoff_needs_two_patrols():
    a = analysis(1, patrols=[(0, at("09:00"), at("10:00"), 0.5)])
    found = anomalies(a, ["W1"], RULES, DAY, TZ, at("17:30"))
    assert [(x.detail["required"], x.detail["done"]) for x in found] == [(2, 1)]


def test_a_worker_without_any_fix_is_flagged_at_each_cutoff_as_offline():
    a = analysis(1, first=[0.0])  # the phone was off all day: the worst case
    found = anomalies(a, ["W1"], RULES, DAY, TZ, at("18:00"))
    assert [(x.kind, x.id) for x in found] == [("no_patrol", f"{DAY}:W1:no_patrol:1"),
                                               ("no_patrol", f"{DAY}:W1:no_patrol:2")]
    assert found[0].detail == {"cutoff": "11:30", "required": 1, "done": 0, "offline": True}


def test_a_phone_off_all_morning_is_flagged_offline_by_the_first_cutoff_only():
    a = analysis(1, first=[at("12:10")])
    found = anomalies(a, ["W1"], RULES, DAY, TZ, at("18:00"))
    assert [(x.detail["required"], x.detail.get("offline", False)) for x in found] == [
        (1, True), (2, False)]


def test_outside_still_and_impossible_anomalies_carry_their_times():
    a = analysis(1, outside=[(0, at("10:00"), at("10:45"))],
                 stills=[(0, at("14:00"), at("14:12"))],
                 jumps=[(0, at("15:00") + 600 * i, 5000, 900.0) for i in range(8)])
    found = anomalies(a, ["W1"], RULES, DAY, TZ, at("11:00"))
    kinds = [x.kind for x in found]
    assert kinds.count("outside") == 1 and kinds.count("still") == 1
    assert kinds.count("impossible") == RULES.impossible_per_day
    outside = next(x for x in found if x.kind == "outside")
    assert outside.detail == {"minutes": 45}


# ---- a day from Redis -----------------------------------------------------------------------
W_PARTY, W_OTHER = "W0009", "W0001"  # both in station WX-01; W0009 is a party member


@pytest.fixture
def day_of_tracks(svc):
    for wid in (W_PARTY, W_OTHER):
        ring = svc.district.grid(svc.district.worker(wid).grid).ring
        first = cover_walk(ring, at("08:30"))
        points = first + cover_walk(ring, at("14:30")) if wid == W_PARTY else first
        put_track(svc, wid, points)
    return svc


def test_a_day_is_assessed_from_the_tracks_in_redis(day_of_tracks):
    svc = day_of_tracks
    out = assess_day(svc, DAY, at("18:30"))
    assert out["workers"] == len(svc.district.workers)
    party = orjson.loads(svc.r.hget(svc.keys.assessment(DAY), W_PARTY))
    other = orjson.loads(svc.r.hget(svc.keys.assessment(DAY), W_OTHER))
    assert (party["patrols"], other["patrols"]) == (2, 1)
    assert party["coverage"] > 0.8 and party["distance_m"] > 4000
    assert party["score"] > other["score"] > 0
    assert len(party["patrol_list"]) == 2


def test_rankings_are_kept_per_station_and_street(day_of_tracks):
    svc = day_of_tracks
    assess_day(svc, DAY, at("18:30"))
    station = svc.r.zrevrange(svc.keys.assess_rank(DAY, "station.WX-01"), 0, 1)
    assert station == [W_PARTY.encode(), W_OTHER.encode()]
    assert svc.r.zcard(svc.keys.assess_rank(DAY, "street.wanxin")) == sum(
        1 for w in svc.district.workers if w.grid.startswith("WX"))


def test_a_rerun_raises_each_anomaly_once(day_of_tracks):
    svc = day_of_tracks
    first = assess_day(svc, DAY, at("18:30"))
    again = assess_day(svc, DAY, at("18:35"))
    silent = len(svc.district.workers) - 2  # no fix all day: no patrol by either cut-off
    assert first["anomalies"] == 1 + 2 * silent  # W_OTHER: one patrol by 17:30
    assert again["anomalies"] == 0
    assert svc.r.hlen(svc.keys.anomalies(DAY)) == 1 + 2 * silent
    ours = [json.loads(v) for v in svc.r.hvals(svc.keys.anomalies(DAY))
            if json.loads(v)["worker"] in (W_PARTY, W_OTHER)]
    assert [(a["worker"], a["detail"]) for a in ours] == [
        (W_OTHER, {"cutoff": "17:30", "required": 2, "done": 1})]


def test_a_worker_whose_phone_stayed_off_is_on_the_walls_anomaly_feed(day_of_tracks, clock):
    from dashboard.people_queries import wall_anomalies

    svc = day_of_tracks
    silent = "W0002"  # same station, no fix all day
    assert not svc.r.exists(svc.keys.gps_track(svc.keys.gps_shard(silent), DAY, silent))
    clock.set(at("11:40"))
    assess_day(svc, DAY, clock.now())
    raw = svc.r.hget(svc.keys.anomalies(DAY), f"{DAY}:{silent}:no_patrol:1")
    assert json.loads(raw)["detail"] == {"cutoff": "11:30", "required": 1, "done": 0,
                                         "offline": True}
    feed = wall_anomalies(svc)
    assert feed["counts"]["no_patrol"] == len(svc.district.workers) - 2
    assert len(feed["items"]) == 8  # the wall shows the newest eight
    assert all(x["kind"] == "no_patrol" and x["detail"]["offline"] for x in feed["items"])


def test_a_day_without_any_fix_in_the_district_flags_nobody_offline(svc):
    # nobody's phone reached us: the ingest was down (or not yet running), not the workers
    assert assess_day(svc, DAY, at("18:30"))["anomalies"] == 0


def test_two_patrols_earn_a_party_member_the_double_patrol_points(day_of_tracks):
    svc = day_of_tracks
    assess_day(svc, DAY, at("18:30"))
    assess_day(svc, DAY, at("18:40"))
    assert svc.r.zscore(svc.keys.points_board("all"), W_PARTY) == 1.0
    assert svc.r.zscore(svc.keys.points_board("202605"), W_PARTY) == 1.0


def test_a_jump_out_and_straight_back_is_one_anomaly():
    a = analysis(1, jumps=[(0, at("10:00"), 5000, 900.0), (0, at("10:00") + 10, 5000, 500.0)])
    found = anomalies(a, ["W1"], RULES, DAY, TZ, at("10:10"))
    assert [x.kind for x in found] == ["impossible"]


# ---- deviant days through the assessment job, Redis and the wall's feed ------------------------
def _outside(svc, wid: str) -> list:
    """A patrol, then fifty minutes 700 m east of the grid, then another patrol."""
    ring = svc.district.grid(svc.district.worker(wid).grid).ring
    walk = cover_walk(ring, at("08:10"))
    t, la, lo = walk[-1]
    away = stand(t + 180, la, lo, 50, east_m=700)
    return walk + away + cover_walk(ring, away[-1][0] + 600)  # back at a walking pace


def _still(svc, wid: str) -> list:
    """A patrol with thirteen minutes standing still in its middle."""
    ring = svc.district.grid(svc.district.worker(wid).grid).ring
    walk = cover_walk(ring, at("08:20"))
    half = len(walk) // 2
    t, la, lo = walk[half]
    return (walk[:half] + stand(t + 30, la, lo, 12.5)
            + [(tt + 13 * 60, a, b) for tt, a, b in walk[half + 1:]])


def _impossible(svc, wid: str) -> list:
    """A patrol with a 900 m jump out and straight back two seconds later."""
    ring = svc.district.grid(svc.district.worker(wid).grid).ring
    walk = cover_walk(ring, at("08:40"))
    t, la, lo = walk[40]
    return walk[:40] + [(t + 2, la + 0.008, lo)] + [(tt + 4, a, b) for tt, a, b in walk[40:]]


@pytest.mark.parametrize(("kind", "track"), [("outside", _outside), ("still", _still),
                                             ("impossible", _impossible)])
def test_a_deviant_track_is_stored_and_reaches_the_walls_anomaly_feed(svc, clock, kind, track):
    from dashboard.people_queries import wall_anomalies, worker_assessment

    wid = "W0003"
    put_track(svc, wid, track(svc, wid))
    clock.set(at("11:20"))  # before the first cut-off: no patrol anomalies yet
    out = assess_day(svc, DAY, clock.now())
    assert out["anomalies"] == 1
    [(key, raw)] = svc.r.hgetall(svc.keys.anomalies(DAY)).items()
    stored = json.loads(raw)
    assert key.decode() == stored["id"] and key.decode().startswith(f"{DAY}:{wid}:{kind}:")
    assert (stored["worker"], stored["kind"]) == (wid, kind)
    assert at("08:00") < stored["at"] < at("11:20")
    if kind == "impossible":
        assert stored["detail"]["metres"] > 800 and stored["detail"]["mps"] > 15
    else:
        assert stored["until"] > stored["at"]
        assert stored["detail"]["minutes"] >= (30 if kind == "outside" else 10)
    assert svc.r.zscore(svc.keys.anomaly_feed(DAY), stored["id"]) == stored["at"]
    feed = wall_anomalies(svc)
    assert feed["counts"] == {k: int(k == kind) for k in
                              ("no_patrol", "outside", "still", "impossible")}
    [item] = feed["items"]
    assert item["id"] == stored["id"] and item["name"] == svc.district.worker(wid).name
    assert item["grid"] == svc.district.worker(wid).grid and item["grid_name"]
    assert worker_assessment(svc, wid, DAY)["anomalies"] == [stored]
    assert assess_day(svc, DAY, clock.now() + 300)["anomalies"] == 0  # raised once


# ---- the periodic driver --------------------------------------------------------------------
def test_the_jobs_run_what_is_due_once_and_finalise_yesterday_after_midnight(svc, clock):
    from streams.people import PeopleJobs
    from tests._people import resident, use_registry

    use_registry(svc, [resident("R1", birth="1966-06-20")])
    jobs = PeopleJobs(svc)
    clock.set(at("07:00"))
    first = jobs.run_once(clock.now())
    assert set(first) == {"cases", "assess", "final", "rules"}
    assert first["final"]["day"] == "20260528"
    assert first["rules"]["created"] == 1
    assert jobs.run_once(clock.now()) == {}  # nothing due again yet
    clock.set(at("00:20", "2026-05-30"))
    svc.r.delete(svc.keys.people_lock("assess"), svc.keys.people_lock("cases"))
    after = jobs.run_once(clock.now())
    assert after["final"] == {"day": DAY, "workers": len(svc.district.workers),
                              "anomalies": 0, "final": True}
    assert "rules" not in after  # before SERVICE_RULES_AT
    assert "final" not in jobs.run_once(clock.now())
