"""GPS benchmarks: consumer throughput vs raw XADD, push lag at 20,000 workers, track memory,
/osmand HTTP rate under concurrent load, all against real processes on loopback.
BENCH_WORKERS sets the city size; BENCH_GPS_PARTS=consumer (or xadd,lag,track,osmand) runs
only those parts."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import orjson
import redis

from bench import emit
from bench.city import grid_center, make_city
from dashboard.clock import Clock
from dashboard.config import ROOT, load_settings
from dashboard.models import Fix
from dashboard.redis_server import EmbeddedRedis, free_port
from dashboard.services import build_services
from streams.consumer import Consumer
from streams.fixes import fix_to_fields
from streams.gps import GpsHandler
from streams.runner import settle

WORKERS = int(os.environ.get("BENCH_WORKERS", "20000"))
CONSUMERS = int(os.environ.get("BENCH_GPS_CONSUMERS", "3"))  # consumer processes of the lag run
OSMAND_CONNS = int(os.environ.get("BENCH_OSMAND_CONNS", "16"))  # keep-alive connections
PARTS = os.environ.get("BENCH_GPS_PARTS", "")  # e.g. "consumer": run only these (default all)


def _wanted(part: str) -> bool:
    """Tell whether BENCH_GPS_PARTS (xadd, consumer, lag, track, osmand) asks for a part."""
    return not PARTS or part in PARTS.split(",")


def _fields(wid: str, ts: float, lat: float, lon: float) -> dict[str, str]:
    return fix_to_fields(Fix(wid, ts, lat, lon, speed=1.2, accuracy=5.0, battery=80.0))


def bench_raw_xadd(r: redis.Redis, n: int = 200_000) -> tuple[float, float]:
    """Return the pipelined XADD rate of this redis-server with fix-sized entries, and the
    rate of a consumer that only reads them in its group and acknowledges them (the ceiling
    of any consumer that does work besides)."""
    f = _fields("W00001", time.time(), 39.0, 117.2)
    stream = "bench:{raw}:xadd"
    t = time.perf_counter()
    for _start in range(0, n, 1000):
        pipe = r.pipeline(transaction=False)
        for _ in range(1000):
            pipe.xadd(stream, f)
        pipe.execute()
    xadd = n / (time.perf_counter() - t)
    r.xgroup_create(stream, "bench", id="0")
    t = time.perf_counter()
    while reply := r.xreadgroup("bench", "c", {stream: ">"}, count=2000):
        r.xack(stream, "bench", *[eid for eid, _ in reply[0][1]])
    read_ack = n / (time.perf_counter() - t)
    r.delete(stream)
    return xadd, read_ack


def _preload(svc, n_per_worker: int, t0: float) -> int:
    rng = np.random.default_rng(1)
    centres = {w.id: grid_center(svc.district, w.id) for w in svc.district.workers}
    total = 0
    for k in range(n_per_worker):
        pipe = svc.r.pipeline(transaction=False)
        for w, (lat, lon) in centres.items():
            jl, jo = rng.normal(0, 0.0003, 2)
            pipe.xadd(
                svc.keys.gps_stream(svc.keys.gps_shard(w)),
                _fields(w, t0 + k * 5, lat + jl, lon + jo),
            )
            total += 1
            if total % 5000 == 0:
                pipe.execute()
                pipe = svc.r.pipeline(transaction=False)
        pipe.execute()
    return total


def bench_consumer(svc) -> float:
    """Return fixes/s through one consumer (this process) over a preloaded stream."""
    n = _preload(svc, 10, time.time() - 600)
    handler = GpsHandler(svc.r, svc.keys, svc.settings, svc.district, svc.locator, svc.clock)
    c = Consumer(svc.r, svc.keys, handler, name="bench", batch=2000, clock=svc.clock)
    c.ensure_groups()
    settle()  # as a consumer process does once started
    t = time.perf_counter()
    done = c.drain()
    elapsed = time.perf_counter() - t
    assert done == n, (done, n)
    return n / elapsed


def _wait_for_consumers(svc, names: list[str], timeout_s: float = 120.0) -> None:
    """Wait until every named consumer has sent a heartbeat (it loaded the district)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        beats = svc.r.hgetall(svc.keys.consumers_heartbeat())
        if all(n.encode() in beats for n in names):
            return
        time.sleep(0.2)
    raise RuntimeError(f"consumers {names} did not start within {timeout_s:.0f} s")


def bench_push_lag(svc, env: dict[str, str], seconds: int = 20) -> tuple[float, float, float]:
    """Return delta lag p50/p95 (ms) and fixes/s with every worker reporting once a second."""
    svc.r.flushall()
    consumers = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "consume", "gps", "--name", f"lag{k}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for k in range(CONSUMERS)
    ]
    lags: list[float] = []
    stop = threading.Event()

    def listen() -> None:
        ps = svc.r.pubsub(ignore_subscribe_messages=True)
        ps.subscribe(svc.keys.channel("gps"))
        while not stop.is_set():
            m = ps.get_message(timeout=0.5)
            if m:
                lags.append((time.time() - orjson.loads(m["data"])["t0"]) * 1000)

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    _wait_for_consumers(svc, [f"gps/lag{k}" for k in range(CONSUMERS)])
    workers = [w.id for w in svc.district.workers]
    streams = [svc.keys.gps_stream(svc.keys.gps_shard(w)) for w in workers]
    centre = np.array([grid_center(svc.district, w) for w in workers])
    rng = np.random.default_rng(2)
    sent = 0
    begin = time.time()
    chunk = 1000
    for sec in range(seconds):
        wave = begin + sec
        for i in range(0, len(workers), chunk):
            target = wave + i / len(workers)
            delay = target - time.time()
            if delay > 0:
                time.sleep(delay)
            part = slice(i, i + chunk)
            at = centre[part] + rng.normal(0, 0.0002, centre[part].shape)
            pipe = svc.r.pipeline(transaction=False)
            now = time.time()
            for w, stream, (lat, lon) in zip(workers[part], streams[part], at.tolist(),
                                             strict=True):
                pipe.xadd(stream, _fields(w, now, lat, lon))
            pipe.execute()
            sent += len(workers[part])
    rate = sent / (time.time() - begin)
    time.sleep(2.0)
    stop.set()
    for consumer in consumers:
        consumer.terminate()
    for consumer in consumers:
        consumer.wait(10)
    steady = lags[len(lags) // 10 :]  # skip the warm-up tenth
    return float(np.percentile(steady, 50)), float(np.percentile(steady, 95)), rate


def bench_track_bytes(svc) -> float:
    """Return Redis bytes of one worker-day: a fix every 5 s over 8 h of walking."""
    svc.r.flushall()
    wid = svc.district.workers[0].id
    lat, lon = grid_center(svc.district, wid)
    start = time.time() - 8 * 3600 - 60
    handler = GpsHandler(svc.r, svc.keys, svc.settings, svc.district, svc.locator, Clock())
    c = Consumer(svc.r, svc.keys, handler, name="bench", batch=2000)
    angle = np.linspace(0, 40 * np.pi, 5760)
    pipe = svc.r.pipeline(transaction=False)
    for i in range(5760):  # walking circles of ~120 m radius at ~1.3 m/s
        pipe.xadd(
            svc.keys.gps_stream(0),
            _fields(
                wid, start + i * 5, lat + 0.0011 * np.sin(angle[i]), lon + 0.0014 * np.cos(angle[i])
            ),
        )
    pipe.execute()
    c.drain()
    day_keys = [k for k in svc.r.scan_iter(match=f"{svc.keys.prefix}:*trk:*")]
    track = sum(svc.r.memory_usage(k) or 0 for k in day_keys)
    state = len(svc.r.hget(svc.keys.gps_last(0), wid)) + 64
    return float(track + state)


def _osmand_load(url: str, seconds: float, conns: int, out: list) -> None:
    """Send OsmAnd GETs over `conns` keep-alive connections for `seconds`; add each latency
    (ms) to out.  One event loop, as wrk does: a client thread per connection would take
    the CPU the server under test needs (the cores are shared)."""
    import asyncio
    from urllib.parse import urlparse

    u = urlparse(url)

    async def one(k: int, end: float, lat_ms: list[float]) -> None:
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        i = 0
        while time.time() < end:
            i += 1
            wid = f"W{(k * 997 + i) % WORKERS + 1:05d}"
            q = (f"GET /osmand?id={wid}&lat=39.0015&lon=117.2015&timestamp={time.time():.0f}"
                 f"&speed=1 HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n")
            t = time.perf_counter()
            writer.write(q.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            lat_ms.append((time.perf_counter() - t) * 1000)
            if head[9:12] != b"200":
                raise RuntimeError(head[:12].decode())
        writer.close()

    async def run() -> None:
        end = time.time() + seconds
        await asyncio.gather(*(one(k, end, out) for k in range(conns)))

    asyncio.run(run())


def _load_process(url: str, seconds: float, conns: int, q) -> None:
    out: list[float] = []
    _osmand_load(url, seconds, conns, out)
    q.put(out)


def bench_osmand(env: dict[str, str], seconds: float = 10.0) -> tuple[float, float]:
    """Return /osmand requests/s and p95 ms, load from a second process, server in a third."""
    import multiprocessing as mp

    port = free_port()
    workers = os.environ.get("WEB_WORKERS") or str(os.cpu_count() or 2)  # as in production
    web = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "web"],
        env={**env, "PORT": str(port), "WEB_WORKERS": workers},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    import requests

    for _ in range(200):
        try:
            requests.get(url + "/api/v1/health", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_load_process, args=(url, seconds, OSMAND_CONNS, q))
    t = time.time()
    p.start()
    lat = q.get()
    p.join()
    elapsed = time.time() - t - 0.3  # process start-up
    web.terminate()
    web.wait(10)
    return len(lat) / max(elapsed, seconds), float(np.percentile(lat, 95))


def main() -> None:
    """Run the GPS benchmarks and print JSON lines."""
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    server = EmbeddedRedis(tmp / "redis")
    server.start()
    try:
        city = make_city(tmp / "city", WORKERS)
        env = {
            **os.environ,
            "REDIS_URL": server.url,
            "DISTRICT": str(city),
            "DATA_DIR": str(tmp / "var"),
            "SIMULATE": "0",
        }
        settings = load_settings(env)
        svc = build_services(settings)
        if _wanted("xadd"):
            xadd, read_ack = bench_raw_xadd(svc.r)
            emit("redis_xadd_raw_per_s", xadd, "entries/s")
            emit("redis_read_ack_raw_per_s", read_ack, "entries/s")
        if _wanted("consumer"):
            emit("gps_consumer_fixes_per_s", bench_consumer(svc), "fixes/s", 100_000, "higher")
        if _wanted("lag"):
            p50, p95, rate = bench_push_lag(svc, env)
            emit("gps_push_lag_p50_ms", p50, "ms", workers=WORKERS, fixes_per_s=round(rate))
            emit("gps_push_lag_p95_ms", p95, "ms", 200, "lower", workers=WORKERS,
                 fixes_per_s=round(rate))
        if _wanted("track"):
            emit("track_bytes_per_worker_day", bench_track_bytes(svc), "bytes", 100_000, "lower")
        if _wanted("osmand"):
            svc.r.flushall()
            rps, p95 = bench_osmand(env)
            web = os.environ.get("WEB_WORKERS") or str(os.cpu_count() or 2)
            emit("osmand_http_rps", rps, "requests/s", 2000, "higher", web_workers=int(web))
            emit("osmand_http_p95_ms", p95, "ms", 50, "lower")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
