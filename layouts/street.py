"""Street page: its grid stations on the map and ranked, workers, open cases, the worker ranking
and party-member points; click a station or a worker."""

from __future__ import annotations

import dash
from dash import html

from layouts._drill import below, boards, crumbs, lang_of, not_found, svc
from layouts.district import unit_page

dash.register_page(__name__, path_template="/street/<code>", title="街道 · 网格运行指挥中心",
                   name="street")


def layout(code: str = "", **kw) -> html.Div:
    """Return the page of one street."""
    lang = lang_of(kw)
    street = svc().district.street(code)
    path = f"/street/{code}"
    if street is None:
        return not_found(path, lang)
    dept = next((d for d in svc().district.departments if d.street == code), None)
    actions = [html.A(dept.name_en if lang == "en" and dept.name_en else dept.name,
                      href=f"/department/{dept.code}", className="dr-btn")] if dept else []
    title = street.name if lang == "zh" else street.name_en or street.name
    return below(unit_page("street", code, title, path, lang, crumbs("street", code, lang)[:-1],
                           actions=actions),
                 boards("street", code, path, lang))
