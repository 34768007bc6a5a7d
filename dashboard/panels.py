"""The live panels pushed to the wall: which payload, how often; features register theirs here."""

from __future__ import annotations

from dashboard import queries
from dashboard.push import Relay


def register(relay: Relay) -> None:
    """Register every periodic wall payload with the relay."""
    relay.every("kpi", 1.0, queries.gps_kpis)
    relay.every("streets", 2.0, queries.street_status)
    relay.every("rejections", 5.0, queries.rejections)
    # cases (issue 3): deltas arrive as the "cases" topic; these refresh every panel
    from dashboard import case_queries

    relay.every("case_kpi", 1.0, case_queries.case_kpis)
    relay.every("case_overdue", 2.0, case_queries.overdue_alerts)
    relay.every("case_ranking", 3.0, case_queries.department_ranking)
    relay.every("case_map", 10.0, case_queries.case_map)
