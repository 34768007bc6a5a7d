"""The services one process needs, built once from Settings and shared by web, consumers and CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.clock import Clock, Days, make_clock
from dashboard.config import Settings
from dashboard.district import load_district
from dashboard.geo import Locator
from dashboard.keys import Keys, keys_for
from dashboard.models import District
from dashboard.store import RedisClient, connect


@dataclass
class Services:
    """Settings, Redis client, key schema, district, locator and clock of one process."""

    settings: Settings
    r: RedisClient
    keys: Keys
    district: District
    locator: Locator
    clock: Clock
    days: Days
    extra: dict = field(default_factory=dict)  # per-feature singletons (catalogs, registries, ...)


def build_services(
    settings: Settings, clock: Clock | None = None, r: RedisClient | None = None
) -> Services:
    """Load the district and connect to Redis; nothing else happens."""
    district = load_district(settings.district)
    return Services(
        settings=settings,
        r=r if r is not None else connect(settings),
        keys=keys_for(settings),
        district=district,
        locator=Locator(district),
        clock=clock or make_clock(settings.sim_speed, settings.clock_start),
        days=Days(settings.tz),
    )
