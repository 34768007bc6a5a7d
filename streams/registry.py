"""Every stream handler of the system, by logical stream name."""

from __future__ import annotations

from dashboard.services import Services
from streams.consumer import Handler


def handlers(svc: Services) -> dict[str, Handler]:
    """Return a fresh handler for every logical stream."""
    from dashboard.exchange_queries import registry
    from streams.calls import CallsHandler
    from streams.dispatcher import CaseHandler
    from streams.gps import GpsHandler

    return {
        "gps": GpsHandler(svc.r, svc.keys, svc.settings, svc.district, svc.locator, svc.clock),
        "events": CaseHandler(svc),
        "calls": CallsHandler(svc.r, svc.keys, svc.settings, registry(svc), svc.clock),
    }
