"""Shared components of the pages: header, KPI tiles, panels, legend."""

from __future__ import annotations

from dash import html

from dashboard.i18n import t


def header(title_key: str, lang: str) -> html.Header:
    """Return the wall header: title, live clock and connection state."""
    return html.Header(className="gw-header", children=[
        html.Div(className="gw-title", children=[
            html.Span("东丽区", className="gw-district"),
            html.Span(t(title_key, lang)),
        ]),
        html.Div(id="gw-clock", className="gw-clock", children="--:--:--"),
        html.Div(id="gw-conn", className="gw-conn gw-conn-wait", children=t("connecting", lang)),
    ])


def kpi(kpi_id: str, label: str, unit: str = "") -> html.Div:
    """Return one KPI tile whose value is pushed by id."""
    return html.Div(className="gw-kpi", children=[
        html.Div(label, className="gw-kpi-label"),
        html.Div(className="gw-kpi-value-row", children=[
            html.Span("—", id=kpi_id, className="gw-kpi-value"),
            html.Span(unit, className="gw-kpi-unit"),
        ]),
    ])


def panel(title: str, body, panel_id: str | None = None, grow: bool = False) -> html.Section:
    """Return a titled panel of the right column."""
    return html.Section(className="gw-panel" + (" gw-grow" if grow else ""),
                        id=panel_id or "", children=[
                            html.H2(title, className="gw-panel-title"),
                            html.Div(body, className="gw-panel-body")])


def legend(items: list[tuple[str, str]]) -> html.Div:
    """Return a colour legend from (label, colour) pairs."""
    return html.Div(className="gw-legend", children=[
        html.Span(className="gw-legend-item", children=[
            html.Span(className="gw-dot", style={"background": colour}), label])
        for label, colour in items])
