"""Grid station page: its grids on the map and ranked, workers, open cases, the worker ranking
and party-member points; click a grid or a worker."""

from __future__ import annotations

import dash
from dash import html

from dashboard.i18n import t
from layouts._drill import below, boards, crumbs, lang_of, not_found, svc
from layouts.district import unit_page

dash.register_page(__name__, path_template="/station/<code>", title="网格站 · 网格运行指挥中心",
                   name="station")


def layout(code: str = "", **kw) -> html.Div:
    """Return the page of one grid station."""
    lang = lang_of(kw)
    station = svc().district.station(code)
    path = f"/station/{code}"
    if station is None:
        return not_found(path, lang)
    lead = [html.Span(f"{t('drill_leader', lang)}：{station.leader}", className="dr-note")] \
        if station.leader else []
    return below(unit_page("station", code, station.name, path, lang,
                           crumbs("station", code, lang)[:-1], actions=lead),
                 boards("station", code, path, lang))
