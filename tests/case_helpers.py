"""Helpers of the case tests: points in grids, a dispatch consumer, an app client, keys."""

from __future__ import annotations

from shapely.geometry import Polygon

from streams.consumer import Consumer
from streams.dispatcher import CaseHandler
from streams.reports import Report, append_report

WANXIN_GRID, JUNLIANG_GRID = "WX-01-01", "JL-01-01"


def point_in(svc, grid: str) -> tuple[float, float]:
    """Return (lat, lon) of a point well inside a grid."""
    p = Polygon(svc.district.grid(grid).ring).representative_point()
    return p.y, p.x


def worker_of(svc, grid: str) -> str:
    """Return the id of the worker of a grid."""
    return svc.district.worker_of_grid(grid).id


def dispatcher(svc) -> Consumer:
    """Return a consumer of the events stream on the test services."""
    return Consumer(svc.r, svc.keys, CaseHandler(svc), name="t", batch=500, block_ms=10,
                    clock=svc.clock)


def report(svc, rid: str, item: str = "CG006", grid: str = WANXIN_GRID, **kw) -> Report:
    """Append a report of an item at the middle of a grid (lat/lon/worker overridable)."""
    lat, lon = point_in(svc, grid)
    rep = Report(id=rid, item=item, lat=kw.pop("lat", lat), lon=kw.pop("lon", lon),
                 worker=kw.pop("worker", worker_of(svc, grid)), at=svc.clock.now(), **kw)
    append_report(svc, rep)
    return rep


def app_client(svc):
    """Return a Flask test client of the app on the test services (no push relay)."""
    from app import create_app

    app, _ = create_app(svc.settings, services=svc, start_relay=False)
    return app.server.test_client()
