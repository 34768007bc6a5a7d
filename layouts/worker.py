"""Worker page: status, a day's track replayed on the map (play, pause, speed), patrols and
coverage, cases reported, service tasks and party points award by award; the track downloads
as GPX or CSV, the tables as CSV or Excel."""

from __future__ import annotations

import re

import dash
from dash import dcc, html

from dashboard import drill_queries as dq
from dashboard.auth_routes import scope
from dashboard.i18n import t
from layouts._drill import card, crumbs, kpis, lang_of, map_view, not_found, shell, svc, table

dash.register_page(__name__, path_template="/worker/<code>", title="网格员 · 网格运行指挥中心",
                   name="worker")
DAY = re.compile(r"^\d{8}$")


def _hm(svc_, ts: float) -> str:
    return dq.local(svc_, ts, "%H:%M")


def layout(code: str = "", day: str = "", **kw) -> html.Div:
    """Return the page of one worker on one day (?day=YYYYMMDD, default today)."""
    lang = lang_of(kw)
    s = svc()
    w = s.district.worker(code)
    path = f"/worker/{code}"
    if w is None:
        return not_found(path, lang)
    days = dq.days_back(s, 7)
    day = day if DAY.fullmatch(day or "") else days[0]
    doc = dq.worker_day(s, code, day, scope(), lang)
    row = dq.worker_rows(s, [doc["grid"]], scope(), lang=lang)[0]
    a = doc["assessment"] or {}
    strip = kpis([
        (t("drill_status", lang), row["status"], f"dr-st-{row['code']}"),
        (t("drill_phone", lang), row["phone"], ""),
        (t("drill_points_n", lang), len(doc["track"]), ""),
        (t("drill_patrols", lang), a.get("patrols", "—"), "dr-green"),
        (t("drill_coverage", lang), f"{a['coverage'] * 100:.0f}%" if a else "—", ""),
        (t("drill_distance", lang), f"{a['distance_m'] / 1000:.1f} {t('drill_km', lang)}"
         if a.get("distance_m") is not None else "—", ""),
        (t("drill_score", lang), f"{a['score']:.1f}" if a.get("score") is not None else "—", ""),
    ])
    day_links = [html.A(f"{d[4:6]}-{d[6:]}", href=f"{path}?day={d}&lang={lang}",
                        className="dr-chip" + (" dr-on" if d == day else "")) for d in days]
    picker = dcc.Input(id="drill-day", type="date", value=f"{day[:4]}-{day[4:6]}-{day[6:]}",
                       className="dr-date", max=f"{days[0][:4]}-{days[0][4:6]}-{days[0][6:]}")
    exports = [html.A(t("drill_gpx", lang), href=f"/export/track/{code}.gpx?day={day}",
                      className="dr-btn", download="", id="drill-gpx"),
               html.A(t("drill_csv", lang), href=f"/export/track/{code}.csv?day={day}",
                      className="dr-btn", download="", id="drill-track-csv")]
    geo = {"mode": "track", "ring": doc["ring"], "track": doc["track"],
           "bounds": _bounds(doc["ring"], doc["track"]),
           "patrols": [[p[0], p[1]] for p in a.get("patrol_list", [])]}
    patrols = [html.Li(f"{_hm(s, p[0])}–{_hm(s, p[1])} · {t('drill_coverage', lang)} "
                       f"{p[2] * 100:.0f}%") for p in a.get("patrol_list", [])]
    pts, tasks, awards = doc["points"], doc["tasks"], doc["awards"]
    c_tools, c_grid = table("drill-worker-cases", doc["cases"], dq.COLUMNS["worker_cases"], lang,
                            "worker_cases", path, query=f"day={day}")
    t_tools, t_grid = table("drill-worker-tasks", tasks, dq.COLUMNS["worker_tasks"], lang,
                            "worker_tasks", path)
    side = [card(t("drill_patrol_list", lang), html.Ul(patrols, className="dr-list")
                 if patrols else html.Div(t("drill_no_rows", lang), className="dr-empty"),
                 grow=0.6),
            card(t("drill_reported", lang) + f" · {len(doc['cases'])}", c_grid, tools=c_tools),
            card(t("drill_tasks", lang) + f" · {len(tasks)}", t_grid, tools=t_tools)]
    if pts:
        a_tools, a_grid = table("drill-worker-awards", awards, dq.COLUMNS["worker_awards"], lang,
                                "worker_awards", path)
        side.append(card(f"{t('drill_points', lang)} · {t('drill_points_month', lang)} "
                         f"{pts['month_points']} · {t('drill_points_total', lang)} "
                         f"{pts['total']}", a_grid, tools=a_tools, grow=1.4))
    title = f"{w.name} · {doc['grid'].name}"
    body = [strip, html.Div(className="dr-worker", children=[
        card(t("drill_track", lang), [
            html.Div([*day_links, picker], className="dr-toolbar"),
            map_view("drill-map-track", geo, "dr-track-map"),
            html.Div(id="drill-replay", className="dr-replay",
                     **{"data-empty": t("drill_no_track", lang), "data-play": t("drill_play", lang),
                        "data-pause": t("drill_pause", lang),
                        "data-speed": t("drill_speed", lang)}),
        ], "dr-map-card", tools=exports),
        html.Div(side, className="dr-side"),
    ])]
    return shell(title, path, lang, body, crumbs("worker", code, lang))


def _bounds(ring: list, track: list) -> list:
    lats = [p[0] for p in ring] + [p[1] for p in track]
    lons = [p[1] for p in ring] + [p[2] for p in track]
    return [[min(lats), min(lons)], [max(lats), max(lons)]]
