"""District page: every street's workers and cases on one map and in rankings; click a street."""

from __future__ import annotations

import dash
from dash import html

from dashboard import case_queries
from dashboard import drill_queries as dq
from dashboard.i18n import t
from layouts._drill import card, kpis, lang_of, map_view, shell, svc, table

dash.register_page(__name__, path="/district", title="全区 · 网格运行指挥中心", name="district")
SHORT_CASES = ("id", "item", "urgency", "state", "dept", "grid", "late_min")


def unit_page(level: str, code: str, title: str, path: str, lang: str, items: list,
              extra_kpis: list | None = None, actions: list | None = None) -> html.Div:
    """Return a district, street or station page: map, KPIs, ranking, workers and cases."""
    s = svc()
    grids = dq.grids_of(s, level, code)
    k = dq.kpis(s, grids)
    child, _ = dq.children(s, level, code)
    rank_title = {"street": "drill_streets", "station": "drill_stations",
                  "grid": "drill_grids"}[child]
    units = dq.unit_rows(s, level, code)
    unit_fields = [f for f in dq.COLUMNS["units"]
                   if not (f == "leader" and child != "station")
                   and not (f == "worker" and child != "grid")]
    from dashboard.auth_routes import scope

    workers = dq.worker_rows(s, grids, scope(), lang=lang)
    cases = dq.cases_in(s, {g.code for g in grids}, lang=lang)
    strip = kpis([(t("drill_grids_n", lang), k["grids"], ""),
                  (t("drill_households", lang), k["households"], ""),
                  (t("drill_online", lang), f"{k['online']:,} / {k['workers']:,}", ""),
                  (t("drill_patrolling", lang), k["patrolling"], "dr-green"),
                  (t("drill_outside", lang), k["outside"], "dr-amber"),
                  (t("drill_open", lang), k["open"], ""),
                  (t("drill_overdue", lang), k["overdue"], "dr-red" if k["overdue"] else ""),
                  *(extra_kpis or [])])
    u_tools, u_grid = table("drill-units", units, unit_fields, lang, "units", path)
    c_tools, c_grid = table("drill-cases", cases, SHORT_CASES, lang, "cases", path)
    w_tools, w_grid = table("drill-workers", workers, dq.COLUMNS["workers"], lang, "workers",
                            path)
    body = [strip, html.Div(className="dr-grid-2", children=[
        card(t("drill_map", lang), map_view("drill-map-unit", dq.geo(s, level, code)),
             "dr-map-card"),
        card(t(rank_title, lang), u_grid, tools=u_tools),
    ]), html.Div(className="dr-grid-2 dr-lower", children=[
        card(t("drill_cases", lang) + f" · {len(cases):,}", c_grid, tools=c_tools),
        card(t("drill_workers", lang) + f" · {len(workers):,}", w_grid, tools=w_tools),
    ])]
    return shell(title, path, lang, body, items, actions)


def layout(**kw) -> html.Div:
    """Return the district page."""
    lang = lang_of(kw)
    s = svc()
    depts = [html.A(r["name"], href=f"/department/{r['code']}", className="dr-chip")
             for r in case_queries.department_ranking(s)["rows"] if r["overdue"]][:6]
    name = s.district.name if lang == "zh" else s.district.name_en or s.district.name
    return unit_page("district", "", name, "/district", lang, [], actions=depts)
