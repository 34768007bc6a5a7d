"""Helpers of the scale-out and fault tests: valid inputs per stream, waiting, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import requests
from shapely.geometry import Polygon

from dashboard.config import ROOT
from dashboard.keys import logical_streams
from streams.call_records import call_to_fields
from streams.fixes import fix_to_fields, make_fix
from streams.reports import Report, report_fields


def point_in(svc, grid: str, step: int = 0) -> tuple[float, float]:
    """Return (lat, lon) in a grid; each step moves it 11 m north or south (never thinned)."""
    p = Polygon(svc.district.grid(grid).ring).representative_point()
    k = step % 20
    return p.y + 0.0001 * (k if k < 10 else 20 - k), p.x


def fix_item(svc, wid: str, ts: float, step: int = 0) -> dict:
    """Return a batch-API position of a worker inside its own grid."""
    lat, lon = point_in(svc, svc.district.worker(wid).grid, step)
    return {"id": wid, "timestamp": round(ts, 3), "lat": round(lat, 7), "lon": round(lon, 7),
            "speed": 1.2}


def report_form(svc, wid: str, item: str = "CG006", **extra) -> dict:
    """Return the form of an Open311 POST requests by a worker in its own grid."""
    lat, lon = point_in(svc, svc.district.worker(wid).grid)
    return {"api_key": svc.settings.open311_api_keys.split(",")[0], "service_code": item,
            "lat": f"{lat:.6f}", "long": f"{lon:.6f}", "device_id": wid, **extra}


def call_item(svc, ts: float, k: int = 0) -> dict:
    """Return a valid, unconditionally shared interface call of POST /api/v1/calls."""
    from dashboard.exchange import UNCONDITIONAL
    from dashboard.exchange_queries import registry

    reg = registry(svc)
    cats = sorted(c.id for c in reg.catalogs.values()
                  if c.sharing == UNCONDITIONAL and c.interfaces)
    cat = reg.catalogs[cats[k % len(cats)]]
    caller = sorted(u for u in reg.units if u != cat.unit)[k % (len(reg.units) - 1)]
    return {"time": round(ts, 3), "caller": caller, "provider": cat.unit,
            "interface": cat.interfaces[0], "catalog": cat.id, "result": "ok", "latency_ms": 30}


# ---- one valid stream entry per logical stream (a new stream must add its own here) ------------
def _gps_entry(svc, i: int) -> tuple[str, dict]:
    wid = svc.district.workers[i % len(svc.district.workers)].id
    it = fix_item(svc, wid, svc.clock.now() - 30 + i * 0.01, i)
    fix = make_fix(it["id"], it["timestamp"], it["lat"], it["lon"], it["speed"])
    return svc.keys.gps_stream(svc.keys.gps_shard(wid)), fix_to_fields(fix)


def _events_entry(svc, i: int) -> tuple[str, dict]:
    w = svc.district.workers[(i * 7) % len(svc.district.workers)]
    lat, lon = point_in(svc, w.grid)
    rep = Report(id=f"T{i:06d}", item="CG006", lat=lat, lon=lon, worker=w.id,
                 at=svc.clock.now())
    return svc.keys.events_stream(), report_fields(rep)


def _calls_entry(svc, i: int) -> tuple[str, dict]:
    from streams.call_records import parse_call_item

    return svc.keys.calls_stream(), call_to_fields(parse_call_item(
        call_item(svc, svc.clock.now() - 5, i)))


VALID_ENTRY: dict[str, Callable] = {"gps": _gps_entry, "events": _events_entry,
                                    "calls": _calls_entry}


def streams_of(svc) -> list[str]:
    """Return every logical stream the project has now, failing loudly for one without sample."""
    names = list(logical_streams(svc.keys))
    missing = [n for n in names if n not in VALID_ENTRY]
    assert not missing, f"add a valid sample entry for stream(s) {missing} to VALID_ENTRY"
    return names


# ---- waiting and processes -------------------------------------------------------------------
def wait_for(predicate: Callable[[], object], timeout_s: float = 10.0, what: str = "") -> object:
    """Poll predicate until it returns something truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            got = predicate()
        except Exception:  # noqa: BLE001 - keep polling while the system recovers
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def app_env(settings, **extra: str) -> dict[str, str]:
    """Return the environment of an `app.py` child process on the test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update({"REDIS_URL": settings.redis_url, "DATA_DIR": settings.data_dir,
                "DISTRICT": settings.district, "KEY_PREFIX": settings.key_prefix,
                "GPS_SHARDS": str(settings.gps_shards), "AUTH_REQUIRED": "0",
                "CONSUMER_BLOCK_MS": "50", "CLAIM_IDLE_MS": "500", "CASE_TICK_S": "0.2",
                "PUSH_INTERVAL_S": "0.2", "OPEN311_API_KEYS": settings.open311_api_keys,
                "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def spawn(args: list[str], env: dict[str, str], log: str | None = None) -> subprocess.Popen:
    """Start `python app.py ARGS` as a child process (in its own process group)."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the child
    return subprocess.Popen([sys.executable, str(ROOT / "app.py"), *args], env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Stop a child with SIGTERM, then SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_http(url: str, timeout_s: float = 30.0) -> None:
    """Wait until url answers anything below 500."""
    wait_for(lambda: requests.get(url, timeout=1).status_code < 500, timeout_s, url)
