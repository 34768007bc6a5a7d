"""Grid page: its boundary, worker, open cases and households; the worker opens a level down."""

from __future__ import annotations

import dash
from dash import html

from dashboard import drill_queries as dq
from dashboard.auth_routes import scope
from dashboard.i18n import t
from layouts._drill import card, crumbs, kpis, lang_of, map_view, not_found, shell, svc, table
from layouts.district import SHORT_CASES

dash.register_page(__name__, path_template="/grid/<code>", title="网格 · 网格运行指挥中心",
                   name="grid")
# The short case columns of the other unit pages but the grid (all the same here): the table
# has half the page's width and shows every column in full at 1920x1080.
GRID_CASES = tuple(f for f in SHORT_CASES if f != "grid")


def layout(code: str = "", **kw) -> html.Div:
    """Return the page of one grid."""
    lang = lang_of(kw)
    s = svc()
    grid = s.district.grid(code)
    path = f"/grid/{code}"
    if grid is None:
        return not_found(path, lang)
    k = dq.kpis(s, [grid])
    workers = dq.worker_rows(s, [grid], scope(), lang=lang)
    cases = dq.cases_in(s, {code}, lang=lang)
    w = workers[0] if workers else None
    strip = kpis([(t("drill_households", lang), grid.households, ""),
                  (t("drill_worker", lang), w["name"] if w else "—", ""),
                  (t("drill_status", lang), w["status"] if w else "—",
                   f"dr-st-{w['code']}" if w else ""),
                  (t("drill_phone", lang), w["phone"] if w else "—", ""),
                  (t("drill_open", lang), k["open"], ""),
                  (t("drill_overdue", lang), k["overdue"], "dr-red" if k["overdue"] else "")])
    actions = []
    if w:
        actions.append(html.A(f"{t('drill_worker', lang)} {w['name']} ›", href=w["href"],
                              className="dr-btn dr-primary"))
    if scope().role == "district":
        actions.append(html.A(t("drill_edit_grid", lang), href=f"/grids/edit/{code}",
                              className="dr-btn"))
    c_tools, c_grid = table("drill-cases", cases, GRID_CASES, lang, "cases", path)
    body = [strip, html.Div(className="dr-grid-2", children=[
        card(t("drill_map", lang), map_view("drill-map-unit", dq.geo(s, "grid", code)),
             "dr-map-card"),
        card(t("drill_cases", lang) + f" · {len(cases):,}", c_grid, tools=c_tools),
    ])]
    return shell(grid.name, path, lang, body, crumbs("grid", code, lang)[:-1], actions)
