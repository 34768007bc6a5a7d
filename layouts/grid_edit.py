"""Map correction: a district supervisor drags a grid's vertices (shared ones move the
neighbour too), the edit is validated and versioned, and every map and the locator use it;
the previous version can be restored."""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html, no_update
from shapely.geometry import Polygon

from dashboard import drill_queries as dq
from dashboard import grid_edit as ge
from dashboard.auth_routes import scope
from dashboard.i18n import t
from layouts._drill import card, crumbs, lang_of, map_view, not_found, shell, svc, table

dash.register_page(__name__, path_template="/grids/edit/<code>", name="grid_edit",
                   title="网格边界修正 · 网格运行指挥中心")


def _neighbours(district, code: str) -> list:  # noqa: ANN001
    me = Polygon(district.grid(code).ring).buffer(1e-6)
    return [g for g in district.grids if g.code != code and me.intersects(Polygon(g.ring))]


def layout(code: str = "", **kw) -> html.Div:
    """Return the boundary editor of one grid."""
    lang = lang_of(kw)
    s = svc()
    grid = s.district.grid(code)
    path = f"/grids/edit/{code}"
    if grid is None:
        return not_found(path, lang)
    grids = [grid, *_neighbours(s.district, code)]
    stored = ge.current(s)
    geo = {"mode": "edit", "code": code,
           "rings": {g.code: [list(p) for p in g.ring] for g in grids},
           "names": {g.code: g.name for g in grids},
           "versions": {g.code: stored.get(g.code, {}).get("version", 0) for g in grids},
           "bounds": _bounds(grids)}
    versions = dq.grid_versions(s, code, lang)
    v_tools, v_grid = table("drill-versions", versions, dq.COLUMNS["versions"], lang, "versions",
                            path)
    tools = [html.Button(t("drill_reset", lang), id="ge-reset", className="dr-btn"),
             html.Button(t("drill_restore", lang), id="ge-restore", n_clicks=0,
                         className="dr-btn", disabled=len(versions) < 2),
             html.Button(t("drill_save", lang), id="ge-save", n_clicks=0,
                         className="dr-btn dr-primary")]
    body = [html.Div(className="dr-edit", children=[
        card(t("drill_edit_title", lang) + f" · {grid.name}", [
            map_view("drill-map-edit", geo, "dr-edit-map"),
            dcc.Store(id="ge-changes", data={}),
            dcc.Location(id="ge-reload", refresh=True)], "dr-map-card", tools=tools),
        html.Div(className="dr-side", children=[
            card(t("drill_edit_grid", lang), [html.P(t("drill_edit_help", lang)),
                                              html.Div(id="ge-msg", className="dr-msg")]),
            card(t("drill_versions", lang), v_grid, tools=v_tools)])])]
    return shell(t("drill_edit_title", lang), path, lang, body, crumbs("grid_edit", code, lang))


def _bounds(grids: list) -> list:
    lons = [p[0] for g in grids for p in g.ring]
    lats = [p[1] for g in grids for p in g.ring]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _msg(problems: list[dict], lang: str) -> html.Ul:
    return html.Ul([html.Li(ge.describe(p, lang)) for p in problems], className="dr-errors")


@callback(Output("ge-msg", "children"), Output("ge-reload", "href"),
          Input("ge-save", "n_clicks"), Input("ge-restore", "n_clicks"),
          State("ge-changes", "data"), State("drill-ctx", "data"), prevent_initial_call=True)
def save(n_save: int, n_restore: int, changes: dict | None, page: dict):
    """Validate and store the edited rings, or restore the previous version."""
    from dash import ctx

    lang = page.get("lang", "zh")
    code = page["path"].rsplit("/", 1)[-1]
    who = scope()
    if who.role != "district":
        return t("auth_forbidden", lang), no_update
    try:
        if ctx.triggered_id == "ge-restore":
            ge.restore(svc(), code, who.user)
            return t("drill_restored", lang), page["path"]
        changes = changes or {}
        ge.save(svc(), changes.get("rings") or {}, changes.get("expected") or {}, who.user)
    except ge.EditError as exc:
        return _msg(exc.problems, lang), no_update
    return t("drill_saved", lang), page["path"]
