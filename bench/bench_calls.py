"""Exchange call benchmarks against a real redis-server (AOF on, as `make run`): call records per
second through one calls consumer, and Redis memory per million calls once rolled up."""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

from bench import emit
from dashboard.config import load_settings
from dashboard.exchange_queries import registry
from dashboard.redis_server import EmbeddedRedis
from dashboard.services import build_services
from streams.calls import CallsHandler
from streams.consumer import Consumer
from streams.runner import settle
from streams.sim_calls import CallActor

RATE_CALLS = int(os.environ.get("BENCH_CALLS", "300000"))
MEMORY_CALLS = int(os.environ.get("BENCH_CALLS_MEMORY", "1000000"))
DAY = 86400


def _packed(c: dict) -> dict[str, str]:
    """Return the compact stream fields of a simulated call (what POST /api/v1/calls writes)."""
    return {"v": f"{c['time']:.3f}|{c['caller']}|{c['provider']}|{c['interface']}|"
                 f"{c['catalog']}|{1 if c['result'] == 'ok' else 0}|{c['latency_ms']}"}


def _fill(svc, actor: CallActor, times: list[float], seed: int) -> None:
    """XADD one simulated call per time (the realistic mix of interfaces, units, errors)."""
    rng = random.Random(seed)
    stream = svc.keys.calls_stream()
    for i in range(0, len(times), 5000):
        pipe = svc.r.pipeline(transaction=False)
        for ts in times[i:i + 5000]:
            pipe.xadd(stream, _packed(actor.call_at(rng, ts)))
        pipe.execute()


def _consumer(svc) -> Consumer:
    handler = CallsHandler(svc.r, svc.keys, svc.settings, registry(svc), svc.clock)
    c = Consumer(svc.r, svc.keys, handler, name="bench", batch=svc.settings.consumer_batch,
                 clock=svc.clock)
    c.ensure_groups()
    settle()  # as a consumer process does once started
    return c


def _redis_cpu(svc) -> float:
    cpu = svc.r.info("cpu")
    return cpu["used_cpu_user"] + cpu["used_cpu_sys"]


def bench_consumer(svc, actor: CallActor, n: int) -> tuple[float, float]:
    """Return call records/s through one consumer (this process) over a preloaded stream, and
    the rate its CPU time and the server's allow (the same on a busy shared machine)."""
    now = svc.clock.now()
    _fill(svc, actor, [now - 300 + 300 * i / n for i in range(n)], 1)  # a busy five minutes
    c = _consumer(svc)
    t, cpu, rcpu = time.perf_counter(), time.process_time(), _redis_cpu(svc)
    done = c.drain()
    elapsed = time.perf_counter() - t
    cpu_s = time.process_time() - cpu + _redis_cpu(svc) - rcpu
    assert done == n and c.stats.deadlettered == 0, (done, c.stats)
    return n / elapsed, n / cpu_s


def bench_memory(svc, actor: CallActor, n: int) -> tuple[float, int]:
    """Return Redis bytes per million calls spread over a realistic day, after roll-up (the
    raw stream trimmed away), and the number of counter keys."""
    svc.r.flushall()
    _consumer(svc)
    time.sleep(1.5)
    base = svc.r.info("memory")["used_memory"]
    now = svc.clock.now()
    minutes = range(int((now - DAY) // 60), int(now // 60))
    rng = random.Random(2)
    picked = rng.choices(minutes, [actor.rate_per_minute(m) for m in minutes], k=n)
    times = sorted(min(m * 60 + rng.random() * 60, now - 1) for m in picked)
    _fill(svc, actor, times, 3)
    done = _consumer(svc).drain()
    assert done == n, done
    svc.r.xtrim(svc.keys.calls_stream(), maxlen=0, approximate=False)
    time.sleep(1.5)  # let AOF buffers drain
    used = svc.r.info("memory")["used_memory"] - base
    keys = sum(1 for _ in svc.r.scan_iter(match=f"{svc.keys.prefix}:{{calls}}:*", count=1000))
    return used * 1_000_000 / n, keys


def main() -> None:
    """Run the exchange benchmarks and print JSON lines."""
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-calls-"))
    server = EmbeddedRedis(tmp / "redis")
    server.start()
    try:
        settings = load_settings({**os.environ, "REDIS_URL": server.url,
                                  "DATA_DIR": str(tmp / "var")})
        svc = build_services(settings)
        reg = registry(svc)
        actor = CallActor(reg, seed=1, calls_per_day=max(MEMORY_CALLS, 1), schedule="realistic",
                          tz=settings.tz)
        rate, cpu_rate = bench_consumer(svc, actor, RATE_CALLS)
        emit("calls_consumer_per_s", rate, "calls/s", 50_000, "higher", calls=RATE_CALLS,
             batch=settings.calls_batch, cpu_bound_per_s=round(cpu_rate))
        per_million, keys = bench_memory(svc, actor, MEMORY_CALLS)
        emit("redis_bytes_per_million_calls", per_million, "bytes", calls=MEMORY_CALLS,
             span_h=24, counter_keys=keys)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
