"""Shared widgets of the drill-down pages: shell with breadcrumb and search, KPI strip, map,
sortable and filterable tables with CSV and Excel export."""

from __future__ import annotations

import json
from urllib.parse import quote

import dash_ag_grid as dag
import dash_leaflet as dl
from dash import dcc, html
from flask import current_app

from dashboard import drill_queries as dq
from dashboard.auth_routes import scope
from dashboard.i18n import t

GRID_THEME = {"function": (
    "themeQuartz.withParams({backgroundColor: '#0c1526', foregroundColor: '#e6edf7', "
    "headerBackgroundColor: '#13213a', oddRowBackgroundColor: '#0e1a2e', "
    "borderColor: '#1d2b45', accentColor: '#4cc3ff', browserColorScheme: 'dark', "
    "fontSize: 14, headerFontSize: 14, spacing: 5, "
    "fontFamily: ['Noto Sans CJK SC', 'Microsoft YaHei', 'sans-serif']})")}
WIDE = {"item": 2, "grid": 1.6, "dept": 1.4, "name": 1.3, "station": 1.4, "note": 2,
        "address": 2, "rule": 1.8, "id": 1.3, "when": 1.3, "reason": 1.8, "ref": 1.3,
        "rank_today": 0.8, "rank_month": 0.8}
LOCALE = {"zh": {"noRowsToShow": "暂无数据", "filterOoo": "筛选…", "contains": "包含",
                 "notContains": "不包含", "equals": "等于", "notEqual": "不等于",
                 "startsWith": "开头是", "endsWith": "结尾是", "lessThan": "小于",
                 "greaterThan": "大于", "inRange": "介于", "andCondition": "且",
                 "orCondition": "或", "blank": "空白", "notBlank": "非空白",
                 "lessThanOrEqual": "小于等于", "greaterThanOrEqual": "大于等于"},
          "en": {"noRowsToShow": "No data"}}
NUMERIC = {"grids", "households", "workers", "online", "patrolling", "outside", "open",
           "overdue", "battery", "late_min", "points", "version", "rank_today", "score_today",
           "rank_month", "score_month", "points_month", "points_total"}


def svc():  # noqa: ANN201
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


def lang_of(kw: dict) -> str:
    """Return the page language: ?lang=en|zh, else the UI_LANG setting."""
    lg = kw.get("lang")
    return lg if lg in ("zh", "en") else svc().settings.lang


def crumbs(kind: str, code: str, lang: str) -> list[tuple[str, str]]:
    """Return the breadcrumb (label, href) from the district down to a resource."""
    d = svc().district
    out = [(t("drill_district", lang), "/district")]
    street = station = grid = None
    if kind == "worker":
        w = d.worker(code)
        grid = d.grid(w.grid) if w else None
    elif kind in ("grid", "grid_edit"):
        grid = d.grid(code)
    elif kind == "station":
        station = d.station(code)
    elif kind == "street":
        street = d.street(code)
    if grid is not None:
        station = d.station(grid.station)
    if station is not None:
        street = d.street(station.street)
    if street is not None:
        name = street.name_en if lang == "en" and street.name_en else street.name
        out.append((name, f"/street/{street.code}"))
    if station is not None:
        out.append((station.name, f"/station/{station.code}"))
    if grid is not None:
        out.append((grid.name, f"/grid/{grid.code}"))
    return out


def _crumb_bar(items: list[tuple[str, str]], here: str) -> html.Nav:
    s = scope()
    parts = []
    for label, href in items:
        if s.role in ("district",) or href != "/district":
            parts += [html.A(label, href=href, className="dr-crumb"),
                      html.Span("›", className="dr-sep")]
    parts.append(html.Span(here, className="dr-crumb dr-here"))
    return html.Nav(parts, className="dr-crumbs", **{"aria-label": "breadcrumb"})


def shell(title: str, path: str, lang: str, body: list, items: list[tuple[str, str]] = (),
          actions: list | None = None) -> html.Div:
    """Return a drill page: top bar (breadcrumb, search, user), title row, then the body."""
    s = scope()
    top = [html.A([html.Span("东丽区", className="dr-brand-d"), t("drill_title", lang)],
                  href=s.home() if s.role != "district" else "/district", className="dr-brand"),
           html.Form(action="/search", method="get", className="dr-search", children=[
               dcc.Input(name="q", type="search", placeholder=t("drill_search_hint", lang),
                         className="dr-search-input", debounce=True)]),
           html.Div(className="dr-user", children=[
               html.A(t("drill_wall", lang), href="/", className="dr-link") if s.live else None,
               html.Span(f"{t('role_' + s.role, lang)} · {s.user}", className="dr-who"),
               html.Form(action="/logout", method="post", className="dr-logout", children=[
                   dcc.Input(type="hidden", name="csrf", value=s.csrf),
                   html.Button(t("auth_logout", lang), type="submit", className="dr-btn")])
               if s.sid else None])]
    return html.Div(className="dr-page", children=[
        dcc.Store(id="drill-ctx", data={"path": path, "lang": lang}),
        html.Header(top, className="dr-top"),
        html.Div(className="dr-titlebar", children=[
            _crumb_bar(items, title), html.Div(actions or [], className="dr-actions")]),
        html.Main(body, className="dr-main"),
    ])


def kpis(items: list[tuple[str, object, str]]) -> html.Div:
    """Return a KPI strip from (label, value, css modifier) triples."""
    return html.Div(className="dr-kpis", children=[
        html.Div(className=f"dr-kpi {mod}", children=[
            html.Div(label, className="dr-kpi-label"),
            html.Div("—" if value is None else _num(value), className="dr-kpi-value")])
        for label, value, mod in items])


def _num(v: object) -> str:
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def card(title: str, body, cls: str = "", tools: list | None = None,
         grow: float | None = None) -> html.Section:
    """Return a titled card; `grow` is its share of a column of cards (1 each by default)."""
    return html.Section(className=f"dr-card {cls}", **({"style": {"flex": grow}} if grow else {}),
                        children=[
        html.Div(className="dr-card-head", children=[html.H2(title), html.Div(tools or [])]),
        html.Div(body, className="dr-card-body")])


def table(table_id: str, rows: list[dict], fields: tuple[str, ...] | list[str], lang: str,
          export: str = "", path: str = "", height: str = "100%", query: str = "") -> list:
    """Return (tools, grid): a sortable, filterable ag-grid whose rows open their `href`.

    CSV exports what is shown (sorted, filtered) in the browser; `export` names the server
    table of this page for the Excel download (dashboard.exports), `query` adds to its URL
    what else picks the rows (``day=20260529``).
    """
    present = [f for f in fields if any(r.get(f) not in (None, "") for r in rows)] or list(fields)
    cols = [{"field": f, "headerName": t(f"col_{f}", lang),
             "filter": "agNumberColumnFilter" if f in NUMERIC else "agTextColumnFilter",
             "flex": WIDE.get(f, 1),
             **({"type": "numericColumn"} if f in NUMERIC else {})} for f in present]
    if present:
        cols[0]["pinned"] = "left"
    tools = [html.Button(t("drill_export_csv", lang), className="dr-btn dr-csv",
                         **{"data-grid": table_id})]
    if export:
        href = f"/export/table/{export}.xlsx?path={quote(path)}&lang={lang}" + \
            (f"&{query}" if query else "")
        tools.append(html.A(t("drill_export_xlsx", lang), href=href, className="dr-btn",
                            download=""))
    grid = dag.AgGrid(
        id=table_id, rowData=rows, columnDefs=cols, className="dr-grid",
        defaultColDef={"sortable": True, "resizable": True, "minWidth": 64,
                       "floatingFilter": True, "suppressHeaderMenuButton": True,
                       "suppressHeaderFilterButton": True,
                       "floatingFilterComponentParams": {"suppressFilterButton": True}},
        dashGridOptions={"theme": GRID_THEME, "getRowId": {"function": "params.data.href || "
                                                            "('' + params.data.id)"},
                         "localeText": LOCALE.get(lang, LOCALE["en"]),
                         "rowHeight": 34, "headerHeight": 36, "animateRows": False},
        csvExportParams={"fileName": f"{table_id}.csv"},
        style={"height": height, "width": "100%"})
    return [tools, grid]


def boards(level: str, code: str, path: str, lang: str) -> html.Div:
    """Return the worker ranking (today / this month) and party-member points (this month /
    all time) of a street or station, side by side; a worker's row opens their page."""
    s = svc()
    ranking = dq.worker_ranking(s, level, code)
    points = dq.points_board(s, level, code, scope(), lang)
    r_tools, r_grid = table("drill-ranking", ranking, dq.COLUMNS["ranking"], lang, "ranking", path)
    p_tools, p_grid = table("drill-points", points, dq.COLUMNS["points"], lang, "points", path)
    return html.Div(className="dr-grid-2 dr-lower dr-boards", children=[
        card(t("drill_ranking", lang), r_grid, tools=r_tools),
        card(t("drill_points_board", lang), p_grid, tools=p_tools)])


def below(page: html.Div, *parts) -> html.Div:
    """Add parts under the body of a page made by shell(); return the page."""
    main = next(c for c in page.children if isinstance(c, html.Main))
    main.children = [*main.children, *parts]
    return page


def map_view(map_id: str, data: dict, cls: str = "") -> html.Div:
    """Return a Leaflet map drawn by assets/drill.js from `data` (areas, cases, workers...)."""
    url = svc().settings.tile_url
    layers = [dl.TileLayer(url=url, opacity=0.35)] if url else []
    b = data.get("bounds") or [[39.0, 117.2], [39.2, 117.5]]
    return html.Div(className=f"dr-map-wrap {cls}", children=[
        dl.Map(id=map_id, children=layers, bounds=b, zoom=13, zoomSnap=0.25,
               center=[(b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2], preferCanvas=True,
               attributionControl=False, className="dr-map"),
        html.Div(hidden=True, className="dr-map-data",
                 **{"data-map": map_id, "data-geo": json.dumps(data, ensure_ascii=False)}),
    ])


def not_found(path: str, lang: str) -> html.Div:
    """Return the page shown for an unknown resource."""
    return shell(t("drill_not_found", lang), path, lang,
                 [html.Div(t("drill_not_found", lang), className="dr-empty")])
