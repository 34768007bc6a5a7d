"""Patrol detection and coverage on crafted tracks in a 320 m square grid."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from dashboard.patrols import M_PER_DEG, Batch, CellIndex, TrackRules, analyse, analyse_track
from dashboard.patrols import from_points as track

TZ = ZoneInfo("Asia/Shanghai")
LAT0, LON0, SIDE = 39.1, 117.3, 320.0
KX = M_PER_DEG * math.cos(math.radians(LAT0 + SIDE / M_PER_DEG / 2))
T9 = datetime(2026, 5, 29, 9, 0, tzinfo=TZ).timestamp()  # 09:00 local
DUTY = (datetime(2026, 5, 29, 8, 0, tzinfo=TZ).timestamp(),
        datetime(2026, 5, 29, 18, 0, tzinfo=TZ).timestamp())
RULES = TrackRules()  # 30 min, 35 % of 25 m cells


def ll(x: float, y: float) -> tuple[float, float]:
    """Return (lat, lon) of local metres from the grid's south-west corner."""
    return LAT0 + y / M_PER_DEG, LON0 + x / KX


def ring(x0: float = 0.0) -> list[tuple[float, float]]:
    corners = [(x0, 0), (x0 + SIDE, 0), (x0 + SIDE, SIDE), (x0, SIDE), (x0, 0)]
    return [(ll(x, y)[1], ll(x, y)[0]) for x, y in corners]


CELLS = CellIndex([ring(), ring(SIDE)])  # grid 0 and its eastern neighbour, grid 1


def walk(t0: float, pts: list[tuple[float, float]], speed: float = 1.25,
         every: float = 10.0) -> list[tuple[float, float, float]]:
    """Return fixes every `every` seconds walking through local points at `speed`."""
    out, t, carry = [], t0, 0.0
    for (xa, ya), (xb, yb) in zip(pts, pts[1:], strict=False):
        d = math.hypot(xb - xa, yb - ya)
        s = carry
        while s < d:
            f = s / d
            out.append((t + s / speed, *ll(xa + f * (xb - xa), ya + f * (yb - ya))))
            s += speed * every
        carry = s - d
        t += d / speed
    return out


def stand(t0: float, x: float, y: float, seconds: float,
          every: float = 60.0) -> list[tuple[float, float, float]]:
    """Return fixes of a phone lying still, with a few metres of GPS wander."""
    n = int(seconds // every)
    return [(t0 + i * every, *ll(x + 4 * math.sin(i), y + 4 * math.cos(1.3 * i)))
            for i in range(n)]


def mower(rows: int, x0: float = 0.0, first: float = 12.5) -> list[tuple[float, float]]:
    """Return a lawn-mower path over `rows` rows 25 m apart across the grid."""
    pts = []
    for i in range(rows):
        y = first + 25 * i
        a, b = (x0 + 10, x0 + SIDE - 10) if i % 2 == 0 else (x0 + SIDE - 10, x0 + 10)
        pts += [(a, y), (b, y)]
    return pts


def end(points):
    return points[-1][0]


def run(points, grid: int = 0, rules: TrackRules = RULES):
    return analyse_track(CELLS, grid, track(points), rules, DUTY)


def test_a_full_walk_of_the_grid_is_one_patrol_covering_it():
    a = run(walk(T9, mower(13)))
    assert a.patrols[0] == 1
    assert a.coverage[0] > 0.9
    [(_, start, stop, cov)] = a.patrol_list
    assert stop - start > 45 * 60 and cov > 0.9


def test_two_walks_with_a_long_rest_between_are_two_patrols():
    first = walk(T9, mower(13))
    rest = stand(end(first) + 60, 300, 310, 3600)
    second = walk(end(rest) + 60, mower(13))
    a = run(first + rest + second)
    assert a.patrols[0] == 2


def test_a_walk_shorter_than_n_minutes_is_no_patrol():
    a = run(walk(T9, mower(6)))  # about 24 minutes over half the grid
    assert a.patrols[0] == 0
    assert 0.4 < a.coverage[0] < 0.6


def test_a_long_walk_up_and_down_one_street_covers_too_little():
    pts = [(20, 160), (300, 160)] * 7  # 40 minutes on one line
    a = run(walk(T9, pts))
    assert a.patrols[0] == 0
    assert a.coverage[0] < 0.1


def test_a_walk_outside_the_own_grid_is_no_patrol():
    a = run(walk(T9, mower(13, x0=SIDE)))  # the neighbour's grid
    assert a.patrols[0] == 0
    assert a.coverage[0] == 0 and a.inside_s[0] == 0
    assert a.distance_m[0] > 3000


def test_a_short_stray_across_the_border_keeps_the_patrol():
    path = mower(13)
    path = path[:8] + [(SIDE - 10, 100), (SIDE + 40, 100), (SIDE - 10, 100)] + path[8:]
    a = run(walk(T9, path))
    assert a.patrols[0] == 1


def test_a_gap_in_the_fixes_ends_the_walk():
    pts = walk(T9, mower(13))
    half = len(pts) // 2
    gap = [(t + 600, la, lo) for t, la, lo in pts[half:]]  # phone off for ten minutes
    a = run(pts[:half] + gap)
    assert a.patrols[0] == 0


def test_standing_still_for_long_during_a_patrol_is_flagged_and_the_patrol_counts():
    path = mower(13)
    one = walk(T9, path[:7])
    pause = stand(end(one) + 10, *path[6], 12 * 60, every=30)
    two = walk(end(pause) + 30, path[6:])
    a = run(one + pause + two)
    assert a.patrols[0] == 1
    [(_, start, stop)] = a.stills
    assert 11 * 60 <= stop - start <= 15 * 60


def test_standing_longer_than_the_pause_ends_the_walk_and_is_not_flagged():
    path = mower(13)
    one = walk(T9, path)
    pause = stand(end(one) + 10, *path[-1], 25 * 60, every=30)
    two = walk(end(pause) + 30, path[::-1])
    a = run(one + pause + two)
    assert a.patrols[0] == 2
    assert a.stills == []


def test_a_jump_of_kilometres_is_an_impossible_track_and_adds_no_distance():
    pts = walk(T9, mower(13))
    clean = run(pts).distance_m[0]
    t, la, lo = pts[100]
    bad = pts[:100] + [(t + 1, la + 0.05, lo)] + pts[100:]
    a = run(bad)
    assert len(a.jumps) == 2  # out and back
    assert a.distance_m[0] == pytest.approx(clean, rel=0.01)
    assert a.patrols[0] == 1


def test_a_long_stay_outside_the_grid_in_duty_hours_is_flagged():
    inside = walk(T9, mower(4))
    away = stand(end(inside) + 60, SIDE + 150, 150, 40 * 60)
    back = walk(end(away) + 60, mower(4))
    a = run(inside + away + back)
    [(_, start, stop)] = a.outside
    assert stop - start >= 40 * 60


def test_time_online_counts_only_duty_time_with_fixes():
    pts = stand(T9, 100, 100, 3600)  # one fix a minute from 09:00 to 10:00
    a = run(pts)
    assert a.online_s[0] == pytest.approx(3540, abs=1)
    assert a.inside_s[0] == pytest.approx(3540, abs=1)


def test_fixes_before_duty_do_not_count_as_online():
    early = DUTY[0] - 2 * 3600
    a = run(stand(early, 100, 100, 3600))
    assert a.online_s[0] == 0


def test_a_batch_of_workers_gives_the_same_as_one_at_a_time():
    tracks = [walk(T9, mower(13)), walk(T9, mower(5)), [], walk(T9, mower(13, x0=SIDE))]
    grids = np.array([0, 0, 1, 1])
    batch = analyse(CELLS, grids, Batch.from_tracks([track(p) for p in tracks]), RULES, DUTY,
                    300.0)
    for i, pts in enumerate(tracks):
        one = run(pts, grid=int(grids[i]))
        assert batch.patrols[i] == one.patrols[0]
        assert batch.coverage[i] == pytest.approx(one.coverage[0])
        assert batch.distance_m[i] == pytest.approx(one.distance_m[0])
    assert list(batch.patrols) == [1, 0, 0, 1]


def test_the_patrol_rules_are_configurable():
    short = walk(T9, mower(6))
    assert run(short, rules=TrackRules(min_minutes=20, min_coverage=0.4)).patrols[0] == 1
    assert run(short, rules=TrackRules(min_minutes=20, min_coverage=0.6)).patrols[0] == 0


def test_each_grid_has_its_own_cells():
    assert CELLS.n_cells[0] == pytest.approx(13 * 13, abs=14)
    lat, lon = ll(160, 160)
    cell0 = CELLS.cells(np.array([0]), np.array([lon]), np.array([lat]))
    cell1 = CELLS.cells(np.array([1]), np.array([lon]), np.array([lat]))
    assert cell0[0] >= 0 and cell1[0] == -1


def test_a_stop_at_the_live_end_of_a_patrol_is_not_flagged_while_it_lasts():
    path = mower(13)
    walked = walk(T9, path)
    resting = stand(end(walked) + 10, *path[-1], 14 * 60, every=30)  # now: resting 14 min
    a = run(walked + resting)
    assert a.patrols[0] == 1
    assert a.stills == []
