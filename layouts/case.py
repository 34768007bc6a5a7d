"""Case page: where, what, who, the whole lifecycle with reminders and their times, photos;
the handling department acts on it here (accept, handle, return) and the district closes it."""

from __future__ import annotations

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import drill_queries as dq
from dashboard.auth_routes import scope
from dashboard.i18n import t
from layouts._drill import card, lang_of, map_view, not_found, shell, svc, table

dash.register_page(__name__, path_template="/case/<code>", title="案件 · 网格运行指挥中心",
                   name="case")
ACTIONS = {"department": {"accept": ("dispatched",), "handle": ("dispatched", "accepted"),
                          "return": ("dispatched", "accepted")},
           "district": {"close": ("verified",)}}


def _allowed(c: dict) -> list[str]:
    s = scope()
    if s.role == "department" and c["department"] != s.dept:
        return []
    return [a for a, states in ACTIONS.get(s.role, {}).items() if c["state"] in states]


def layout(code: str = "", **kw) -> html.Div:
    """Return the page of one case."""
    lang = lang_of(kw)
    s = svc()
    c = dq.case(s, code, lang)
    path = f"/case/{code}"
    if c is None:
        return not_found(path, lang)
    g = s.district.grid(c["grid"])
    facts = [(t("drill_what", lang), f"{c['item_name']} · {c['category_name']}"),
             (t("drill_where", lang), f"{c['street_name']} {c['grid_name']} "
                                      f"({c['lat']:.5f}, {c['lon']:.5f})"),
             (t("drill_who", lang), c["worker_name"] or c["worker"]),
             (t("drill_dept", lang), c["department_name"]),
             (t("col_state", lang), c["state_name"]),
             (t("drill_deadline", lang), dq.local(s, _ts(c["deadline"]), "%Y-%m-%d %H:%M")),
             (t("drill_reminders", lang), str(c["reminders"])),
             (t("drill_description", lang), c["description"] or "—")]
    info = html.Dl([x for k, v in facts for x in (html.Dt(k), html.Dd(v))], className="dr-facts")
    steps = dq.timeline(s, c, lang)
    tl_tools, tl_grid = table("drill-timeline", steps, dq.COLUMNS["timeline"], lang, "timeline",
                              path)
    geo = {"mode": "case", "point": [c["lat"], c["lon"]], "u": c["urgency"],
           "ring": [[lat, lon] for lon, lat in g.ring] if g else [],
           "bounds": [[c["lat"] - 0.003, c["lon"] - 0.004], [c["lat"] + 0.003, c["lon"] + 0.004]]}
    media = c.get("media_url") or ""
    photos = [html.Img(src=media, className="dr-photo", alt=c["item_name"])] \
        if media.startswith(("http://", "https://", "/")) else []
    acts = _allowed(c)
    act_box = [dcc.Textarea(id="case-note", className="dr-note-input",
                            placeholder=t("drill_act_note", lang)),
               html.Div([html.Button(t(f"drill_act_{a}", lang), n_clicks=0, className="dr-btn",
                                     id={"type": "case-act", "action": a}) for a in acts],
                        className="dr-pair"),
               html.Div(id="case-act-msg", className="dr-muted"),
               dcc.Location(id="case-reload", refresh=True)] if acts else []
    side = [card(c["id"], [info, *act_box]), card(t("drill_map", lang),
                                                   map_view("drill-map-case", geo), "dr-map-small")]
    if photos:
        side.append(card(t("drill_photos", lang), photos))
    body = [html.Div(className="dr-case", children=[
        html.Div(side, className="dr-side"),
        card(t("drill_timeline", lang) + f" · {len(steps)}", tl_grid, tools=tl_tools)])]
    items = [(t("drill_district", lang), "/district")]
    if g is not None:
        items += [(c["street_name"], f"/street/{c['street']}"), (g.name, f"/grid/{g.code}")]
    if scope().role == "department":
        items = [(c["department_name"], f"/department/{c['department']}")]
    return shell(f"{c['item_name']} · {c['id']}", path, lang, body, items)


def _ts(iso: str | None) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp() if iso else 0.0


@callback(Output("case-act-msg", "children"), Output("case-reload", "href"),
          Input({"type": "case-act", "action": ALL}, "n_clicks"), State("case-note", "value"),
          State("drill-ctx", "data"), prevent_initial_call=True)
def act(clicks: list, note: str | None, page: dict):
    """Apply the clicked action to the page's case as the signed-in department or district."""
    from dashboard.cases import IllegalTransition
    from streams.cases import CaseStore

    if not any(clicks) or not ctx.triggered_id:
        return no_update, no_update
    action = ctx.triggered_id["action"]
    s, who = svc(), scope()
    case_id = page["path"].rsplit("/", 1)[-1]
    c = dq.case(s, case_id)
    if c is None or action not in _allowed(c):
        return t("auth_forbidden", page.get("lang", "zh")), no_update
    store = s.extra.get("case_store") or CaseStore(s)
    actor = f"{'dept' if who.role == 'department' else 'supervisor'}:{who.dept or who.user}"
    try:
        store.act(case_id, action, actor, note=(note or "")[:500],
                  allow=lambda case: who.role != "department" or case.dept == who.dept)
    except (IllegalTransition, KeyError) as exc:
        return str(exc), no_update
    return t("drill_act_done", page.get("lang", "zh")), page["path"]
