"""Wall widgets of the case loop: KPI tiles, overdue alerts, department ranking, map legend.

The panels are filled by assets/cases.js from pushed payloads (case_kpi, case_overdue,
case_ranking, case_map and the `cases` deltas); nothing here reads Redis.
"""

from __future__ import annotations

from dash import html

from dashboard.i18n import t
from layouts._widgets import kpi, panel

URGENCY_COLORS = {"urgent": "#ef4444", "normal": "#f59e0b", "routine": "#38bdf8"}


def case_kpis(lang: str) -> list[html.Div]:
    """Return the case KPI tiles: reports today, open, overdue, on-time rate today."""
    return [kpi("kpi-case-reports", t("case_reports_today", lang), t("cases_unit", lang)),
            kpi("kpi-case-open", t("case_open", lang), t("cases_unit", lang)),
            kpi("kpi-case-overdue", t("case_overdue", lang), t("cases_unit", lang)),
            kpi("kpi-case-ontime", t("case_ontime", lang), "%")]


def case_panels(lang: str) -> list[html.Section]:
    """Return the overdue alerts and the department ranking panels of the right column."""
    return [
        panel(t("overdue_alerts", lang), html.Div(id="gw-overdue", className="gw-scroll",
                                                  children=t("no_data", lang)),
              panel_id="gw-overdue-panel", grow=True),
        panel(t("dept_ranking", lang), html.Div(id="gw-ranking", className="gw-scroll",
                                                children=t("no_data", lang)),
              panel_id="gw-ranking-panel", grow=True),
    ]


def case_legend(lang: str) -> html.Div:
    """Return the map legend of case markers (diamonds coloured by urgency)."""
    return html.Div(className="gw-legend gw-case-legend", children=[
        html.Span(t("case_legend", lang), className="gw-legend-title"),
        *[html.Span(className="gw-legend-item", children=[
            html.Span(className="gw-diamond", style={"background": c}), t(u, lang)])
          for u, c in URGENCY_COLORS.items()],
        html.Span(className="gw-legend-item", children=[
            html.Span(className="gw-diamond gw-diamond-late"), t("case_overdue", lang)]),
    ])
