"""Dispatch rules, pure: item + place -> department, urgency -> deadline (FixMyStreet's routing).

A point is located to a Place (grid, station, street) by the Locator; the item names its
department, or ``@street``: the street office whose street contains the point.  A time
limit in hours or calendar days runs on the clock; one in working days counts only
Monday–Friday in the district's time zone ("3wd" = the same time of day three working
days later; a report made at the weekend starts counting on Monday at 00:00).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dashboard.catalog import STREET_OFFICE, URGENCIES, Limit, PatrolItem
from dashboard.models import District, Place

SUPERVISOR = "@district"  # queue of the district supervisor (returned, unroutable cases)


class RoutingError(ValueError):
    """No department can be chosen for a report (outside the district, no street office)."""


def street_office(district: District, street: str) -> str | None:
    """Return the code of the street office governing a street."""
    for d in district.departments:
        if d.kind == "street" and d.street == street:
            return d.code
    return None


def route(item: PatrolItem, place: Place | None, district: District) -> str:
    """Return the department that handles an item reported at a place."""
    if place is None:
        raise RoutingError("location is outside the district")
    if item.department != STREET_OFFICE:
        return item.department
    office = street_office(district, place.street)
    if office is None:
        raise RoutingError(f"street {place.street!r} has no street office")
    return office


def urgency_of(item: PatrolItem, requested: str | None) -> str:
    """Return the requested urgency if valid, else the item's default."""
    return requested if requested in URGENCIES else item.urgency


def add_working_days(start: float, days: int, tz: ZoneInfo) -> float:
    """Return start + `days` working days (Mon–Fri), counting from Monday 00:00 at weekends."""
    t = datetime.fromtimestamp(start, tz)
    if t.weekday() >= 5:
        t = (t + timedelta(days=7 - t.weekday())).replace(hour=0, minute=0, second=0,
                                                          microsecond=0)
    for _ in range(days):
        t += timedelta(days=1)
        while t.weekday() >= 5:
            t += timedelta(days=1)
    return t.timestamp()


def deadline(limit: Limit, start: float, tz: ZoneInfo) -> float:
    """Return the Unix time by which a case started at `start` must be handled."""
    if limit.unit == "h":
        return start + limit.amount * 3600.0
    if limit.unit == "d":
        return start + limit.amount * 86400.0
    return add_working_days(start, limit.amount, tz)


def time_limit_s(item: PatrolItem, urgency: str) -> float:
    """Return a nominal length of an item's limit in seconds (working day = 1 day), for display."""
    limit = item.limit(urgency)
    return limit.amount * (3600.0 if limit.unit == "h" else 86400.0)
