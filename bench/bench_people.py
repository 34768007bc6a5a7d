"""People benchmarks: the daily service rule run over 500,000 residents, and the assessment of
20,000 workers' day of tracks, both end to end against a real redis-server.

service_rules_500k_residents_s: read the renewals, evaluate every rule (vectorised pandas) and
create the day's tasks idempotently (Lua), for a registry of 500,000 residents built from the
committed one; the first run of a day (every task new) and a rerun (none new) are reported.

assessment_20k_workers_s: read 20,000 packed tracks (two 75-minute patrols and a day of
idle fixes each, about 1,500 points) from Redis, detect patrols, coverage, anomalies, score
and write the results and rankings.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bench import emit
from bench.city import make_city
from dashboard.config import ROOT, load_settings
from dashboard.redis_server import EmbeddedRedis
from dashboard.residents import load_residents
from dashboard.services import build_services

RESIDENTS = int(os.environ.get("BENCH_RESIDENTS", "500000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "20000"))
DAY = "2026-11-04"
M_PER_DEG = 111195.0


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def big_registry(n: int) -> pd.DataFrame:
    """Return a registry of n residents: the committed one, repeated with fresh ids."""
    base = load_residents(ROOT / "data" / "districts" / "dongli" / "residents.parquet")
    reps = -(-n // len(base))
    df = pd.concat([base] * reps, ignore_index=True).iloc[:n].copy()
    df["rid"] = [f"R{i + 1:07d}" for i in range(n)]
    return df.set_index("rid", drop=False)


def bench_rules(tmp: Path, redis_url: str) -> None:
    from streams.people import run_service_rules

    t0 = time.perf_counter()
    df = big_registry(RESIDENTS)
    build_s = time.perf_counter() - t0
    settings = load_settings({}, redis_url=redis_url, data_dir=str(tmp / "var-rules"),
                             key_prefix="benchrules")
    tz = build_services(settings).days.tz
    clock = _Clock(datetime.fromisoformat(f"{DAY}T06:00").replace(tzinfo=tz).timestamp())
    svc = build_services(settings, clock=clock)
    svc.extra["residents"] = df
    t, cpu = time.perf_counter(), time.process_time()
    first = run_service_rules(svc, clock.now())
    first_s, cpu = time.perf_counter() - t, time.process_time() - cpu
    t = time.perf_counter()
    again = run_service_rules(svc, clock.now())
    again_s = time.perf_counter() - t
    emit("service_rules_500k_residents_s", first_s, "s", 10.0, "lower",
         cpu_s=round(cpu, 2), residents=len(df), tasks_created=first["created"],
         rerun_s=round(again_s, 3),
         rerun_created=again["created"], registry_build_s=round(build_s, 2))


def _tracks(lat0: np.ndarray, lon0: np.ndarray, day_start: float,
            rng: np.random.Generator) -> list[bytes]:
    """Return packed day tracks for grids with south-west corners (lat0, lon0)."""
    from bench.city import CELL_DEG

    n = len(lat0)
    w_m, h_m = CELL_DEG * M_PER_DEG * np.cos(np.radians(lat0)), CELL_DEG * M_PER_DEG
    parts = []
    for start_h in (8.5, 14.5):  # two 75-minute lawn-mower patrols, a fix every 10 s
        k = np.arange(450)
        s = 1.25 * 10 * k  # metres walked
        row = (s // (w_m[:, None] - 20)).astype(int)
        along = s % (w_m[:, None] - 20)
        x = np.where(row % 2 == 0, 10 + along, w_m[:, None] - 10 - along)
        rows = int((h_m - 20) // 25)
        up = row % (2 * rows - 2)  # up the grid row by row, then back down
        y = 12 + 25 * np.where(up < rows, up, 2 * rows - 2 - up)
        t = day_start + start_h * 3600 + 10 * k + rng.integers(0, 600, n)[:, None]
        parts.append((t, x, y + rng.normal(0, 3, x.shape)))
    idle = np.arange(600)  # idle fixes every 60 s through the rest of the day
    t_idle = day_start + 7 * 3600 + 60 * idle
    busy = (((t_idle - day_start) / 3600 >= 8.4) & ((t_idle - day_start) / 3600 < 9.9)) | (
        ((t_idle - day_start) / 3600 >= 14.4) & ((t_idle - day_start) / 3600 < 15.9))
    t_idle = t_idle[~busy]
    parts.append((np.broadcast_to(t_idle, (n, len(t_idle))), np.full((n, len(t_idle)), 60.0)
                  + rng.normal(0, 3, (n, len(t_idle))), np.full((n, len(t_idle)), 60.0)))
    t = np.concatenate([p[0] for p in parts], axis=1)
    x = np.concatenate([p[1] for p in parts], axis=1)
    y = np.concatenate([p[2] for p in parts], axis=1)
    order = np.argsort(t, axis=1, kind="stable")
    t, x, y = (np.take_along_axis(a, order, axis=1) for a in (t, x, y))
    lat = lat0[:, None] + y / M_PER_DEG
    lon = lon0[:, None] + x / (M_PER_DEG * np.cos(np.radians(lat0)))[:, None]
    rec = np.empty(t.shape, dtype=[("t", "<u4"), ("lat", "<i4"), ("lon", "<i4")])
    rec["t"], rec["lat"], rec["lon"] = t, np.round(lat * 1e6), np.round(lon * 1e6)
    return [rec[i].tobytes() for i in range(n)]


def bench_assessment(tmp: Path, redis_url: str) -> None:
    from streams.people import assess_day

    city = make_city(tmp / "city", WORKERS)
    settings = load_settings({}, redis_url=redis_url, data_dir=str(tmp / "var-assess"),
                             district=str(city), key_prefix="benchassess")
    svc0 = build_services(settings)
    day_start = datetime.fromisoformat(f"{DAY}T00:00").replace(tzinfo=svc0.days.tz).timestamp()
    clock = _Clock(day_start + 18.5 * 3600)
    svc = build_services(settings, clock=clock)
    day = svc.days.day(clock.now())
    rng = np.random.default_rng(7)
    workers = svc.district.workers
    points = 0
    for start in range(0, len(workers), 2000):
        part = workers[start:start + 2000]
        rings = [svc.district.grid(w.grid).ring for w in part]
        lat0 = np.array([min(p[1] for p in r) for r in rings])
        lon0 = np.array([min(p[0] for p in r) for r in rings])
        blobs = _tracks(lat0, lon0, day_start, rng)
        pipe = svc.r.pipeline(transaction=False)
        for w, blob in zip(part, blobs, strict=True):
            shard = svc.keys.gps_shard(w.id)
            pipe.set(svc.keys.gps_track(shard, day, w.id), blob)
            points += len(blob) // 12
        pipe.sadd(svc.keys.gps_days(0), day)
        pipe.execute()
    from dashboard.people import people

    t = time.perf_counter()
    people(svc).cells  # noqa: B018 - the cell lattice of 20,000 grids, built once per process
    cells_s = time.perf_counter() - t
    t, cpu = time.perf_counter(), time.process_time()
    out = assess_day(svc, day, clock.now())
    took, cpu = time.perf_counter() - t, time.process_time() - cpu
    docs = svc.r.hvals(svc.keys.assessment(day))
    import orjson

    patrols = np.array([orjson.loads(d)["patrols"] for d in docs])
    emit("assessment_20k_workers_s", took, "s", None, None, cpu_s=round(cpu, 2),
         workers=len(workers),
         points=points, cell_index_s=round(cells_s, 2), mean_patrols=round(patrols.mean(), 2),
         anomalies=out["anomalies"])
    svc.r.flushdb()


def main() -> None:
    """Run both benchmarks against a private embedded redis-server."""
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-people-"))
    server = EmbeddedRedis(tmp / "redis")
    url = server.start()
    try:
        bench_rules(tmp, url)
        bench_assessment(tmp, url)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
