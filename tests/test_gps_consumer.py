"""The gps consumer: filters, read models, idempotent redelivery, claims and dead letters."""

from __future__ import annotations

import pytest

from dashboard import queries
from streams.consumer import Consumer, Source
from streams.fixes import fix_to_fields, parse_position
from streams.gps import GpsHandler
from streams.gps_state import IDLE, OUTSIDE, PATROLLING, WorkerState, unpack_track


def _inside(svc, wid, f=0.5):
    """Return a point inside the worker's own grid (f moves along its diagonal)."""
    grid = svc.district.grid(svc.district.worker(wid).grid)
    c = svc.locator.polygons[svc.locator.grid_index(grid.code)].representative_point()
    return c.y, c.x


def _add(svc, wid, ts, lat, lon, **extra):
    fix = parse_position({"id": wid, "timestamp": ts, "lat": lat, "lon": lon, **extra})
    return svc.r.xadd(svc.keys.gps_stream(svc.keys.gps_shard(wid)), fix_to_fields(fix))


def _state(svc, wid) -> WorkerState:
    return WorkerState.unpack(svc.r.hget(svc.keys.gps_last(0), wid))


def _deadletters(svc):
    return [
        {k.decode(): v.decode() for k, v in e[1].items()}
        for e in svc.r.xrange(svc.keys.deadletter("gps"))
    ]


def test_a_fix_becomes_the_latest_state_and_a_track_point(svc, gps_consumer, clock):
    lat, lon = _inside(svc, "W0001")
    _add(svc, "W0001", clock.now() - 10, lat, lon)
    assert gps_consumer.drain() == 1
    s = _state(svc, "W0001")
    assert (s.lat, s.lon, s.grid) == (pytest.approx(lat), pytest.approx(lon), "WX-01-01")
    day = svc.days.day(clock.now())
    pts = unpack_track(svc.r.get(svc.keys.gps_track(0, day, "W0001")))
    assert len(pts) == 1 and pts[0][1] == pytest.approx(lat, abs=1e-6)


def test_moving_inside_the_own_grid_is_patrolling_and_standing_is_idle(svc, gps_consumer, clock):
    lat, lon = _inside(svc, "W0001")
    t = clock.now() - 100
    _add(svc, "W0001", t, lat, lon)
    _add(svc, "W0001", t + 10, lat + 0.0001, lon)  # 11 m in 10 s
    gps_consumer.drain()
    assert _state(svc, "W0001").status == PATROLLING
    _add(svc, "W0001", t + 70, lat + 0.0001, lon)
    gps_consumer.drain()
    assert _state(svc, "W0001").status == IDLE


def test_a_fix_in_another_grid_is_outside(svc, gps_consumer, clock):
    lat, lon = _inside(svc, "W0002")  # W0002's grid, reported by W0001
    _add(svc, "W0001", clock.now() - 5, lat, lon)
    gps_consumer.drain()
    assert _state(svc, "W0001").status == OUTSIDE
    assert queries.worker(svc, "W0001")["position"]["inside_own_grid"] is False


def test_a_worker_silent_too_long_is_offline(svc, gps_consumer, clock):
    lat, lon = _inside(svc, "W0001")
    _add(svc, "W0001", clock.now() - 5, lat, lon)
    gps_consumer.drain()
    assert queries.worker(svc, "W0001")["status"] == "idle"
    clock.advance(svc.settings.offline_after_s + 1)
    assert queries.worker(svc, "W0001")["status"] == "offline"


@pytest.mark.parametrize("offset,reason", [(+3600, "future timestamp"), (-3 * 86400, "too old")])
def test_fixes_outside_the_time_window_are_dead_lettered(svc, gps_consumer, clock, offset, reason):
    lat, lon = _inside(svc, "W0001")
    _add(svc, "W0001", clock.now() + offset, lat, lon)
    gps_consumer.drain()
    assert svc.r.hget(svc.keys.gps_last(0), "W0001") is None
    assert _deadletters(svc)[0]["reason"].startswith(reason)


def test_an_impossible_jump_is_dead_lettered_and_the_next_good_fix_accepted(
    svc, gps_consumer, clock
):
    lat, lon = _inside(svc, "W0001")
    t = clock.now() - 100
    _add(svc, "W0001", t, lat, lon)
    _add(svc, "W0001", t + 5, lat + 0.2, lon)  # 22 km in 5 s
    _add(svc, "W0001", t + 10, lat + 0.00005, lon)
    gps_consumer.drain()
    assert [d["reason"].split(":")[0] for d in _deadletters(svc)] == ["impossible jump"]
    assert _state(svc, "W0001").ts == t + 10


def test_a_duplicate_fix_is_dead_lettered_as_duplicate(svc, gps_consumer, clock):
    lat, lon = _inside(svc, "W0001")
    t = clock.now() - 100
    _add(svc, "W0001", t, lat, lon)
    _add(svc, "W0001", t, lat, lon)
    _add(svc, "W0001", t - 50, lat, lon)
    gps_consumer.drain()
    assert [d["reason"].split(":")[0] for d in _deadletters(svc)] == [
        "duplicate fix",
        "out of order",
    ]


def test_unknown_workers_and_malformed_entries_are_dead_lettered_with_reasons(
    svc, gps_consumer, clock
):
    svc.r.xadd(svc.keys.gps_stream(0), {"w": "NOBODY", "t": clock.now(), "la": 39.1, "lo": 117.3})
    svc.r.xadd(svc.keys.gps_stream(0), {"w": "W0001", "t": clock.now(), "la": "north"})
    gps_consumer.drain()
    reasons = [d["reason"] for d in _deadletters(svc)]
    assert reasons[0] == "unknown worker: NOBODY"
    assert reasons[1].startswith("malformed: missing lon") or "lat" in reasons[1]
    counts = svc.r.hgetall(svc.keys.deadletter_reasons("gps"))
    assert counts[b"unknown worker"] == b"1" and counts[b"malformed"] == b"1"


def test_a_batch_redelivered_after_a_crash_applies_nothing_twice(svc, gps_consumer, clock):
    lat, lon = _inside(svc, "W0001")
    t = clock.now() - 100
    for i in range(3):
        _add(svc, "W0001", t + i * 10, lat + i * 0.0001, lon)
    _add(svc, "W0001", t + 5, lat, lon)  # out of order: dead-lettered once
    gps_consumer.ensure_groups()
    stream = svc.keys.gps_stream(0)
    [(_, entries)] = svc.r.xreadgroup(gps_consumer.group, "crashed", {stream: ">"})
    failures = gps_consumer.handler.handle(entries, Source(stream, gps_consumer.group, "crashed"))
    assert [f.reason for f in failures] == ["out of order: older than last fix"]
    # ... and the consumer dies before it dead-letters and acks: another one claims the rest
    state = svc.r.hget(svc.keys.gps_last(0), "W0001")
    track = svc.r.get(svc.keys.gps_track(0, svc.days.day(t), "W0001"))
    claimer = Consumer(svc.r, svc.keys, gps_consumer.handler, name="claimer", claim_idle_ms=0,
                       clock=clock)
    assert claimer.claim_stale() == 1  # the accepted fixes were acknowledged as they were applied
    assert svc.r.hget(svc.keys.gps_last(0), "W0001") == state
    assert svc.r.get(svc.keys.gps_track(0, svc.days.day(t), "W0001")) == track
    assert svc.r.get(svc.keys.counter("gps.accepted")) == b"3"
    assert [d["reason"] for d in _deadletters(svc)] == ["out of order: older than last fix"]
    assert svc.r.xpending(stream, gps_consumer.group)["pending"] == 0


def test_a_fix_older_than_what_another_consumer_applied_is_refused_as_out_of_order(svc, clock):
    mk = lambda name: Consumer(svc.r, svc.keys, GpsHandler(  # noqa: E731
        svc.r, svc.keys, svc.settings, svc.district, svc.locator, clock), name=name, clock=clock)
    a, b = mk("a"), mk("b")
    a.ensure_groups()
    lat, lon = _inside(svc, "W0001")
    stream, t = svc.keys.gps_stream(0), clock.now() - 100
    _add(svc, "W0001", t, lat, lon)
    _add(svc, "W0001", t + 10, lat + 0.0001, lon)
    [(_, held)] = svc.r.xreadgroup(a.group, "a", {stream: ">"}, count=1)  # a holds the older
    assert b.drain() == 1  # b applies the newer one meanwhile
    a.process(stream, held)
    assert len(unpack_track(svc.r.get(svc.keys.gps_track(0, svc.days.day(t), "W0001")))) == 1
    assert [d["reason"] for d in _deadletters(svc)] == ["out of order: older than last fix"]
    assert _state(svc, "W0001").ts == t + 10
    assert svc.r.xpending(stream, a.group)["pending"] == 0


def test_a_fix_in_the_stream_of_another_shard_is_dead_lettered(svc, clock):
    import dataclasses

    from dashboard.services import build_services

    sharded = build_services(dataclasses.replace(svc.settings, gps_shards=4), clock=clock,
                             r=svc.r)
    wid = "W0001"
    wrong = (sharded.keys.gps_shard(wid) + 1) % 4
    lat, lon = _inside(svc, wid)
    fix = parse_position({"id": wid, "timestamp": clock.now() - 5, "lat": lat, "lon": lon})
    svc.r.xadd(sharded.keys.gps_stream(wrong), fix_to_fields(fix))
    handler = GpsHandler(svc.r, sharded.keys, sharded.settings, svc.district, svc.locator, clock)
    assert Consumer(svc.r, sharded.keys, handler, name="c", clock=clock).drain() == 1
    [letter] = _deadletters(sharded)
    assert letter["reason"] == f"wrong shard: {wid} is in shard {sharded.keys.gps_shard(wid)}"
    assert sharded.r.hget(sharded.keys.gps_last(wrong), wid) is None


def test_entries_left_pending_by_a_dead_consumer_are_claimed_by_another(svc, clock):
    lat, lon = _inside(svc, "W0001")
    for i in range(5):
        _add(svc, "W0001", clock.now() - 100 + i * 10, lat + i * 0.0001, lon)
    mk = lambda name: Consumer(
        svc.r,
        svc.keys,
        GpsHandler(  # noqa: E731
            svc.r, svc.keys, svc.settings, svc.district, svc.locator, clock
        ),
        name=name,
        claim_idle_ms=10,
        clock=clock,
    )
    dead, alive = mk("dead"), mk("alive")
    dead.ensure_groups()
    svc.r.xreadgroup(dead.group, "dead", {svc.keys.gps_stream(0): ">"}, count=5)  # then "dies"
    assert svc.r.xpending(svc.keys.gps_stream(0), dead.group)["pending"] == 5
    import time

    time.sleep(0.02)  # let the entries idle past claim_idle_ms (10 ms)
    assert alive.claim_stale() == 5
    assert svc.r.xpending(svc.keys.gps_stream(0), dead.group)["pending"] == 0
    assert svc.r.get(svc.keys.counter("gps.accepted")) == b"5"


def test_the_track_is_thinned_by_distance_and_time(svc, gps_consumer, clock):
    lat, lon = _inside(svc, "W0001")
    t = clock.now() - 1000
    for i in range(10):  # standing still, a fix every 5 s: only the first is kept
        _add(svc, "W0001", t + i * 5, lat, lon)
    _add(svc, "W0001", t + 100, lat, lon)  # 60 s passed: kept
    _add(svc, "W0001", t + 105, lat + 0.0002, lon)  # 22 m moved: kept
    gps_consumer.drain()
    day = svc.days.day(clock.now())
    assert len(unpack_track(svc.r.get(svc.keys.gps_track(0, day, "W0001")))) == 3


def test_the_wall_trails_are_todays_tracks_of_the_workers_patrolling_now(svc, gps_consumer,
                                                                         clock):
    lat, lon = _inside(svc, "W0001")
    t = clock.now() - 200
    for i in range(5):  # W0001 walks 22 m every 20 s inside the own grid: patrolling
        _add(svc, "W0001", t + i * 20, lat + i * 0.0002, lon)
    _add(svc, "W0002", t, *_inside(svc, "W0002"))  # one fix, standing: idle
    gps_consumer.drain()
    trails = queries.patrol_trails(svc, max_points=3)
    assert list(trails) == ["W0001"]
    assert _state(svc, "W0001").status == PATROLLING
    assert trails["W0001"][-1] == [pytest.approx(lat + 4 * 0.0002), pytest.approx(lon)]
    assert len(trails["W0001"]) <= 3
    clock.advance(svc.settings.offline_after_s + 10)
    assert queries.patrol_trails(svc) == {}  # silent too long: offline, no trail


def test_the_street_panel_and_kpis_count_workers_by_live_status(svc, gps_consumer, clock):
    lat, lon = _inside(svc, "W0001")
    t = clock.now() - 60
    for i in range(3):  # W0001 walks: patrolling
        _add(svc, "W0001", t + i * 20, lat + i * 0.0002, lon)
    w2 = svc.district.workers[1].id
    _add(svc, w2, t, *_inside(svc, "W0001"))  # in W0001's grid, not its own: outside
    gps_consumer.drain()
    street = svc.district.grid(svc.district.worker("W0001").grid).street
    row = next(r for r in queries.street_status(svc, limit=100) if r["code"] == street)
    mine = [w for w, s in svc.district.workers_by_street() if s == street]
    assert row["total"] == len(mine)
    assert (row["online"], row["patrolling"], row["outside"]) == (
        1 + (w2 in mine), 1, int(w2 in mine))
    kpis = queries.gps_kpis(svc)
    assert (kpis["online"], kpis["patrolling"], kpis["outside"]) == (2, 1, 1)
    assert kpis["total"] == len(svc.district.workers)


def test_the_fix_rate_counts_real_seconds_whatever_the_simulated_clock(svc, clock, gps_consumer):
    import time

    from dashboard import queries

    for k in range(5):  # the fake clock stands still, far from the real time
        _add(svc, f"W000{k + 1}", clock.now() - 10, *_inside(svc, f"W000{k + 1}"))
    assert gps_consumer.drain() == 5
    time.sleep(1.1)  # the rate reads whole seconds that are over
    assert queries.gps_kpis(svc)["fixes_per_s"] == 1.0  # 5 fixes over the last 5 s


def test_a_batch_of_more_workers_than_one_write_takes_is_written_in_parts(
        svc, gps_consumer, clock, monkeypatch):
    import streams.gps

    monkeypatch.setattr(streams.gps, "CHUNK", 2)  # 5 workers: three conditional writes
    workers = [f"W000{k}" for k in range(1, 6)]
    for wid in workers:
        _add(svc, wid, clock.now() - 10, *_inside(svc, wid))
    _add(svc, "W0001", clock.now() - 10, *_inside(svc, "W0001"))  # a duplicate, refused
    assert gps_consumer.drain() == 6
    assert all(_state(svc, wid).ts == clock.now() - 10 for wid in workers)
    day = svc.days.day(clock.now())
    assert all(len(unpack_track(svc.r.get(svc.keys.gps_track(0, day, w)))) == 1 for w in workers)
    assert [d["reason"] for d in _deadletters(svc)] == ["duplicate fix"]
    assert svc.r.xpending(svc.keys.gps_stream(0), gps_consumer.group)["pending"] == 0
