"""The people wall (/people): party-member points, worker assessment, anomalies and proactive
service tasks; every panel is pushed over socket.io (pp_* events), residents masked."""

from __future__ import annotations

import logging
import time

import dash
import redis
from dash import ClientsideFunction, Input, Output, clientside_callback, dcc, html
from flask import current_app

from dashboard import people_queries as pq
from dashboard.i18n import STRINGS, t
from dashboard.people_queries import stamped
from layouts._drill import lang_of
from layouts._widgets import header, kpi, panel

log = logging.getLogger("gridwall.people")

dash.register_page(__name__, path="/people", title="党群服务与网格员考核", name="people")

KPIS = (("pushed", "pp_pushed", "pp_tasks_unit"), ("done", "pp_done", "pp_tasks_unit"),
        ("overdue", "pp_overdue", "pp_tasks_unit"), ("double", "pp_double", "pp_people_unit"),
        ("score", "pp_score", ""), ("anomalies", "pp_anomalies", "pp_tasks_unit"))
STORES = {"pp-kpi-store": ("kpi", pq.wall_kpis), "pp-points-store": ("points", pq.wall_points),
          "pp-assess-store": ("assess", pq.wall_assessment),
          "pp-anomalies-store": ("anomalies", pq.wall_anomalies),
          "pp-tasks-store": ("tasks", pq.wall_tasks)}


def _texts(svc, lang: str) -> dict[str, str]:
    """Return the UI strings and street names the page's renderers need, in the page language."""
    keys = [k for k in STRINGS if k.startswith(("pp_", "anomaly_"))] + ["no_data"]
    streets = {f"street_{s.code}": s.name_en if lang == "en" and s.name_en else s.name
               for s in svc.district.streets}
    return {k: t(k, lang) for k in keys} | streets


def _live(svc) -> dict:
    """Return every panel's first value (None while Redis is unreachable: pushes fill it)."""
    out = {}
    for store, (_name, producer) in STORES.items():
        try:
            out[store] = stamped(producer)(svc)
        except redis.RedisError as exc:
            log.warning("people page rendered without %s: %s", store, exc)
            out[store] = None
    return out


def layout(**kw) -> html.Div:
    """Return the people page in the language of ?lang=, else UI_LANG."""
    svc = current_app.extensions["gridwall"]
    lang = lang_of(kw)
    rendered = time.time()  # pushes computed before this are older than the first render
    live = _live(svc)
    unit = lambda key: t(key, lang) if key and lang == "zh" else ""  # noqa: E731
    return html.Div(className="gw-wall pp-page", **{"data-lang": lang}, children=[
        dcc.Store(id="pp-text", data=_texts(svc, lang)),
        html.Div(id="pp-seed", hidden=True, **{"data-t": f"{rendered:.3f}"}),
        *[dcc.Store(id=store, data=live[store]) for store in STORES],
        header("people_title", lang),
        html.Div(className="gw-kpis", children=[
            kpi(f"pp-kpi-{key}", t(label, lang), unit(u)) for key, label, u in KPIS]),
        html.Main(className="pp-main", children=[
            html.Div(className="pp-col", children=[
                panel(t("pp_points_board", lang), html.Div(id="pp-points"), grow=True),
                panel(t("pp_points_by_rule", lang), html.Div(id="pp-points-rules")),
            ]),
            html.Div(className="pp-col", children=[
                panel(t("pp_assess_rank", lang), html.Div(id="pp-assess"), grow=True),
                panel(t("pp_station_rank", lang), html.Div(id="pp-stations")),
            ]),
            html.Div(className="pp-col", children=[
                panel(t("pp_tasks_by_rule", lang), html.Div(id="pp-tasks")),
                panel(t("pp_anomaly_feed", lang), html.Div(id="pp-anomalies"),
                      panel_id="pp-anomalies-panel", grow=True),
            ]),
        ]),
    ])


clientside_callback(ClientsideFunction("pp", "kpis"),
                    [Output(f"pp-kpi-{key}", "children") for key, _, _ in KPIS],
                    Input("pp-kpi-store", "data"))
for _out, _store, _fn in (("pp-points", "pp-points-store", "points"),
                          ("pp-points-rules", "pp-points-store", "pointsByRule"),
                          ("pp-assess", "pp-assess-store", "assess"),
                          ("pp-stations", "pp-assess-store", "stations"),
                          ("pp-tasks", "pp-tasks-store", "tasks"),
                          ("pp-anomalies", "pp-anomalies-store", "anomalies")):
    clientside_callback(ClientsideFunction("pp", _fn), Output(_out, "children"),
                        Input(_store, "data"), Input("pp-text", "data"))
