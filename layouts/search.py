"""Search: a case id, a worker, a grid, or a resident by (masked) name, within what the role
may see; residents' personal data masked unless the role may see it in full."""

from __future__ import annotations

import dash
from dash import html

from dashboard import drill_queries as dq
from dashboard.auth_routes import scope
from dashboard.i18n import t
from layouts._drill import card, lang_of, shell, svc

dash.register_page(__name__, path="/search", title="搜索 · 网格运行指挥中心", name="search")


def _list(rows: list[dict], fields: tuple[str, ...]) -> html.Ul:
    return html.Ul(className="dr-results", children=[
        html.Li(html.A([html.B(r[fields[0]]), *[html.Span(r[f], className="dr-muted")
                                                 for f in fields[1:] if r.get(f)]],
                       href=r["href"])) for r in rows])


def layout(q: str = "", **kw) -> html.Div:
    """Return the search page with the results of ?q=."""
    lang = lang_of(kw)
    found = dq.search(svc(), scope(), q)
    groups = [("drill_cases", "cases", ("id", "item", "dept", "grid")),
              ("drill_workers", "workers", ("name", "grid")),
              ("drill_grids_found", "grids", ("name", "street")),
              ("drill_residents", "residents", ("name", "grid", "address", "phone", "id_no"))]
    cards = [card(f"{t(title, lang)} · {len(found[key])}", _list(found[key], fields))
             for title, key, fields in groups if found[key]]
    if q and not cards:
        cards = [html.Div(t("drill_no_results", lang), className="dr-empty")]
    head = html.Div(className="dr-search-big", children=[
        html.Form(action="/search", method="get", children=[
            html.Div(f"{t('drill_results', lang)}：{q}" if q else t("drill_search_hint", lang),
                     className="dr-muted")])])
    return shell(t("drill_search", lang), "/search", lang,
                 [head, html.Div(cards, className="dr-grid-2 dr-results-grid")],
                 [(t("drill_district", lang), "/district")] if scope().role == "district" else [])
