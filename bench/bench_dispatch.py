"""Case benchmarks: dispatch throughput of one consumer, and the latency of the wall's backlog
reads with 1,000,000 historical (closed) and 100,000+ open cases loaded.

Environment: BENCH_HISTORICAL (default 1,000,000 closed cases), BENCH_REPORTS (default
120,000 reports dispatched and measured; a few become linked duplicates, the rest stay open).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
from shapely.geometry import Point, Polygon

from bench import emit
from dashboard import case_queries
from dashboard.cases import Case, Step, to_hash
from dashboard.catalog import catalog_for
from dashboard.clock import FakeClock
from dashboard.config import load_settings
from dashboard.dispatch import route
from dashboard.redis_server import EmbeddedRedis
from dashboard.services import build_services
from streams.cases import CaseStore
from streams.consumer import Consumer
from streams.dispatcher import CaseHandler
from streams.reports import Report, report_fields
from streams.runner import settle

HISTORICAL = int(os.environ.get("BENCH_HISTORICAL", "1000000"))
REPORTS = int(os.environ.get("BENCH_REPORTS", "120000"))
START = 1_780_000_000.0  # 2026-05-29 04:26 in Tianjin
DAY = 86400.0


def _points(svc, n: int, rng: random.Random) -> list[tuple[float, float, object]]:
    """Return n (lat, lon, place) points spread over every grid."""
    polys = [Polygon(g.ring) for g in svc.district.grids]
    out = []
    for k in range(n):
        poly = polys[k % len(polys)]
        minx, miny, maxx, maxy = poly.bounds
        while True:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if poly.contains(Point(x, y)):
                break
        out.append((y, x, svc.locator.place(k % len(polys))))
    return out


def load_history(svc, n: int) -> float:
    """Write n closed cases of the past year as closing leaves them in Redis (hash, history,
    the all-cases index, evaluation counters); return cases/s."""
    rng = random.Random(7)
    store = CaseStore(svc)
    items = catalog_for(svc).items
    pts = _points(svc, 5000, rng)
    k_all, k_hist, k_case = svc.keys.cases_all(), svc.keys.case_history, svc.keys.case
    t0 = time.perf_counter()
    pipe = svc.r.pipeline(transaction=False)
    for k in range(n):
        item = items[k % len(items)]
        lat, lon, place = pts[k % len(pts)]
        at = START - rng.uniform(2, 365) * DAY
        handled = at + rng.uniform(0.05, 1.3) * 86400
        c = Case(id=f"H{k:07d}", item=item.code, urgency=item.urgency, state="closed",
                 dept=route(item, place, svc.district), lat=lat, lon=lon, grid=place.grid,
                 station=place.station, street=place.street, worker="W0001", reported_at=at,
                 updated_at=handled + 7200, dispatched_at=at + 1, deadline=at + 86400,
                 accepted_at=at + 600, handled_at=handled, verified_at=handled + 3600,
                 closed_at=handled + 7200, description="历史案件", rv=6)
        steps = [Step("report", "", "reported", "W0001", at),
                 Step("dispatch", "reported", "dispatched", "system", at + 1, "", c.dept),
                 Step("accept", "dispatched", "accepted", "dept", at + 600),
                 Step("handle", "accepted", "handled", "dept", handled, "已处置"),
                 Step("verify", "handled", "verified", "W0001", handled + 3600),
                 Step("close", "verified", "closed", "supervisor", handled + 7200)]
        pipe.hset(k_case(c.id), mapping=to_hash(c))
        pipe.rpush(k_hist(c.id), *[orjson.dumps(st.as_dict()) for st in steps])
        pipe.zadd(k_all, {c.id: at})
        for op in store.event_ops(None, c, steps[-1:]):
            pipe.execute_command(*op)
        if k % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    return n / (time.perf_counter() - t0)


def compact_aof(r, timeout_s: float = 600.0) -> None:
    """Rewrite the AOF now and wait for it: loading a million cases makes Redis rewrite it
    (on 100 % growth), and a rewrite child running during the timing would take a core."""
    deadline = time.monotonic() + timeout_s

    def busy() -> bool:
        info = r.info("persistence")
        return bool(info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"])

    while busy() and time.monotonic() < deadline:
        time.sleep(0.2)
    r.bgrewriteaof()
    time.sleep(0.2)
    while busy() and time.monotonic() < deadline:
        time.sleep(0.2)


def bench_dispatch(svc, n: int) -> tuple[float, int, int]:
    """Append n reports, then time one consumer dispatching them all; return cases/s."""
    rng = random.Random(11)
    items = catalog_for(svc).items
    pts = _points(svc, n, rng)
    workers = svc.district.workers
    pipe = svc.r.pipeline(transaction=False)
    for k, (lat, lon, _place) in enumerate(pts):
        rep = Report(id=f"B{k:07d}", item=items[rng.randrange(len(items))].code, lat=lat,
                     lon=lon, worker=workers[k % len(workers)].id,
                     at=START - rng.uniform(0, 30) * DAY, description="巡查发现问题")
        pipe.xadd(svc.keys.events_stream(), report_fields(rep))
        if k % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    consumer = Consumer(svc.r, svc.keys, CaseHandler(svc), name="bench", batch=1000,
                        clock=svc.clock)
    compact_aof(svc.r)
    settle()  # as a consumer process does once started
    t0 = time.perf_counter()
    done = consumer.drain()
    elapsed = time.perf_counter() - t0
    linked = n - svc.r.zcard(svc.keys.cases_open())
    return done / elapsed, svc.r.zcard(svc.keys.cases_open()), linked


def bench_reads(svc, rounds: int = 300) -> dict[str, float]:
    """Return the p95 latency in ms of each backlog read of the wall and the APIs."""
    dept = max(case_queries.open_by_department(svc).items(), key=lambda kv: kv[1])[0]
    reads = {
        "overdue_now": lambda: case_queries.overdue_now(svc),
        "overdue_count": lambda: case_queries.overdue_count(svc),
        "due_within_1h": lambda: case_queries.due_within(svc, 3600),
        "open_by_department": lambda: case_queries.open_by_department(svc),
        "overdue_by_department": lambda: case_queries.overdue_by_department(svc),
        "open_by_grid": lambda: case_queries.open_by_grid(svc),
        "department_queue": lambda: case_queries.department_cases(svc, dept, 0, 100),
        "department_ranking": lambda: case_queries.department_ranking(svc),
        "case_kpis": lambda: case_queries.case_kpis(svc),
    }
    out = {}
    for name, fn in reads.items():
        fn()
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        out[name] = float(np.percentile(times, 95))
    return out


def main() -> None:
    """Run the case benchmarks and print JSON lines."""
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-cases-"))
    server = EmbeddedRedis(tmp / "redis")
    server.start()
    try:
        settings = load_settings({}, redis_url=server.url, data_dir=str(tmp / "var"))
        svc = build_services(settings, clock=FakeClock(START))
        hist_rate = load_history(svc, HISTORICAL)
        emit("case_history_load_per_s", hist_rate, "cases/s", historical=HISTORICAL)
        rate, open_, linked = bench_dispatch(svc, REPORTS)
        emit("dispatch_cases_per_s", rate, "cases/s", 10_000, "higher", reports=REPORTS,
             open=open_, linked=linked, historical=HISTORICAL)
        svc.clock.advance(6 * 3600)  # urgent cases are overdue now, normal ones are not yet
        p95 = bench_reads(svc)
        emit("backlog_read_p95_ms", max(p95.values()), "ms", 20, "lower",
             open=svc.r.zcard(svc.keys.cases_open()),
             overdue=case_queries.overdue_count(svc), historical=HISTORICAL,
             reads={k: round(v, 2) for k, v in p95.items()})
        t = time.perf_counter()
        m = case_queries.case_map(svc)
        emit("case_map_snapshot_ms", (time.perf_counter() - t) * 1000, "ms",
             markers=len(m["ids"]))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
