"""Prometheus metrics at /metrics, read from Redis at scrape time.

Nothing is kept in process memory, so every web process (one or many, behind gunicorn)
answers the same numbers and a restarted process loses nothing.  HTTP ingest counts what it
stored in Redis counters (after_request); everything else is derived from the streams,
consumer groups and read models when Prometheus asks.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import orjson
import redis
from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from dashboard.keys import Keys, logical_streams
from dashboard.services import Services

bp = Blueprint("metrics", __name__)
RATE_WINDOW_S = 5  # seconds the ingest rate is averaged over
RATE_TTL_S = 120  # seconds a per-second bucket of a counter is kept
LIVE_S = 30  # seconds: a consumer or web process silent longer is not counted


def _accepted(resp: Response) -> int:
    body = resp.get_json(silent=True)
    return int(body.get("accepted", 0)) if isinstance(body, dict) else 0


# HTTP ingest endpoints -> (logical stream, entries stored by a 200 answer); the GPS ones
# count in their own write (streams/ingest.py), one round trip a fix
INGEST: dict[str, tuple[str, Callable[[Response], int]]] = {
    "open311.create_request": ("events", lambda _r: 1),
    "calls_ingest.calls": ("calls", _accepted),
}


def services() -> Services:
    """Return the services of the running app."""
    return current_app.extensions["gridwall"]


def add_count(pipe: redis.client.Pipeline, keys: Keys, name: str, n: int, second: int) -> None:
    """Queue adding n to a counter's total and to its bucket of that real second (what
    queries.rate reads)."""
    pipe.incrby(keys.counter(name), n)
    rk = keys.rate(name, second)
    pipe.incrby(rk, n)
    pipe.expire(rk, RATE_TTL_S)


class IngestCounter:
    """Entries stored by HTTP ingest, counted in memory and added to Redis about once a
    second: one round trip for many requests instead of one more per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, int]] = Counter()  # (stream, Unix second) -> entries

    def add(self, stream: str, n: int) -> None:
        """Count n entries stored into a logical stream now."""
        with self._lock:
            self._counts[(stream, int(time.time()))] += n

    def flush(self, svc: Services) -> None:
        """Add the counts to Redis (total and per second); keep them for later if it fails."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return
        pipe = svc.r.pipeline(transaction=False)
        for (stream, second), n in counts.items():
            add_count(pipe, svc.keys, f"ingest.{stream}", n, second)
        try:
            pipe.execute()
        except redis.RedisError:
            with self._lock:
                self._counts.update(counts)

    def run(self, svc: Services, stop: threading.Event, every_s: float = 1.0) -> None:
        """Flush every every_s seconds until stop is set."""
        while not stop.wait(every_s):
            self.flush(svc)


def ingest_counter(svc: Services) -> IngestCounter:
    """Return the ingest counter of this process's services."""
    c = svc.extra.get("metrics.ingest")
    if c is None:
        c = svc.extra.setdefault("metrics.ingest", IngestCounter())
    return c


def count_ingest(resp: Response) -> Response:
    """Count the entries a successful ingest request stored (an after_request hook)."""
    spec = INGEST.get(request.endpoint or "")
    if spec is None or resp.status_code != 200:
        return resp
    n = spec[1](resp)
    if n:
        ingest_counter(services()).add(spec[0], n)
    return resp


def _int(v: bytes | None) -> int:
    return int(v) if v else 0


def _memory(r) -> int:  # noqa: ANN001 - Redis or RedisCluster
    """Return used_memory summed over every node."""
    from redis.cluster import RedisCluster

    if isinstance(r, RedisCluster):
        per = r.info("memory", target_nodes=RedisCluster.ALL_NODES)
        return sum(int(i.get("used_memory", 0)) for i in per.values())
    return int(r.info("memory").get("used_memory", 0))


def _added(r, stream: str) -> int:  # noqa: ANN001
    """Return entries ever added to a stream (Redis 7 knows; older ones give its length)."""
    try:
        info = r.xinfo_stream(stream)
    except redis.ResponseError:
        return 0
    return int(info.get("entries-added", info.get("length", 0)))


class RedisCollector:
    """A prometheus_client collector computing every Gridwall metric from Redis."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self):  # noqa: ANN201 - prometheus_client's collector protocol
        """Yield the metric families (only gridwall_redis_up when Redis is down)."""
        up = GaugeMetricFamily("gridwall_redis_up", "1 when Redis answers, else 0")
        try:
            self.svc.r.ping()
            families = list(self._families())
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self):  # noqa: ANN202
        from dashboard.queries import rate as rate_of
        from dashboard.queries import server_time, stream_lag

        svc, r, k = self.svc, self.svc.r, self.svc.keys
        now, wall_now = svc.clock.now(), time.time()
        streams = logical_streams(k)
        ingested = CounterMetricFamily("gridwall_ingested", "entries stored by HTTP ingest",
                                       labels=["stream"])
        rate = GaugeMetricFamily("gridwall_ingest_rate", f"entries/s stored by HTTP ingest, "
                                 f"mean of the last {RATE_WINDOW_S} s", labels=["stream"])
        lag = GaugeMetricFamily("gridwall_consumer_lag_seconds", "age of the oldest entry the "
                                "group has not processed", labels=["stream", "group"])
        pending = GaugeMetricFamily("gridwall_consumer_pending", "entries delivered, not acked",
                                    labels=["stream", "group"])
        length = GaugeMetricFamily("gridwall_stream_length", "entries in the stream(s)",
                                   labels=["stream"])
        consumers = GaugeMetricFamily("gridwall_consumers", "consumers with a heartbeat in "
                                      f"the last {LIVE_S} s", labels=["stream"])
        dead = CounterMetricFamily("gridwall_deadletters", "entries refused, by reason",
                                   labels=["stream", "reason"])
        waiting = GaugeMetricFamily("gridwall_deadletters_waiting", "dead letters not "
                                    "replayed", labels=["stream"])
        server_now = server_time(r)
        beats = {key.decode(): float(v) for key, v in r.hgetall(k.consumers_heartbeat()).items()}
        for name, physical in streams.items():
            group = k.group(name)
            ingested.add_metric([name], _int(r.get(k.counter(f"ingest.{name}"))))
            rate.add_metric([name], rate_of(svc, f"ingest.{name}", RATE_WINDOW_S))
            lags = [stream_lag(r, s, group, server_now) for s in physical]
            lag.add_metric([name, group], max((x["lag_s"] for x in lags), default=0.0))
            pending.add_metric([name, group], sum(x["pending"] for x in lags))
            length.add_metric([name], sum(r.xlen(s) for s in physical))
            consumers.add_metric([name], sum(1 for c, t in beats.items()
                                             if c.startswith(f"{name}/") and now - t < LIVE_S))
            for reason, n in r.hgetall(k.deadletter_reasons(name)).items():
                dead.add_metric([name, reason.decode("utf-8", "replace")], int(n))
            waiting.add_metric([name], r.xlen(k.deadletter(name)))
        yield from (ingested, rate, lag, pending, length, consumers, dead, waiting)
        yield from self._gps_and_cases(now)
        yield from self._web(wall_now)
        mem = GaugeMetricFamily("gridwall_redis_memory_bytes", "used_memory of every node")
        mem.add_metric([], _memory(r))
        yield mem

    def _gps_and_cases(self, now: float):  # noqa: ANN202
        r, k = self.svc.r, self.svc.keys
        fixes = CounterMetricFamily("gridwall_gps_fixes", "fixes by the gps consumer",
                                    labels=["result"])
        fixes.add_metric(["accepted"], _int(r.get(k.counter("gps.accepted"))))
        fixes.add_metric(["rejected"], _int(r.get(k.counter("gps.rejected"))))
        yield fixes
        reminders = CounterMetricFamily("gridwall_reminders_sent", "reminders and escalations "
                                        "written to the outbox stream")
        reminders.add_metric([], _added(r, k.reminders_stream()))
        yield reminders
        cases = GaugeMetricFamily("gridwall_cases", "cases by backlog", labels=["state"])
        cases.add_metric(["open"], r.zcard(k.cases_open()))
        cases.add_metric(["overdue"], r.zcount(k.cases_due(), "-inf", f"({now}"))
        yield cases

    def _web(self, wall_now: float):  # noqa: ANN202
        r, k = self.svc.r, self.svc.keys
        total = GaugeMetricFamily("gridwall_push_clients", "browsers connected to the live wall")
        per = GaugeMetricFamily("gridwall_push_clients_process", "browsers per web process",
                                labels=["process", "leader"])
        n, stale = 0, []
        for proc, raw in r.hgetall(k.web_processes()).items():
            doc = orjson.loads(raw)
            if wall_now - doc["at"] > LIVE_S:
                stale.append(proc)
                continue
            n += doc["clients"]
            per.add_metric([proc.decode(), str(int(doc["leader"]))], doc["clients"])
        if stale:
            r.hdel(k.web_processes(), *stale)
        total.add_metric([], n)
        yield total
        yield per


@bp.get("/metrics")
def metrics():
    """Return every metric in the Prometheus text format."""
    svc = services()
    ingest_counter(svc).flush(svc)  # this process's latest counts, before reading them back
    reg = svc.extra.get("metrics.registry")
    if reg is None:
        reg = svc.extra["metrics.registry"] = CollectorRegistry(auto_describe=False)
        reg.register(RedisCollector(svc))
    return Response(generate_latest(reg), mimetype=CONTENT_TYPE_LATEST)


def init_app(server, svc: Services, stop: threading.Event | None) -> None:  # noqa: ANN001
    """Register /metrics and the ingest counting hook; flush the counts every second until
    stop is set (no flushing thread without it: /metrics flushes before it reads)."""
    server.register_blueprint(bp)
    server.after_request(count_ingest)
    if stop is not None:
        threading.Thread(target=ingest_counter(svc).run, args=(svc, stop), daemon=True,
                         name="ingest-counter").start()
