"""The live panels pushed to the wall: which payload, how often; features register theirs here."""

from __future__ import annotations

from dashboard import queries
from dashboard.push import Relay


def register(relay: Relay) -> None:
    """Register every periodic wall payload with the relay."""
    relay.every("kpi", 1.0, queries.gps_kpis)
    relay.every("streets", 2.0, queries.street_status)
    relay.every("rejections", 5.0, queries.rejections)
