"""Redis -> plain data for pages and the API: one function per panel or endpoint."""

from __future__ import annotations

import time
from collections import Counter

import redis

from dashboard.keys import logical_streams
from dashboard.services import Services
from streams.gps_state import (
    OFFLINE,
    OUTSIDE,
    PATROLLING,
    STATUS_NAMES,
    WorkerState,
    status_and_ts,
    unpack_track,
)


def worker_states(svc: Services) -> dict[str, WorkerState]:
    """Return the latest state of every worker that ever reported."""
    out: dict[str, WorkerState] = {}
    for shard in range(max(1, svc.keys.gps_shards)):
        for w, v in svc.r.hgetall(svc.keys.gps_last(shard)).items():
            out[w.decode()] = WorkerState.unpack(v)
    return out


def status_code(state: WorkerState | None, now: float, offline_after_s: float) -> int:
    """Return the wall status of a worker: offline when silent too long, else the stored one."""
    if state is None or now - state.ts > offline_after_s:
        return OFFLINE
    return state.status


def worker_json(svc: Services, wid: str, state: WorkerState | None) -> dict:
    """Return the public JSON of one worker (phone masked)."""
    w = svc.district.worker(wid)
    grid = svc.district.grid(w.grid)
    now = svc.clock.now()
    out = {
        "id": w.id,
        "name": w.name,
        "grid": w.grid,
        "grid_name": grid.name if grid else "",
        "station": grid.station if grid else "",
        "street": grid.street if grid else "",
        "party_member": w.party_member,
        "phone": w.phone_masked,
        "status": STATUS_NAMES[status_code(state, now, svc.settings.offline_after_s)],
        "position": None,
    }
    if state is not None:
        out["position"] = {
            "lat": state.lat,
            "lon": state.lon,
            "timestamp": state.ts,
            "speed": round(state.speed, 2),
            "grid": state.grid or None,
            "inside_own_grid": state.grid == w.grid,
            "battery": None if state.battery < 0 else state.battery,
        }
    return out


def workers(svc: Services) -> list[dict]:
    """Return every worker with position and status."""
    states = worker_states(svc)
    return [worker_json(svc, w.id, states.get(w.id)) for w in svc.district.workers]


def worker(svc: Services, wid: str) -> dict | None:
    """Return one worker with position and status, or None if unknown."""
    if svc.district.worker(wid) is None:
        return None
    raw = svc.r.hget(svc.keys.gps_last(svc.keys.gps_shard(wid)), wid)
    return worker_json(svc, wid, WorkerState.unpack(raw) if raw else None)


def map_snapshot(svc: Services) -> dict:
    """Return the columnar snapshot of every reporting worker for the wall map."""
    states = worker_states(svc)
    ids = list(states)
    return {
        "ids": ids,
        "lat": [round(states[i].lat, 6) for i in ids],
        "lon": [round(states[i].lon, 6) for i in ids],
        "st": [states[i].status for i in ids],
        "g": [states[i].grid for i in ids],
        "ts": [int(states[i].ts) for i in ids],
        "full": True,
        "now": svc.clock.now(),
    }


def track(svc: Services, wid: str, day: str) -> list[tuple[int, float, float]]:
    """Return a worker's track of a day (YYYYMMDD) from Redis or, once archived, from Parquet."""
    shard = svc.keys.gps_shard(wid)
    raw = svc.r.get(svc.keys.gps_track(shard, day, wid))
    if raw:
        return unpack_track(raw)
    from streams.archive import read_archived_track

    return read_archived_track(svc.settings.archive_dir, day, wid)


def server_time(r: redis.Redis) -> float:
    """Return the Redis server's clock (stream ids are stamped with it, not with ours)."""
    sec, usec = r.time()
    return sec + usec / 1e6


def stream_lag(r: redis.Redis, stream: str, group: str, now: float) -> dict:
    """Return pending entries and the age in seconds of the oldest unprocessed entry.

    `now` must be the Redis server's time (server_time): entry ids carry it.
    """
    try:
        groups = {g["name"].decode(): g for g in r.xinfo_groups(stream)}
    except redis.ResponseError:
        return {"pending": 0, "lag_s": 0.0}
    g = groups.get(group)
    if g is None:
        return {"pending": 0, "lag_s": 0.0}
    pending = int(g["pending"])
    oldest: bytes | None = None
    if pending:
        summary = r.xpending(stream, group)
        oldest = summary["min"]
    else:
        nxt = r.xrange(stream, min=b"(" + g["last-delivered-id"], count=1)
        if nxt:
            oldest = nxt[0][0]
    lag = 0.0
    if oldest:
        lag = max(0.0, now - int(oldest.split(b"-")[0]) / 1000.0)
    return {"pending": pending, "lag_s": round(lag, 3)}


def health(svc: Services) -> tuple[dict, bool]:
    """Return Redis status, consumer lag and dead letters per stream, and whether all is well."""
    now = svc.clock.now()
    try:
        svc.r.ping()
    except redis.RedisError as exc:
        return {"redis": "down", "error": type(exc).__name__}, False
    out: dict = {"redis": "up", "streams": {}}
    server_now = server_time(svc.r)
    for name, physical in logical_streams(svc.keys).items():
        group = svc.keys.group(name)
        lags = [stream_lag(svc.r, s, group, server_now) for s in physical]
        out["streams"][name] = {
            "pending": sum(x["pending"] for x in lags),
            "lag_s": max((x["lag_s"] for x in lags), default=0.0),
            "deadletters": svc.r.xlen(svc.keys.deadletter(name)),
            "deadletter_reasons": {
                k.decode(): int(v)
                for k, v in svc.r.hgetall(svc.keys.deadletter_reasons(name)).items()
            },
        }
    beats = svc.r.hgetall(svc.keys.consumers_heartbeat())
    out["consumers"] = {k.decode(): round(now - float(v), 1) for k, v in beats.items()}
    return out, True


def rate(svc: Services, name: str, seconds: int = 5) -> float:
    """Return the mean rate of a counter per real second over the last few whole seconds
    (a simulated clock that runs faster does not change how fast the system works)."""
    now = int(time.time())
    vals = svc.r.mget([svc.keys.rate(name, now - i) for i in range(1, seconds + 1)])
    return sum(int(v) for v in vals if v) / seconds


def gps_kpis(svc: Services, states: dict[str, WorkerState] | None = None) -> dict:
    """Return the KPI strip of the GPS wall."""
    states = worker_states(svc) if states is None else states
    now = svc.clock.now()
    after = svc.settings.offline_after_s
    codes = Counter(status_code(s, now, after) for s in states.values())
    lag = health_lag(svc, "gps")
    return {
        "online": len(states) - codes[OFFLINE],
        "total": len(svc.district.workers),
        "patrolling": codes[PATROLLING],
        "outside": codes[OUTSIDE],
        "fixes_per_s": rate(svc, "gps.accepted"),
        "lag_s": lag["lag_s"],
        "deadletters": lag["deadletters"],
    }


def health_lag(svc: Services, name: str) -> dict:
    """Return lag and dead-letter count of one logical stream."""
    now = server_time(svc.r)
    group = svc.keys.group(name)
    lags = [stream_lag(svc.r, s, group, now) for s in logical_streams(svc.keys)[name]]
    return {
        "lag_s": max((x["lag_s"] for x in lags), default=0.0),
        "pending": sum(x["pending"] for x in lags),
        "deadletters": svc.r.xlen(svc.keys.deadletter(name)),
    }


def patrol_trails(svc: Services, max_points: int = 60) -> dict[str, list[list[float]]]:
    """Return today's tracks, thinned, of workers patrolling now: id -> [[lat, lon], ...]
    (workers without a point today are left out)."""
    now = svc.clock.now()
    day = svc.days.day(now)
    cutoff = now - svc.settings.offline_after_s
    out: dict[str, list[list[float]]] = {}
    for shard in range(max(1, svc.keys.gps_shards)):
        live = []
        for w, v in svc.r.hgetall(svc.keys.gps_last(shard)).items():
            status, ts = status_and_ts(v)
            if status == PATROLLING and ts >= cutoff:
                live.append(w.decode())
        for start in range(0, len(live), 5000):  # one MGET a slice: a shard shares one slot
            names = live[start : start + 5000]
            raws = svc.r.mget([svc.keys.gps_track(shard, day, w) for w in names])
            for w, raw in zip(names, raws, strict=True):
                if raw:
                    pts = unpack_track(raw)
                    step = max(1, len(pts) // max_points)
                    out[w] = [[la, lo] for _, la, lo in pts[::step]][-max_points:]
    return out


def street_status(svc: Services, limit: int = 8, states: dict | None = None) -> list[dict]:
    """Return per street: name, workers total, online, patrolling, outside.

    A city has more streets than a panel can show: beyond `limit`, the streets with the
    lowest share of workers online come first (what needs attention).
    """
    now = svc.clock.now()
    states = worker_states(svc) if states is None else states
    rows = {
        s.code: {
            "code": s.code,
            "name": s.name,
            "total": 0,
            "online": 0,
            "patrolling": 0,
            "outside": 0,
        }
        for s in svc.district.streets
    }
    after = svc.settings.offline_after_s
    counts = Counter((street, status_code(states.get(wid), now, after))
                     for wid, street in svc.district.workers_by_street())
    for (street, code), n in counts.items():
        row = rows.get(street)
        if row is None:
            continue
        row["total"] += n
        row["online"] += n if code != OFFLINE else 0
        row["patrolling"] += n if code == PATROLLING else 0
        row["outside"] += n if code == OUTSIDE else 0
    out = [r for r in rows.values() if r["total"]]
    if len(out) > limit:
        out = sorted(out, key=lambda r: r["online"] / r["total"])[:limit]
    return out


def rejections(svc: Services) -> dict:
    """Return dead-letter counts by stream and reason category, labelled for the wall."""
    from dashboard.i18n import reason, stream_name

    lang = svc.settings.lang
    out = {}
    for name in logical_streams(svc.keys):
        reasons = svc.r.hgetall(svc.keys.deadletter_reasons(name))
        out[stream_name(name, lang)] = sorted(
            ((reason(k.decode(), lang), int(v)) for k, v in reasons.items()),
            key=lambda kv: -kv[1],
        )
    return out
