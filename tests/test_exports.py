"""Downloads: a day's track as GPX that gpxpy reads back point for point, and as CSV; page
tables as Excel and CSV with the same rows the page shows."""

from __future__ import annotations

import csv
import io

import gpxpy
from case_helpers import WANXIN_GRID, app_client, dispatcher, point_in, report, worker_of
from openpyxl import load_workbook

from streams.gps_state import pack_point


def put_track(svc, wid: str, points: list[tuple[int, float, float]]) -> str:
    day = svc.days.day(points[0][0])
    key = svc.keys.gps_track(svc.keys.gps_shard(wid), day, wid)
    svc.r.set(key, b"".join(pack_point(t, la, lo) for t, la, lo in points))
    return day


def a_walk(svc, n: int = 50) -> list[tuple[int, float, float]]:
    lat, lon = point_in(svc, WANXIN_GRID)
    t0 = int(svc.clock.now()) - 3600
    return [(t0 + 30 * i, round(lat + i * 1e-5, 6), round(lon - i * 1e-5, 6)) for i in range(n)]


def test_a_gpx_download_parses_back_to_the_same_points(svc):
    wid = worker_of(svc, WANXIN_GRID)
    pts = a_walk(svc)
    day = put_track(svc, wid, pts)
    resp = app_client(svc).get(f"/export/track/{wid}.gpx?day={day}")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    gpx = gpxpy.parse(resp.get_data(as_text=True))
    got = [(int(p.time.timestamp()), p.latitude, p.longitude)
           for p in gpx.tracks[0].segments[0].points]
    assert got == pts
    assert gpx.tracks[0].name.startswith(svc.district.worker(wid).name)


def test_a_csv_download_has_one_row_per_point_with_local_time(svc):
    wid = worker_of(svc, WANXIN_GRID)
    pts = a_walk(svc, 5)
    day = put_track(svc, wid, pts)
    rows = list(csv.DictReader(io.StringIO(
        app_client(svc).get(f"/export/track/{wid}.csv?day={day}").get_data(as_text=True))))
    assert [(int(r["timestamp"]), float(r["lat"]), float(r["lon"])) for r in rows] == pts
    assert rows[0]["local_time"].startswith(f"{day[:4]}-{day[4:6]}-{day[6:]}")


def test_an_empty_day_exports_an_empty_track_and_bad_input_is_404(svc):
    wid = worker_of(svc, WANXIN_GRID)
    c = app_client(svc)
    assert gpxpy.parse(c.get(f"/export/track/{wid}.gpx?day=20200101").get_data(as_text=True)) \
        .tracks[0].segments[0].points == []
    assert c.get(f"/export/track/{wid}.kml").status_code == 404
    assert c.get(f"/export/track/{wid}.gpx?day=../../etc").status_code == 404
    assert c.get("/export/track/NOBODY.gpx").status_code == 404


def test_a_pages_case_table_exports_to_excel_with_named_columns(svc):
    report(svc, "X-1", item="CG006")
    dispatcher(svc).drain()
    resp = app_client(svc).get("/export/table/cases.xlsx?path=/street/wanxin")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = list(ws.values)
    assert rows[0][0] == "案件编号" and rows[1][0] == "X-1"
    assert svc.district.grid(WANXIN_GRID).name in rows[1]


def test_a_ranking_exports_to_csv_in_english_on_request(svc):
    text = app_client(svc).get("/export/table/units.csv?path=/district&lang=en") \
        .get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][0] == "Name" and {r[0] for r in rows[1:]} == {"万新街道", "军粮城街道"}


def test_an_unknown_table_or_page_is_404(svc):
    c = app_client(svc)
    assert c.get("/export/table/nope.xlsx?path=/district").status_code == 404
    assert c.get("/export/table/cases.xlsx?path=/nowhere").status_code == 404
