"""The big-screen wall: live map of workers and grids, KPI strip, street status, rejections."""

from __future__ import annotations

import json

import dash
import dash_leaflet as dl
from dash import ClientsideFunction, Input, Output, clientside_callback, dcc, html
from flask import current_app

from dashboard import case_queries
from dashboard import drill_queries as dq
from dashboard.figures import STATUS_COLORS, wall_map_groups
from dashboard.i18n import REASONS, STREAM_NAMES, reason, stream_name, t
from layouts._cases import case_kpis, case_legend, case_panels
from layouts._drill import lang_of
from layouts._widgets import header, kpi, legend, panel

dash.register_page(__name__, path="/", title="Gridwall 运行指挥中心", name="wall")


def _layers(svc) -> list:
    """Return the map's Dash children: only an optional tile layer.

    The grid basemap is fetched once by assets/wall.js from /api/v1/wall/basemap and drawn
    straight into Leaflet, so Dash never walks thousands of polygons in its props.
    """
    url = svc.settings.tile_url
    return [dl.TileLayer(url=url, opacity=0.35)] if url else []


def _map(svc, group: dict, lang: str) -> html.Div:
    (south, west), (north, east) = group["bounds"]
    title = group["title_en"] if lang == "en" else group["title"]
    return html.Div(className="gw-map-cell", children=[
        dl.Map(id=group["id"], children=_layers(svc), bounds=group["bounds"],
               center=[(south + north) / 2, (west + east) / 2], zoom=13, preferCanvas=True,
               zoomControl=False, attributionControl=False, className="gw-map", zoomSnap=0.1,
               boundsOptions={"padding": [24, 24]}),
        html.Div(title, className="gw-map-title"),
    ])


def _terms(svc, lang: str) -> dict[str, str]:
    """Return pushed words in the page's language: street, department and item names (the
    case panels push the Chinese ones), stream names and rejection reasons (pushed in UI_LANG).
    """
    pushed, out = svc.settings.lang, {}
    if lang == "en":
        zh, en = case_queries.names(svc), dq.names(svc, "en")
        for kind in ("street", "dept", "item"):
            out |= {name: en[kind].get(code, name) for code, name in zh[kind].items()}
    out |= {stream_name(k, pushed): stream_name(k, lang) for k in STREAM_NAMES}
    out |= {reason(k, pushed): reason(k, lang) for k in REASONS}
    return {k: v for k, v in out.items() if k != v}


def layout(**kw) -> html.Div:
    """Return the wall page in the language of ?lang=, else UI_LANG."""
    svc = current_app.extensions["gridwall"]
    lang = lang_of(kw)
    groups = wall_map_groups(svc.district)
    cfg = {"offlineAfter": svc.settings.offline_after_s, "lang": lang, "colors": STATUS_COLORS}
    terms = json.dumps(_terms(svc, lang), ensure_ascii=False)  # read by gw.term (wall_panels.js)
    return html.Div(className="gw-wall", **{"data-terms": terms}, children=[
        dcc.Store(id="gw-config", data=cfg),
        html.Div(id="gw-config-ready", hidden=True),
        dcc.Store(id="gw-streets-store"),
        dcc.Store(id="gw-health-store"),
        header("wall_title", lang),
        html.Div(className="gw-kpis", children=[
            kpi("kpi-online", t("online", lang)),
            kpi("kpi-patrolling", t("patrolling", lang), t("people", lang)),
            kpi("kpi-outside", t("outside", lang), t("people", lang)),
            kpi("kpi-fixes", t("fixes_per_s", lang), t("per_s", lang)),
            kpi("kpi-lag", t("lag", lang), t("seconds", lang)),
            kpi("kpi-dead", t("deadletters", lang)),
            *case_kpis(lang),
        ]),
        html.Main(className="gw-main", children=[
            html.Div(className="gw-map-wrap", children=[
                html.Div(className=f"gw-maps gw-maps-{len(groups)}",
                         children=[_map(svc, g, lang) for g in groups]),
                legend([(t(k, lang), STATUS_COLORS[k])
                        for k in ("patrolling", "idle", "outside", "offline")]),
                case_legend(lang),
            ]),
            html.Aside(className="gw-side", children=[
                *case_panels(lang),
                html.Div(className="gw-side-pair", children=[
                    panel(t("streets", lang), html.Div(id="gw-streets",
                                                       children=t("no_data", lang))),
                    panel(t("rejections", lang), html.Div(id="gw-rejections",
                                                          children=t("no_data", lang))),
                ]),
            ]),
        ]),
    ])


clientside_callback(ClientsideFunction("gw", "streets"), Output("gw-streets", "children"),
                    Input("gw-streets-store", "data"), Input("gw-config", "data"))
clientside_callback(ClientsideFunction("gw", "rejections"), Output("gw-rejections", "children"),
                    Input("gw-health-store", "data"), Input("gw-config", "data"))
