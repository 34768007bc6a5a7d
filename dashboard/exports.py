"""Downloads of the drill-down: a worker's day track as GPX or CSV, page tables as Excel or CSV.

Every route checks the current Scope against the resource it exports (the guard in
dashboard.auth_routes lets /export/ through to these checks); the bytes are built from the
same queries the pages show.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import gpxpy.gpx
from flask import Blueprint, Response, current_app, request
from openpyxl import Workbook
from openpyxl.styles import Font

from dashboard import drill_queries as dq
from dashboard.auth_routes import lang, require, scope
from dashboard.i18n import t
from dashboard.queries import track

bp = Blueprint("exports", __name__, url_prefix="/export")
DAY = re.compile(r"^\d{8}$")


def services():  # noqa: ANN201
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


def _download(body: bytes | str, mimetype: str, filename: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f"attachment; filename=\"{filename}\""
    resp.headers["Cache-Control"] = "no-store"
    return resp


def track_gpx(name: str, wid: str, day: str, points: list[tuple[int, float, float]]) -> str:
    """Return a day's track as GPX 1.1 (one track, one segment, UTC times)."""
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "Gridwall"
    trk = gpxpy.gpx.GPXTrack(name=f"{name} {day}", description=f"worker {wid}")
    seg = gpxpy.gpx.GPXTrackSegment()
    seg.points = [gpxpy.gpx.GPXTrackPoint(lat, lon, time=datetime.fromtimestamp(ts, UTC))
                  for ts, lat, lon in points]
    trk.segments.append(seg)
    gpx.tracks.append(trk)
    return gpx.to_xml(version="1.1")


def track_csv(svc, wid: str, points: list[tuple[int, float, float]]) -> str:  # noqa: ANN001
    """Return a day's track as CSV: worker, Unix time, local time, lat, lon."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(["worker", "timestamp", "local_time", "lat", "lon"])
    for ts, lat, lon in points:
        out.writerow([wid, ts, dq.local(svc, ts, "%Y-%m-%d %H:%M:%S"), f"{lat:.6f}", f"{lon:.6f}"])
    return buf.getvalue()


@bp.get("/track/<wid>.<fmt>")
def worker_track(wid: str, fmt: str):
    """Download a worker's track of ?day=YYYYMMDD (default today) as GPX or CSV."""
    svc = services()
    require("worker", wid)
    w = svc.district.worker(wid)
    day = request.args.get("day") or svc.days.day(svc.clock.now())
    if w is None or fmt not in ("gpx", "csv") or not DAY.fullmatch(day):
        return Response("unknown worker, format (gpx, csv) or day (YYYYMMDD)", 404)
    points = track(svc, wid, day)
    if fmt == "gpx":
        return _download(track_gpx(w.name, wid, day, points), "application/gpx+xml",
                         f"{wid}-{day}.gpx")
    return _download(track_csv(svc, wid, points), "text/csv; charset=utf-8",
                     f"{wid}-{day}.csv")


def table_xlsx(title: str, columns: list[tuple[str, str]], rows: list[dict]) -> bytes:
    """Return rows as an Excel workbook with a bold, frozen header row."""
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31] or "Sheet1"
    ws.append([header for _, header in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append([r.get(field) for field, _ in columns])
    ws.freeze_panes = "A2"
    for i, (_field, header) in enumerate(columns, 1):
        width = max([len(str(header)) * 2] + [len(str(r.get(_field) or "")) for r in rows[:200]])
        ws.column_dimensions[ws.cell(1, i).column_letter].width = min(40, width + 2)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@bp.get("/table/<name>.<fmt>")
def table(name: str, fmt: str):
    """Download a page's table (?path=/street/wanxin, or /worker/W0001&day=20260529 for the
    cases a worker reported that day) as Excel (xlsx) or CSV.

    Whoever may open the page may download its tables, nobody else: a street supervisor only
    their street's units, workers and cases, a department operator only their department's
    cases (dashboard.auth_policy.may_open_path)."""
    svc = services()
    path = request.args.get("path", "")
    day = request.args.get("day", "")
    from dashboard.auth_policy import may_open_path, parse_page

    if parse_page(path) is None or fmt not in ("xlsx", "csv") or (day and not DAY.fullmatch(day)):
        return Response("unknown page, format (xlsx, csv) or day (YYYYMMDD)", 404)
    if not may_open_path(svc, scope(), path):
        return Response(f"not allowed: {path[:80]}", 403)
    lg = lang()
    try:
        rows = dq.table(svc, scope(), path, name, lg, day=day)
    except KeyError:
        return Response(f"no table {name[:40]} on {path[:80]}", 404)
    fields = [f for f in dq.COLUMNS[name] if any(f in r for r in rows)] or list(dq.COLUMNS[name])
    columns = [(f, t(f"col_{f}", lg)) for f in fields]
    stem = f"{name}-{path.strip('/').replace('/', '-') or 'district'}" + (f"-{day}" if day else "")
    if fmt == "xlsx":
        return _download(table_xlsx(t(f"table_{name}", lg), columns, rows),
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         f"{stem}.xlsx")
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow([h for _, h in columns])
    for r in rows:
        out.writerow([r.get(f) for f, _ in columns])
    return _download("\ufeff" + buf.getvalue(), "text/csv; charset=utf-8", f"{stem}.csv")
