"""The live panels pushed to the wall: which payload, how often; features register theirs here."""

from __future__ import annotations

from dashboard import queries
from dashboard.push import Relay


def register(relay: Relay) -> None:
    """Register every periodic wall payload with the relay."""
    relay.every("kpi", 1.0, lambda svc: queries.gps_kpis(svc, relay.mirror.states()))
    relay.every("streets", 2.0,
                lambda svc: queries.street_status(svc, states=relay.mirror.states()))
    relay.every("rejections", 5.0, queries.rejections)
    # cases (issue 3): deltas arrive as the "cases" topic; these refresh every panel
    from dashboard import case_queries

    relay.every("case_kpi", 1.0, case_queries.case_kpis)
    relay.every("case_overdue", 2.0, case_queries.overdue_alerts)
    relay.every("case_ranking", 3.0, case_queries.department_ranking)
    relay.every("case_map", 10.0, case_queries.case_map)
    # exchange (issue 4): the /exchange page
    from dashboard import exchange_queries as xq

    relay.every("xc_kpi", 2.0, xq.totals)
    relay.every("xc_curve", 5.0, xq.curve_panel)
    relay.every("xc_rank", 3.0, xq.rankings)
    relay.every("xc_alerts", 3.0, xq.alerts)
    # people (issue 5): the /people page
    from dashboard import people_queries as pq

    relay.every("pp_kpi", 2.0, pq.stamped(pq.wall_kpis))
    relay.every("pp_points", 5.0, pq.stamped(pq.wall_points))
    relay.every("pp_assess", 5.0, pq.stamped(pq.wall_assessment))
    relay.every("pp_anomalies", 3.0, pq.stamped(pq.wall_anomalies))
    relay.every("pp_tasks", 3.0, pq.stamped(pq.wall_tasks))
