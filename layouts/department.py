"""Department page: open, overdue and returned cases, handling-time distribution, 30-day trend."""

from __future__ import annotations

import dash
import plotly.graph_objects as go
from dash import dcc, html

from dashboard import drill_queries as dq
from dashboard.i18n import t
from layouts._drill import card, kpis, lang_of, not_found, shell, svc, table

dash.register_page(__name__, path_template="/department/<code>", title="部门 · 网格运行指挥中心",
                   name="department")
GRAPH = {"displayModeBar": False, "responsive": True}
LAYOUT = dict(paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
              font={"color": "#c9d6ea", "size": 13}, margin={"l": 44, "r": 12, "t": 8, "b": 36},
              legend={"orientation": "h", "y": 1.12, "x": 0}, bargap=0.15,
              xaxis={"gridcolor": "#1d2b45"}, yaxis={"gridcolor": "#1d2b45", "rangemode": "tozero"})


def _label(hours: float, lang: str) -> str:
    if hours < 1:
        return f"≤{hours * 60:.0f}{t('drill_minutes', lang)}"
    return f"≤{hours:.0f}{'h' if lang == 'en' else '小时'}"


def _hist(hist: dict, lang: str) -> go.Figure:
    fig = go.Figure(go.Bar(x=[_label(h, lang) for h in hist], y=list(hist.values()),
                           marker_color="#4cc3ff"))
    fig.update_layout(**LAYOUT, yaxis_title=t("drill_cases_n", lang))
    fig.update_xaxes(type="category")
    return fig


def _trend(tr: dict, lang: str) -> go.Figure:
    x = [f"{d[4:6]}-{d[6:]}" for d in tr["days"]]
    fig = go.Figure([
        go.Bar(x=x, y=tr["ontime"], name=t("drill_ontime_n", lang), marker_color="#22c55e"),
        go.Bar(x=x, y=tr["late"], name=t("drill_late_n", lang), marker_color="#ef4444"),
        go.Scatter(x=x, y=tr["returned"], name=t("drill_returned_n", lang),
                   mode="lines+markers", line={"color": "#f59e0b"})])
    fig.update_layout(**LAYOUT, barmode="stack")
    fig.update_xaxes(type="category", nticks=10)
    return fig


def layout(code: str = "", **kw) -> html.Div:
    """Return the page of one department or street office."""
    lang = lang_of(kw)
    s = svc()
    dept = s.district.department(code)
    path = f"/department/{code}"
    if dept is None:
        return not_found(path, lang)
    doc = dq.department(s, code, lang)
    tr = doc["trend"]
    judged = sum(tr["ontime"]) + sum(tr["late"])
    strip = kpis([(t("drill_open", lang), doc["open"], ""),
                  (t("drill_overdue", lang), doc["overdue"], "dr-red" if doc["overdue"] else ""),
                  (t("drill_handled", lang), doc["handled_30d"], "dr-green"),
                  (t("drill_returned", lang), doc["returned_30d"], "dr-amber"),
                  (t("drill_ontime", lang),
                   f"{100 * sum(tr['ontime']) / judged:.0f}%" if judged else "—", "")])
    c_tools, c_grid = table("drill-cases", doc["cases"], dq.COLUMNS["cases"], lang, "cases", path)
    r_tools, r_grid = table("drill-returned", doc["returned"], dq.COLUMNS["returned"], lang,
                            "returned", path)
    empty = html.Div(t("drill_no_rows", lang), className="dr-empty")
    body = [strip, html.Div(className="dr-grid-2 dr-charts", children=[
        card(t("drill_handling_hist", lang),
             dcc.Graph(figure=_hist(doc["hist"], lang), config=GRAPH, className="dr-graph")
             if doc["hist"] else empty),
        card(t("drill_trend", lang),
             dcc.Graph(figure=_trend(tr, lang), config=GRAPH, className="dr-graph")),
    ]), card(t("drill_cases", lang) + f" · {len(doc['cases']):,}", c_grid, "dr-cases-card",
             tools=c_tools)]
    if doc["returned"]:
        body.append(card(t("drill_returned_list", lang) + f" · {len(doc['returned']):,}",
                         r_grid, "dr-cases-card", tools=r_tools))
    name = dept.name if lang == "zh" else dept.name_en or dept.name
    items = [(t("drill_district", lang), "/district")]
    if dept.street and s.district.street(dept.street):
        items.append((s.district.street(dept.street).name, f"/street/{dept.street}"))
    return shell(name, path, lang, body, items)
