"""Downloads: a day's track as GPX that gpxpy reads back point for point, and as CSV; page
tables as Excel and CSV with the same rows the page shows, for whoever may open the page."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import gpxpy
import pytest
from case_helpers import (
    JUNLIANG_GRID,
    WANXIN_GRID,
    app_client,
    dispatcher,
    point_in,
    report,
    worker_of,
)
from openpyxl import load_workbook

from dashboard import auth
from streams.gps_state import pack_point
from streams.people import run_service_rules
from tests._people import resident, use_registry

PASSWORD = "correct-horse-1"
PARTY = "W0009"  # the worker of WX-01-09


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


def csv_rows(resp) -> list[list[str]]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


@pytest.fixture
def tasks(svc, clock):
    """A tenancy ending and a resident turning 60 in WX-01-09: two tasks for its worker."""
    use_registry(svc, [
        resident("R1", grid="WX-01-09", name="李秀英", tenant=True, lease_holder=True,
                 lease_end="2026-06-10"),
        resident("R2", grid="WX-01-09", name="赵建国", birth="1966-06-20")])
    clock.set(datetime(2026, 6, 1, 6, 0, tzinfo=svc.days.tz).timestamp())
    assert run_service_rules(svc, clock.now())["created"] == 2
    return svc


def test_a_workers_tasks_export_to_csv_and_excel_as_the_page_lists_them(tasks):
    c = app_client(tasks)
    rows = csv_rows(c.get(f"/export/table/worker_tasks.csv?path=/worker/{PARTY}"))
    assert rows[0] == ["服务事项", "居民", "状态", "到期"]
    assert sorted(r[:3] for r in rows[1:]) == [["租户信息重新登记", "李秀英", "待办"],
                                               ["老年证办理", "赵建国", "待办"]]
    assert {r[3] for r in rows[1:]} == {"06-10 23:59", "06-20 23:59"}
    resp = c.get(f"/export/table/worker_tasks.xlsx?path=/worker/{PARTY}&lang=en")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    sheet = list(load_workbook(io.BytesIO(resp.data)).active.values)
    assert sheet[0] == ("Service", "Resident", "Status", "Due")
    assert sorted(r[0] for r in sheet[1:]) == ["Re-register tenant (tenancy ends)",
                                               "Senior card (turning 60)"]
    assert {r[2] for r in sheet[1:]} == {"open"}
    tasks.clock.advance(15 * 86400)  # past the tenancy task's due date, before the other's
    rows = csv_rows(c.get(f"/export/table/worker_tasks.csv?path=/worker/{PARTY}"))
    assert sorted(r[2] for r in rows[1:]) == ["已超期", "待办"]


def test_a_cases_timeline_and_a_grids_versions_export_too(svc):
    report(svc, "X-1", item="CG006")
    dispatcher(svc).drain()
    c = app_client(svc)
    steps = csv_rows(c.get("/export/table/timeline.csv?path=/case/X-1"))
    assert steps[0] == ["时间", "环节", "操作人", "处置部门", "说明"]
    assert [r[1] for r in steps[1:3]] == ["上报", "派遣"]
    assert steps[1][2] == svc.district.worker(worker_of(svc, WANXIN_GRID)).name
    versions = csv_rows(c.get(f"/export/table/versions.csv?path=/grids/edit/{WANXIN_GRID}"))
    assert versions == [["版本", "修改人", "时间", "说明"], ["0", "原始数据", "", ""]]
    day = svc.days.day(svc.clock.now())
    cases = csv_rows(c.get(f"/export/table/worker_cases.csv?path=/worker/"
                           f"{worker_of(svc, WANXIN_GRID)}&day={day}"))
    assert [r[0] for r in cases[1:]] == ["X-1"]
    assert csv_rows(c.get(f"/export/table/worker_cases.csv?path=/worker/"
                          f"{worker_of(svc, WANXIN_GRID)}&day=20200101")) == [cases[0]]


def test_a_table_is_exported_only_from_the_page_that_shows_it(svc):
    c = app_client(svc)
    assert c.get(f"/export/table/worker_awards.csv?path=/worker/{PARTY}").status_code == 200
    for name, path in (("worker_tasks", "/street/wanxin"), ("timeline", f"/worker/{PARTY}"),
                       ("versions", f"/grid/{WANXIN_GRID}"), ("cases", f"/worker/{PARTY}"),
                       ("worker_tasks", "/worker/NOBODY"), ("timeline", "/case/NO-SUCH")):
        assert c.get(f"/export/table/{name}.csv?path={path}").status_code == 404, (name, path)
    assert c.get(f"/export/table/worker_cases.csv?path=/worker/{PARTY}&day=../x") \
        .status_code == 404


def signed_in(svc, name: str, role: str, **kw):
    """Return a test client of an app with access control on, signed in as a new user."""
    auth.add_user(svc, name, PASSWORD, role, **kw)
    c = app_client(svc)
    c.get("/login")
    resp = c.post("/login", data={"username": name, "password": PASSWORD,
                                  "csrf": c.get_cookie("gw_csrf").value})
    assert resp.status_code == 302
    return c


def test_a_street_supervisor_exports_only_their_streets_workers_and_cases(auth_svc):
    report(auth_svc, "C-WX-1", item="CG006")
    report(auth_svc, "C-JL-1", item="AQ001", grid=JUNLIANG_GRID)
    dispatcher(auth_svc).drain()
    c = signed_in(auth_svc, "wx", "street", street="wanxin")
    mine, theirs = worker_of(auth_svc, WANXIN_GRID), worker_of(auth_svc, JUNLIANG_GRID)
    for name in ("worker_tasks", "worker_cases", "worker_awards"):
        assert c.get(f"/export/table/{name}.csv?path=/worker/{mine}").status_code == 200, name
        assert c.get(f"/export/table/{name}.xlsx?path=/worker/{theirs}").status_code == 403, name
    assert c.get("/export/table/timeline.csv?path=/case/C-WX-1").status_code == 200
    assert c.get("/export/table/timeline.csv?path=/case/C-JL-1").status_code == 403
    assert c.get(f"/export/table/versions.csv?path=/grids/edit/{WANXIN_GRID}").status_code == 403
    assert c.get("/export/table/ranking.csv?path=/station/WX-01").status_code == 200
    assert c.get("/export/table/points.csv?path=/street/junliangcheng").status_code == 403


def test_a_department_operator_exports_only_their_departments_case(auth_svc):
    report(auth_svc, "C-WX-1", item="CG006")  # the Wanxin street office's
    report(auth_svc, "C-JL-1", item="AQ001", grid=JUNLIANG_GRID)  # the fire brigade's
    dispatcher(auth_svc).drain()
    c = signed_in(auth_svc, "fire", "department", dept="xiaofang")
    assert c.get("/export/table/timeline.xlsx?path=/case/C-JL-1").status_code == 200
    assert c.get("/export/table/timeline.xlsx?path=/case/C-WX-1").status_code == 403
    assert c.get(f"/export/table/worker_tasks.csv?path=/worker/{PARTY}").status_code == 403
