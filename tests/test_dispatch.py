"""Dispatch rules: a fixed point -> place -> department table, and deadlines by urgency."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dashboard.catalog import Limit, load_catalog
from dashboard.dispatch import RoutingError, add_working_days, deadline, route, urgency_of
from dashboard.district import load_district
from dashboard.geo import Locator

DONGLI = Path(__file__).resolve().parent.parent / "data" / "districts" / "dongli"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def world():
    d = load_district(DONGLI)
    return d, Locator(d), load_catalog(DONGLI / "patrol_items.csv", d)


def _centre(d, code):
    ring = d.grid(code).ring
    return (sum(p[1] for p in ring[:-1]) / (len(ring) - 1),
            sum(p[0] for p in ring[:-1]) / (len(ring) - 1))


@pytest.mark.parametrize("item,grid,dept", [
    ("CG043", "WX-01-01", "jiaojing"),  # illegal parking on a sidewalk: traffic police
    ("CG006", "WX-01-01", "st-wanxin"),  # garbage pile-up: the street office of the place
    ("CG006", "JL-01-01", "st-junliangcheng"),
    ("MD001", "JL-03-01", "st-junliangcheng"),  # neighbour dispute
    ("AQ008", "JL-03-01", "chengguan"),  # gas smell: the gas authority
    ("HB017", "WX-02-01", "shengtai"),  # construction noise at night
    ("ZA001", "WX-02-01", "gongan"),  # suspicious person
    ("MD004", "WX-01-01", "renshe"),  # wage arrears
])
def test_items_route_to_their_department_by_place(world, item, grid, dept):
    d, loc, cat = world
    lat, lon = _centre(d, grid)
    place = loc.locate(lon, lat)
    assert place.grid == grid
    assert route(cat.item(item), place, d) == dept


def test_a_point_on_a_border_between_streets_goes_to_one_street_deterministically(world):
    d, loc, cat = world
    lon, lat = d.grid("WX-01-01").ring[0]  # a corner: on the border of its grid
    place = loc.locate(lon, lat)
    assert place is not None
    assert route(cat.item("CG006"), place, d) == f"st-{place.street}"
    assert loc.locate(lon, lat) == place


def test_a_point_outside_every_grid_cannot_be_routed(world):
    d, loc, cat = world
    with pytest.raises(RoutingError, match="outside the district"):
        route(cat.item("CG006"), loc.locate(116.40, 39.90), d)


def test_urgency_is_the_requested_one_when_valid(world):
    item = world[2].item("CG006")
    assert urgency_of(item, "urgent") == "urgent"
    assert urgency_of(item, "whenever") == urgency_of(item, None) == "normal"


def _ts(s: str) -> float:
    return datetime.fromisoformat(s).replace(tzinfo=TZ).timestamp()


def _local(ts: float) -> str:
    return datetime.fromtimestamp(ts, TZ).isoformat(timespec="minutes")[:16]


def test_hour_limits_run_on_the_clock():
    assert deadline(Limit(2, "h"), _ts("2026-05-30T23:00"), TZ) == _ts("2026-05-31T01:00")


@pytest.mark.parametrize("start,days,due", [
    ("2026-05-27T10:00", 3, "2026-06-01T10:00"),  # Wednesday + 3 working days = Monday
    ("2026-05-29T15:00", 1, "2026-06-01T15:00"),  # Friday afternoon + 1 = Monday afternoon
    ("2026-05-30T10:00", 3, "2026-06-04T00:00"),  # Saturday: counting starts Monday 00:00
    ("2026-05-25T09:00", 5, "2026-06-01T09:00"),  # a whole week
])
def test_working_days_skip_weekends_in_the_district_time_zone(start, days, due):
    assert _local(add_working_days(_ts(start), days, TZ)) == due
    assert deadline(Limit(days, "wd"), _ts(start), TZ) == _ts(due)
