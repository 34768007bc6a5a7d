"""Street page: its grid stations on the map and ranked, workers, open cases; click a station."""

from __future__ import annotations

import dash
from dash import html

from layouts._drill import crumbs, lang_of, not_found, svc
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
    actions = [html.A(dept.name, href=f"/department/{dept.code}", className="dr-btn")] if dept \
        else []
    return unit_page("street", code, street.name if lang == "zh" else street.name_en or street.name,
                     path, lang, crumbs("street", code, lang)[:-1], actions=actions)


