"""The exchange wall: totals, mounted-resource ranking, sharing classes, live call curve,
interface and unit call rankings, violations and error-rate alerts; updated by push."""

from __future__ import annotations

import json
import logging

import dash
import redis
from dash import ClientsideFunction, Input, Output, clientside_callback, dcc, html
from flask import current_app

from dashboard import exchange_queries as xq
from dashboard.exchange_figures import SHARING_COLORS, call_curve, sharing_donut
from dashboard.i18n import t
from layouts._drill import lang_of
from layouts._widgets import header, kpi, panel

log = logging.getLogger("gridwall.exchange")

dash.register_page(__name__, path="/exchange", title="数据共享交换平台 运行监测", name="exchange")

KPIS = (("catalogs", "xc_catalogs", "xc_unit_count"), ("items", "xc_items", "xc_unit_items"),
        ("interfaces", "xc_interfaces", "xc_unit_count"), ("units", "xc_units", "xc_unit_units"),
        ("calls_today", "xc_calls_today", "xc_unit_calls"),
        ("calls_total", "xc_calls_total", "xc_unit_calls"))
PUSHED_KEYS = ("xc_curve_calls", "xc_curve_errors", "xc_curve_mean", "violation_not_shared",
               "violation_no_approval")  # i18n words the pushes carry in UI_LANG
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True, "staticPlot": True}


def _unit(key: str, lang: str) -> str:
    """Return a Chinese counter word (个, 项, 次): English needs none."""
    return t(key, lang) if lang == "zh" else ""


def _live(svc) -> dict:
    """Return the pushed panels' first values, or empty ones while Redis is unreachable."""
    try:
        return {"kpi": xq.totals(svc), "rank": xq.rankings(svc), "alerts": xq.alerts(svc),
                "curve": xq.curve(svc)}
    except redis.RedisError as exc:
        log.warning("exchange page rendered without live data: %s", exc)
        return {"kpi": None, "rank": None, "alerts": None,
                "curve": {"t0": int(svc.clock.now() // 60 - 1439) * 60_000, "step": 60_000,
                          "n": [], "e": []}}


def _named(svc, lang: str) -> tuple[list[dict], list[dict]]:
    """Return the mounted ranking and the sharing split with names in the page's language."""
    reg = xq.registry(svc)
    mounted = [r | {"name": reg.unit_name(r["unit"], lang)} for r in xq.mounted(svc, 12)]
    split = [r | {"name": t(f"sharing_{r['sharing']}", lang)} for r in xq.sharing_split(svc)]
    return mounted, split


def _terms(svc, lang: str) -> dict[str, str]:
    """Return the names pushes carry in UI_LANG (units, interfaces, kinds) in the page language."""
    reg, pushed = xq.registry(svc), svc.settings.lang
    pairs = [(reg.unit_name(u, pushed), reg.unit_name(u, lang)) for u in reg.units]
    pairs += [(reg.interface_name(i, pushed), reg.interface_name(i, lang)) for i in reg.interfaces]
    pairs += [(t(k, pushed), t(k, lang)) for k in PUSHED_KEYS]
    return {a: b for a, b in pairs if a != b}


def _mounted(rows: list[dict], lang: str) -> html.Div:
    """Return the mounted-resource ranking: catalogs (bar) and information items per unit."""
    top = max((r["catalogs"] for r in rows), default=1) or 1
    head = html.Div(className="xc-rank-row xc-rank-head", children=[
        html.Span(), html.Span(t("xc_rank_unit", lang)), html.Span(),
        html.Span(t("xc_col_catalogs", lang), className="xc-rank-num"),
        html.Span(t("xc_col_items", lang), className="xc-rank-sub")])
    return html.Div(className="xc-rank", children=[head] + [
        html.Div(className="xc-rank-row", children=[
            html.Span(str(i), className=f"xc-badge xc-badge-{min(i, 4)}"),
            html.Span(r["name"], className="xc-rank-name"),
            html.Div(className="xc-bar", children=html.Div(
                className="xc-bar-fill xc-fill-mount",
                style={"width": f"{100 * r['catalogs'] / top:.1f}%"})),
            html.B(f"{r['catalogs']:,}", className="xc-rank-num"),
            html.Span(f"{r['items']:,}", className="xc-rank-sub"),
        ]) for i, r in enumerate(rows, 1)])


def _sharing(split: list[dict], lang: str) -> html.Div:
    """Return the sharing-class donut with a legend of the three percentages."""
    return html.Div(className="xc-sharing", children=[
        dcc.Graph(id="xc-donut", figure=sharing_donut(split, lang), config=GRAPH_CONFIG,
                  className="xc-donut"),
        html.Div(className="xc-legend", children=[
            html.Div(className="xc-legend-row", children=[
                html.Span(className="xc-swatch",
                          style={"background": SHARING_COLORS[r["sharing"]]}),
                html.Span(r["name"], className="xc-legend-name"),
                html.Span(f"{r['percent']:g}%", className="xc-legend-pct",
                          style={"color": SHARING_COLORS[r["sharing"]]}),
                html.Span(f"{r['catalogs']:,} {_unit('xc_unit_count', lang)}".strip(),
                          className="xc-legend-num"),
            ]) for r in sorted(split, key=lambda r: -r["catalogs"])]),
    ])


def layout(**kw) -> html.Div:
    """Return the exchange page in the language of ?lang=, else UI_LANG."""
    svc = current_app.extensions["gridwall"]
    lang = lang_of(kw)
    live = _live(svc)
    mounted, split = _named(svc, lang)
    attrs = {"data-lang": lang, "data-terms": json.dumps(_terms(svc, lang), ensure_ascii=False)}
    return html.Div(className="gw-wall xc-page", **attrs, children=[
        dcc.Store(id="xc-kpi-store", data=live["kpi"]),
        dcc.Store(id="xc-rank-store", data=live["rank"]),
        dcc.Store(id="xc-alerts-store", data=live["alerts"]),
        header("exchange_title", lang),
        html.Div(className="gw-kpis", children=[
            kpi(f"xc-kpi-{key}", t(label, lang), _unit(unit, lang)) for key, label, unit in KPIS]),
        html.Main(className="xc-main", children=[
            html.Div(className="xc-col", children=[
                panel(t("xc_mounted", lang), _mounted(mounted, lang), grow=True),
                panel(t("xc_sharing", lang), _sharing(split, lang)),
            ]),
            html.Div(className="xc-col", children=[
                panel(t("xc_curve", lang), dcc.Graph(
                    id="xc-curve", figure=call_curve(live["curve"], svc.settings.tz, lang),
                    config=GRAPH_CONFIG, className="xc-curve"), grow=True),
                panel(t("xc_interface_rank", lang), html.Div(id="xc-interfaces")),
            ]),
            html.Div(className="xc-col", children=[
                panel(t("xc_unit_rank", lang), html.Div(id="xc-units")),
                panel(t("xc_alerts", lang), html.Div(id="xc-alerts"), panel_id="xc-alerts-panel",
                      grow=True),
            ]),
        ]),
    ])


clientside_callback(ClientsideFunction("xc", "kpis"),
                    [Output(f"xc-kpi-{key}", "children") for key, _, _ in KPIS],
                    Input("xc-kpi-store", "data"))
clientside_callback(ClientsideFunction("xc", "interfaces"), Output("xc-interfaces", "children"),
                    Input("xc-rank-store", "data"))
clientside_callback(ClientsideFunction("xc", "units"), Output("xc-units", "children"),
                    Input("xc-rank-store", "data"))
clientside_callback(ClientsideFunction("xc", "alerts"), Output("xc-alerts", "children"),
                    Input("xc-alerts-store", "data"))
