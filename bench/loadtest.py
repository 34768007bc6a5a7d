"""Load test of the whole system as real processes on loopback, bounded in time and count.

20,000 simulated workers at one fix per second (batches through POST /api/v1/positions as a
phone gateway sends them, plus LOADTEST_OSMAND_RPS single /osmand requests per second from
their own workers), LOADTEST_CASES_PS Open311 reports and LOADTEST_CALLS_PS interface calls per
second, for LOADTEST_SECONDS (default 300).  Prints JSON lines: sustained ingest rates, consumer
lag p50/p95/max, push latency from ingest to a socket.io client p50/p95, Redis memory, and the
accepted entries not reflected in the read models (must be 0).

    make loadtest                      # the full 5 minutes
    LOADTEST_SECONDS=30 make loadtest  # a quick run
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import orjson
import requests

from bench import emit
from bench.city import grid_center, make_city
from dashboard.config import ROOT, load_settings
from dashboard.keys import logical_streams
from dashboard.redis_server import EmbeddedRedis, free_port


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


SECONDS = _env_int("LOADTEST_SECONDS", 300)
WORKERS = _env_int("LOADTEST_WORKERS", 20000)
OSMAND_RPS = _env_int("LOADTEST_OSMAND_RPS", 500)
CASES_PS = _env_int("LOADTEST_CASES_PS", 50)
CALLS_PS = _env_int("LOADTEST_CALLS_PS", 2000)
WEB_WORKERS = _env_int("LOADTEST_WEB_WORKERS", 2)
CONSUMERS = _env_int("LOADTEST_CONSUMERS", 3)  # as `make run-prod`
GATEWAY_BATCH = 1000  # positions per POST, as a phone gateway would batch them
CALLS_BATCH = 200  # calls per POST
API_KEY = "loadtest-key"
LATE_S = 5.0  # seconds after the end a late generator may still send
SAMPLE_EVERY = 20  # the push latency follows every 20th worker
# Bodies are encoded with orjson: the generators share the two cores with the system under
# test, and requests' json= (the standard library's encoder) costs it several times more CPU.
JSON = {"Content-Type": "application/json"}


# ---- load generators (each a process of its own) ---------------------------------------------
def _paced(seconds: float, per_s: float, fn, threads: int = 1) -> int:  # noqa: ANN001
    """Call fn(k, t) per_s times a second, evenly, from `threads` threads, for `seconds`.

    A call whose time has come more than LATE_S after the end is skipped, not made: the run
    stays bounded in time when the system cannot keep up.  Return how many were skipped or
    failed in the generator itself.
    """
    start, total = time.time(), int(seconds * per_s)
    end = start + seconds + LATE_S
    skipped = [0]

    def run(t: int) -> None:
        for k in range(t, total, threads):
            delay = start + k / per_s - time.time()
            if delay > 0:
                time.sleep(delay)
            if time.time() > end:
                skipped[0] += len(range(k, total, threads))
                return
            try:
                fn(k, time.time())
            except Exception:  # noqa: BLE001 - a generator's own bug must show as not stored
                traceback.print_exc()
                skipped[0] += 1

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return skipped[0]


def probe(url: str, seconds: float, q, ready) -> None:  # noqa: ANN001
    """Be a wall: record when each sampled worker's fix arrives over socket.io."""
    import socketio

    seen: dict[tuple[str, int], float] = {}

    def on_gps(m: dict) -> None:
        if m.get("full"):
            return
        now = time.time()
        for wid, ts in zip(m["ids"], m["ts"], strict=True):
            if int(wid[1:]) % SAMPLE_EVERY == 0:
                seen.setdefault((wid, ts), now)

    sio = socketio.Client(reconnection=True)
    sio.on("gps", on_gps)
    sio.connect(url, transports=["websocket"], wait_timeout=30)
    ready.set()
    time.sleep(seconds + LATE_S + 10)  # the last pushes
    sio.disconnect()
    q.put(("probe", seen, []))


def gateway(url: str, district: str, seconds: float, first: int, q) -> None:  # noqa: ANN001
    """Send every worker from `first` on one fix a second in batches, as a phone gateway."""
    from dashboard.district import load_district

    d = load_district(district)
    ids = [w.id for w in d.workers][first:]
    centres = [tuple(map(float, grid_center(d, w))) for w in ids]  # orjson: no numpy scalars
    sent: dict[tuple[str, int], float] = {}
    lock = threading.Lock()
    sessions = [requests.Session() for _ in range(4)]
    counts = {"accepted": 0, "failed": 0}
    rng = np.random.default_rng(3)
    chunks = [range(i, min(i + GATEWAY_BATCH, len(ids))) for i in range(0, len(ids), GATEWAY_BATCH)]

    def send(k: int, now: float) -> None:
        part = chunks[k % len(chunks)]
        sec = k // len(chunks)
        jitter = rng.normal(0, 0.00005, (len(part), 2)).tolist()
        ts = round(now, 3)
        body = [{"id": ids[i], "timestamp": ts, "lat": round(centres[i][0] + jitter[j][0], 7),
                 "lon": round(centres[i][1] + jitter[j][1] + 1e-5 * (sec % 5), 7),
                 "speed": 1.2} for j, i in enumerate(part)]
        with lock:
            for item in body:
                if int(item["id"][1:]) % SAMPLE_EVERY == 0:
                    sent[(item["id"], math.floor(ts))] = now
        try:
            r = sessions[k % len(sessions)].post(url + "/api/v1/positions", headers=JSON,
                                                 data=orjson.dumps({"positions": body}),
                                                 timeout=30)
            got = orjson.loads(r.content)["accepted"] if r.status_code == 200 else 0
        except requests.RequestException:
            got = 0
        with lock:
            counts["accepted"] += got
            counts["failed"] += len(body) - got

    skipped = _paced(seconds, len(chunks), send, threads=4)
    counts["failed"] += skipped * GATEWAY_BATCH
    q.put(("gps_batch", counts, sent))


def osmand(url: str, district: str, seconds: float, rps: int, q) -> None:  # noqa: ANN001
    """Send rps single /osmand requests a second, one fix a second for each of rps workers."""
    from urllib.parse import urlparse

    from dashboard.district import load_district

    d = load_district(district)
    ids = [w.id for w in d.workers][:rps]
    centres = [grid_center(d, w) for w in ids]
    u = urlparse(url)
    counts = {"accepted": 0, "failed": 0}
    lock = threading.Lock()
    n_conn = 24

    def conn_loop(c: int) -> None:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        mine = list(range(c, len(ids), n_conn))
        start = time.time()
        for sec in range(int(seconds)):
            for j, i in enumerate(mine):
                target = start + sec + j / max(1, len(mine))
                delay = target - time.time()
                if delay > 0:
                    time.sleep(delay)
                if time.time() > start + seconds + LATE_S:
                    with lock:
                        counts["failed"] += 1  # not sent: the server could not keep up
                    continue
                lat, lon = centres[i]
                path = (f"/osmand?id={ids[i]}&lat={lat:.6f}&lon={lon + 1e-5 * (sec % 5):.6f}"
                        f"&timestamp={time.time():.3f}&speed=2")
                try:
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    resp.read()
                    ok = resp.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                with lock:
                    counts["accepted" if ok else "failed"] += 1
        conn.close()

    threads = [threading.Thread(target=conn_loop, args=(c,)) for c in range(n_conn)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put(("gps_osmand", counts, []))


def cases_and_calls(url: str, district: str, data_dir: str, seconds: float, cases_ps: int,
                    calls_ps: int, q) -> None:  # noqa: ANN001
    """Post cases_ps Open311 reports and calls_ps interface calls (in batches) a second."""
    from dashboard.catalog import catalog_for
    from dashboard.exchange import UNCONDITIONAL
    from dashboard.exchange_queries import registry
    from dashboard.services import build_services

    svc = build_services(load_settings({}, district=district, data_dir=data_dir,
                                       redis_url="redis://127.0.0.1:1"))
    items = [i.code for i in catalog_for(svc).items][:40]
    workers = svc.district.workers
    reg = registry(svc)
    cats = [c for c in reg.catalogs.values() if c.sharing == UNCONDITIONAL and c.interfaces]
    units = sorted(reg.units)
    counts = {"events": {"accepted": 0, "failed": 0}, "calls": {"accepted": 0, "failed": 0}}
    lock = threading.Lock()

    def reports() -> None:
        s = requests.Session()

        def one(k: int, _now: float) -> None:
            w = workers[(k * 7919) % len(workers)]
            lat, lon = grid_center(svc.district, w.id)
            form = {"api_key": API_KEY, "service_code": items[k % len(items)],
                    "lat": f"{lat:.6f}", "long": f"{lon:.6f}", "device_id": w.id,
                    "description": f"压测 {k}"}
            try:
                ok = s.post(url + "/open311/v2/requests.json", data=form, timeout=30).ok
            except requests.RequestException:
                ok = False
            with lock:
                counts["events"]["accepted" if ok else "failed"] += 1

        counts["events"]["failed"] += _paced(seconds, cases_ps, one, threads=4)

    def calls() -> None:
        s = requests.Session()

        def batch(k: int, now: float) -> None:
            body = []
            for j in range(CALLS_BATCH):
                c = cats[(k + j) % len(cats)]
                body.append({"time": round(now, 3), "caller": units[(k + j) % len(units)],
                             "provider": c.unit, "interface": c.interfaces[0], "catalog": c.id,
                             "result": "ok" if j % 50 else "error", "latency_ms": 20 + j % 90})
            try:
                r = s.post(url + "/api/v1/calls", data=orjson.dumps({"calls": body}),
                           headers=JSON, timeout=30)
                got = orjson.loads(r.content)["accepted"] if r.status_code == 200 else 0
            except requests.RequestException:
                got = 0
            with lock:
                counts["calls"]["accepted"] += got
                counts["calls"]["failed"] += CALLS_BATCH - got

        counts["calls"]["failed"] += _paced(seconds, calls_ps / CALLS_BATCH, batch,
                                            threads=2) * CALLS_BATCH

    threads = [threading.Thread(target=reports), threading.Thread(target=calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put(("events", counts["events"], []))
    q.put(("calls", counts["calls"], []))


# ---- the system under test -------------------------------------------------------------------
def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), *args], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()


def _cpu_s(roots: list[int], tree: bool = True) -> float:
    """Return the CPU seconds (user + system) used so far by these processes and (tree) their
    live descendants, from Linux's /proc (0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parent, used = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        pid = int(stat.parent.name)
        parent[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [r for r in roots if r in used]
    while todo:
        pid = todo.pop()
        total += used[pid]
        if tree:
            todo += [c for c, pp in parent.items() if pp == pid]
    return total


def _cpu_groups(groups: dict[str, list[int]]) -> dict[str, float]:
    """Return the CPU seconds of each group; "sampler" (this process) without its children."""
    return {name: _cpu_s(pids, tree=name != "sampler") for name, pids in groups.items()}


def _lags(svc) -> dict[str, float]:  # noqa: ANN001
    from dashboard.queries import server_time, stream_lag

    now = server_time(svc.r)
    return {name: max(stream_lag(svc.r, s, svc.keys.group(name), now)["lag_s"] for s in ss)
            for name, ss in logical_streams(svc.keys).items()}


def _pending(svc) -> int:  # noqa: ANN001
    from dashboard.queries import server_time, stream_lag

    now = server_time(svc.r)
    return sum(stream_lag(svc.r, s, svc.keys.group(n), now)["pending"]
               + (stream_lag(svc.r, s, svc.keys.group(n), now)["lag_s"] > 0)
               for n, ss in logical_streams(svc.keys).items() for s in ss)


def _reflected(svc) -> dict[str, int]:  # noqa: ANN001
    """Return, per stream, the entries the read models (or dead letters) account for."""
    r, k = svc.r, svc.keys
    dead = {n: sum(int(v) for v in r.hgetall(k.deadletter_reasons(n)).values())
            for n in logical_streams(k)}
    return {"gps": int(r.get(k.counter("gps.accepted")) or 0) + dead["gps"],
            "events": r.zcard(k.cases_all()) + dead["events"],
            "calls": int(r.hget(k.calls_total("n"), "n") or 0) + dead["calls"]}


def main() -> None:
    """Run the load test and print its figures as JSON lines."""
    import signal

    from dashboard.services import build_services

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up the children too
    tmp = Path(tempfile.mkdtemp(prefix="gw-load-"))
    server = EmbeddedRedis(tmp / "redis")
    url_redis = server.start()
    city = make_city(tmp / "city", WORKERS)
    port = free_port()
    env = {**os.environ, "REDIS_URL": url_redis, "DISTRICT": str(city),
           "DATA_DIR": str(tmp / "var"), "SIMULATE": "0", "AUTH_REQUIRED": "0",
           "OPEN311_API_KEYS": API_KEY, "WEB_WORKERS": str(WEB_WORKERS), "PORT": str(port),
           "PYTHONUNBUFFERED": "1"}
    settings = load_settings(env)
    svc = build_services(settings)
    procs = [_spawn(["consume", "all"], env, tmp / f"consume{i}.log")
             for i in range(CONSUMERS)]  # as `make run-prod`
    procs.append(_spawn(["jobs"], env, tmp / "jobs.log"))
    procs.append(_spawn(["web"], env, tmp / "web.log"))
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if requests.get(url + "/api/v1/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        osmand_rps = min(OSMAND_RPS, WORKERS)
        ready = ctx.Event()
        wall = ctx.Process(target=probe, args=(url, SECONDS, q, ready))
        wall.start()
        ready.wait(60)
        gens = [wall, ctx.Process(target=gateway, args=(url, str(city), SECONDS, osmand_rps, q)),
                ctx.Process(target=osmand, args=(url, str(city), SECONDS, osmand_rps, q)),
                ctx.Process(target=cases_and_calls, args=(url, str(city), str(tmp / "var"),
                                                          SECONDS, CASES_PS, CALLS_PS, q))]
        begin = time.time()
        for g in gens[1:]:
            g.start()
        groups = {"consumers": [p.pid for p in procs[:CONSUMERS]], "jobs": [procs[-2].pid],
                  "web": [procs[-1].pid], "redis": [server.proc.pid],
                  "wall_probe": [gens[0].pid], "gateway": [gens[1].pid],
                  "osmand_load": [gens[2].pid], "cases_calls_load": [gens[3].pid],
                  "sampler": [os.getpid()]}
        cpu_before = _cpu_groups(groups)
        samples: dict[str, list[float]] = {n: [] for n in logical_streams(svc.keys)}
        while time.time() - begin < SECONDS + 2:
            time.sleep(1.0)
            if time.time() - begin > 10:  # skip the warm-up
                for n, v in _lags(svc).items():
                    samples[n].append(v)
        cpu = {n: v - cpu_before[n] for n, v in _cpu_groups(groups).items()}
        wall_s = time.time() - begin
        results = {}
        for _ in range(5):
            name, counts, lat = q.get(timeout=SECONDS + 180)
            results[name] = (counts, lat)
        for g in gens:
            g.join(30)
        deadline = time.time() + 120
        while _pending(svc) and time.time() < deadline:
            time.sleep(0.5)
        _report(svc, results, samples)
        emit("loadtest_cores_used", sum(cpu.values()) / wall_s, "cores", cpus=os.cpu_count(),
             **{f"{n}_cores": round(v / wall_s, 2) for n, v in cpu.items()})
    finally:
        for p in procs:
            _stop(p)
        server.stop()


def _report(svc, results: dict, samples: dict[str, list[float]]) -> None:  # noqa: ANN001
    accepted = {"gps": results["gps_batch"][0]["accepted"] + results["gps_osmand"][0]["accepted"],
                "events": results["events"][0]["accepted"],
                "calls": results["calls"][0]["accepted"]}
    failed = {"gps": results["gps_batch"][0]["failed"] + results["gps_osmand"][0]["failed"],
              "events": results["events"][0]["failed"], "calls": results["calls"][0]["failed"]}
    offered = {"gps": WORKERS, "events": CASES_PS, "calls": CALLS_PS}
    for name, n in accepted.items():
        emit(f"loadtest_{name}_ingest_per_s", n / SECONDS, "entries/s", offered[name], "higher",
             not_stored=failed[name], seconds=SECONDS)
    emit("loadtest_osmand_requests_per_s", results["gps_osmand"][0]["accepted"] / SECONDS,
         "requests/s", min(OSMAND_RPS, WORKERS), "higher")
    for name, vals in samples.items():
        if vals:
            emit(f"loadtest_{name}_lag_p50_s", float(np.percentile(vals, 50)), "s")
            emit(f"loadtest_{name}_lag_p95_s", float(np.percentile(vals, 95)), "s", 1.0, "lower")
            emit(f"loadtest_{name}_lag_max_s", max(vals), "s")
    sent, seen = results["gps_batch"][1], results["probe"][0]
    lat = [(seen[k] - t) * 1000 for k, t in sent.items() if k in seen]
    if sent:
        emit("loadtest_push_seen_share", len(lat) / len(sent), "share")  # coalesced per flush
    if lat:
        emit("loadtest_push_latency_p50_ms", float(np.percentile(lat, 50)), "ms",
             samples=len(lat))
        emit("loadtest_push_latency_p95_ms", float(np.percentile(lat, 95)), "ms",
             samples=len(lat))
    emit("loadtest_redis_memory_mb", int(svc.r.info("memory")["used_memory"]) / 2**20, "MB")
    if os.environ.get("LOADTEST_TRACE"):  # the lag second by second, to see what stalls
        print(json.dumps({"lag_trace": {n: [round(v, 1) for v in vals]
                                        for n, vals in samples.items()}}), flush=True)
    reflected = _reflected(svc)
    lost = {n: accepted[n] - reflected[n] for n in accepted}
    emit("loadtest_accepted_not_reflected", sum(abs(v) for v in lost.values()), "entries", 0,
         "lower", **{f"{n}_accepted": accepted[n] for n in accepted},
         **{f"{n}_reflected": reflected[n] for n in reflected})
    print(json.dumps({"config": {"seconds": SECONDS, "workers": WORKERS,
                                 "osmand_rps": OSMAND_RPS, "cases_ps": CASES_PS,
                                 "calls_ps": CALLS_PS, "web_workers": WEB_WORKERS,
                                 "consumers": CONSUMERS, "cpus": os.cpu_count()}}), flush=True)


if __name__ == "__main__":
    main()
