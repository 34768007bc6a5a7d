"""Map correction: an edited grid boundary is validated, versioned, restorable and used by the
locator and every map at once (in this process and, by the notice, in the others)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from shapely.geometry import Point, Polygon

from dashboard import grid_edit as ge
from dashboard.services import build_services

GRID = "WX-01-05"


def junction(svc, code: str = GRID) -> tuple[float, float]:
    """Return a vertex of a grid shared by four grids (inside the street, not on its edge)."""
    counts = Counter(p for g in svc.district.grids for p in g.ring[:-1])
    return next(p for p in svc.district.grid(code).ring[:-1] if counts[p] == 4)


def moved(svc, vertex, to, codes=None) -> dict:
    """Return the rings of every grid (or of `codes`) with `vertex` moved to `to`."""
    out = {}
    for g in svc.district.grids:
        if vertex in g.ring and (codes is None or g.code in codes):
            out[g.code] = [list(to) if p == vertex else list(p) for p in g.ring]
    return out


def nudge(p, east_m: float = 12.0, north_m: float = 9.0) -> tuple[float, float]:
    import math

    k = 111_195.0
    return (p[0] + east_m / (k * math.cos(math.radians(p[1]))), p[1] + north_m / k)


# ---- validation (pure) --------------------------------------------------------------------------
def test_moving_a_shared_vertex_in_every_grid_that_has_it_is_valid(svc):
    v = junction(svc)
    clean, problems = ge.validate(svc.district, moved(svc, v, nudge(v)))
    assert problems == [] and len(clean) == 4


def test_moving_it_in_one_grid_only_overlaps_or_opens_a_gap(svc):
    v = junction(svc)
    _, problems = ge.validate(svc.district, moved(svc, v, nudge(v), codes={GRID}))
    assert {p["code"] for p in problems} & {"overlap", "gap"}


def test_a_self_intersecting_boundary_is_invalid(svc):
    ring = [list(p) for p in svc.district.grid(GRID).ring]
    ring[1], ring[2] = ring[2], ring[1]
    _, problems = ge.validate(svc.district, {GRID: ring})
    assert problems[0]["code"] == "invalid"
    assert "自相交" in ge.describe(problems[0]) and "invalid" in ge.describe(problems[0], "en")


def test_pushing_the_streets_edge_outwards_is_refused(svc):
    counts = Counter(p for g in svc.district.grids for p in g.ring[:-1])
    edge_grid = next(g for g in svc.district.grids if g.street == "wanxin"
                     and any(counts[p] == 1 for p in g.ring[:-1]))
    v = next(p for p in edge_grid.ring[:-1] if counts[p] == 1)
    far = nudge(v, 300, 300)
    clean, problems = ge.validate(svc.district, moved(svc, v, far))
    assert {p["code"] for p in problems} & {"outside", "gap", "overlap"}, clean


def test_one_edit_stays_in_one_street(svc):
    wx, jl = svc.district.grid("WX-01-01"), svc.district.grid("JL-01-01")
    _, problems = ge.validate(svc.district, {g.code: [list(p) for p in g.ring] for g in (wx, jl)})
    assert problems == [{"code": "streets"}]


def test_malformed_input_is_named(svc):
    _, problems = ge.validate(svc.district, {GRID: [[1, 2], "x"], "nope": []})
    assert {p["code"] for p in problems} == {"malformed", "unknown"}


def test_a_vertex_beyond_any_float_is_malformed_not_an_error(svc):
    ring = [list(p) for p in svc.district.grid(GRID).ring]
    ring[1] = [10**400, ring[1][1]]
    _, problems = ge.validate(svc.district, {GRID: ring})
    assert [p["code"] for p in problems] == ["malformed"]


# ---- versions, conflicts, restore, the locator --------------------------------------------------
def test_a_saved_edit_is_versioned_with_who_and_when_and_the_locator_uses_it(svc):
    v = junction(svc)
    locator = svc.locator
    new = nudge(v, 40, 30)
    halfway = nudge(v, 20, 15)
    before = svc.locator.locate(*halfway).grid
    out = ge.save(svc, moved(svc, v, new), {}, by="boss")
    assert out["by"] == "boss" and len(out["grids"]) == 4
    hist = ge.history(svc, GRID)
    assert [h["version"] for h in hist] == [0, 1] and hist[1]["by"] == "boss"
    assert hist[1]["at"] == svc.clock.now()
    assert svc.locator is locator  # updated in place: consumers holding it see the edit
    assert list(svc.district.grid(GRID).ring).count(new) >= 1
    owners = {g.code for g in svc.district.grids if Polygon(g.ring).covers(Point(new))}
    assert svc.locator.locate(*new).grid in owners
    after = svc.locator.locate(*halfway).grid
    assert after != before and Polygon(svc.district.grid(after).ring).covers(Point(halfway))


def test_a_stale_edit_is_a_conflict_not_an_overwrite(svc):
    v = junction(svc)
    ge.save(svc, moved(svc, v, nudge(v)), {}, by="a")
    with pytest.raises(ge.EditError) as err:
        ge.save(svc, moved(svc, nudge(v), nudge(v, 20, 5)), {GRID: 0}, by="b")
    assert {p["code"] for p in err.value.problems} == {"conflict"}


def test_restore_brings_back_the_previous_boundary_of_every_grid_the_edit_changed(svc):
    v = junction(svc)
    original = {g.code: g.ring for g in svc.district.grids if v in g.ring}
    ge.save(svc, moved(svc, v, nudge(v)), {}, by="boss")
    ge.restore(svc, GRID, by="boss")
    assert {c: svc.district.grid(c).ring for c in original} == original
    assert [h["version"] for h in ge.history(svc, GRID)] == [0, 1, 2]
    assert svc.locator.locate(*nudge(v, 1, 1)) is not None


def test_the_wall_basemap_cache_is_dropped_on_an_edit(svc):
    svc.extra["wall_basemap"] = "old"
    v = junction(svc)
    ge.save(svc, moved(svc, v, nudge(v)), {}, by="boss")
    assert "wall_basemap" not in svc.extra


def test_another_process_applies_the_edit_on_the_notice(svc, settings, clock, redis_client):
    other = build_services(settings, clock=clock)  # as a consumer process would hold it
    stop = threading.Event()
    ge.start_watcher(other, stop)
    time.sleep(0.3)  # let it subscribe
    v = junction(svc)
    new = nudge(v)
    ge.save(svc, moved(svc, v, new), {}, by="boss")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and new not in other.district.grid(GRID).ring:
        time.sleep(0.05)
    stop.set()
    assert new in other.district.grid(GRID).ring
