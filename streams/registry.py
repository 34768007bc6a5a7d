"""Every stream handler of the system, by logical stream name."""

from __future__ import annotations

from dashboard.services import Services
from streams.consumer import Handler


def handlers(svc: Services) -> dict[str, Handler]:
    """Return a fresh handler for every logical stream."""
    from streams.gps import GpsHandler

    return {
        "gps": GpsHandler(svc.r, svc.keys, svc.settings, svc.district, svc.locator, svc.clock),
    }
