"""The district simulator: grid workers' phones walking patrols, posted to a running app.

`Simulator.step(now)` is a pure-ish stepper: it advances every actor to `now` (time is
passed in, from an injectable Clock, never read from the wall) and returns the GPS fixes
due since the previous step, deterministically for a seed and independent of how time
is sliced into steps.  `Simulator.run(base_url, stop)` loops step -> HTTP POST.

Adding an actor (case reports, department actions, calls, ...): write a class with
``step(now: float) -> list[Post]`` that advances its own state to `now` using its own
``random.Random`` seeded from the simulator's seed, and returns the requests it wants
sent (path + JSON body, already batched); append an instance to ``Simulator.actors``.
`run` posts every actor's requests in order, retrying while the app is down.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

import requests
import shapely
from shapely.geometry import LineString, Point

from dashboard.clock import Clock
from dashboard.geo import EARTH_RADIUS_M, Locator
from dashboard.models import District, Fix

log = logging.getLogger("gridwall.simulate")

POSITIONS_PATH = "/api/v1/positions"
MAX_POST = 2000  # positions per POST
MAX_BACKLOG = 100  # POSTs kept while the app is down; older ones are dropped
WALK_FIX_S, IDLE_FIX_S = 5.0, 60.0  # seconds between fixes while walking / idle
WALK_MPS = (1.0, 1.5)  # walking speed range, m/s
NOISE_SIGMA_M = 4.0  # GPS error per axis, m (Gauss-Markov: drifts slowly, like a phone's)
NOISE_TAU_S = 300.0  # correlation time of the GPS error, s
NOISE_MAX_M = 12.0  # GPS error is clamped to this radius (3 sigma), m
NOISE_STEP_M = 2.0  # largest change of the GPS error over 5 s, m
MARGIN_M = 15.0  # walking stays this far inside the grid, > NOISE_MAX_M, m
BAD_FIX_RATE = 1 / 2000  # fixes replaced by a jump of km or by 0,0
STRAY_RATE = 1 / 50  # patrols that briefly step just outside the grid
STRAY_M = (20.0, 50.0)  # how far outside a stray goes, m
BATTERY_PER_H = 6.0  # percent of battery a phone uses per hour on duty
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
PATROL, IDLE, OFF = "patrol", "idle", "offline"


class Post(NamedTuple):
    """One HTTP request an actor wants sent: a path of the app, its JSON body and headers."""

    path: str
    body: dict
    headers: dict | None = None


class Actor(Protocol):
    """Anything that acts in the simulated district."""

    def step(self, now: float) -> list[Post]:
        """Advance to now and return the requests to send."""


class DemoSchedule:
    """Always busy: ~60 % of workers patrol (20–60 min), ~35 % idle, ~5 % phones off."""

    def first(self, rng: random.Random, wid: str, t: float) -> tuple[str, float]:
        """Return a worker's mode at the start and when it ends."""
        u = rng.random()
        mode = PATROL if u < 0.60 else IDLE if u < 0.95 else OFF
        return mode, t + rng.random() * self._length(rng, mode)

    def next(self, rng: random.Random, wid: str, t: float, ended: str) -> tuple[str, float]:
        """Return the mode following one that ended at t, and when it ends."""
        mode = PATROL if ended != PATROL else OFF if rng.random() < 1 / 15 else IDLE
        return mode, t + self._length(rng, mode)

    @staticmethod
    def _length(rng: random.Random, mode: str) -> float:
        low, high = {PATROL: (20, 60), IDLE: (10, 40), OFF: (30, 70)}[mode]
        return rng.uniform(low, high) * 60


class RealisticSchedule:
    """Two 60–120 min patrols a day, 08:00–11:30 and 14:00–17:30; phones off 19:00–07:30."""

    def __init__(self, seed: int, tz: str = "Asia/Shanghai") -> None:
        self.seed, self.tz = seed, ZoneInfo(tz)
        self._plans: dict[tuple[str, str], list[tuple[float, str]]] = {}

    def first(self, rng: random.Random, wid: str, t: float) -> tuple[str, float]:
        """Return a worker's mode at t and when it ends."""
        day = datetime.fromtimestamp(t, self.tz).date()
        plan = self._plan(wid, day) + [(self._at(day + timedelta(days=1), time()), OFF)]
        i = max(j for j, (start, _) in enumerate(plan) if start <= t)
        return plan[i][1], plan[i + 1][0]

    def next(self, rng: random.Random, wid: str, t: float, ended: str) -> tuple[str, float]:
        """Return the mode at t, when the previous one ended."""
        return self.first(rng, wid, t)

    def _at(self, day: object, at: time) -> float:
        return datetime.combine(day, at, self.tz).timestamp()

    def _plan(self, wid: str, day: object) -> list[tuple[float, str]]:
        """Return the day's (start, mode) list of a worker, the same for a seed every time."""
        key = (wid, str(day))
        if key not in self._plans:
            rng = random.Random(f"{self.seed}:{wid}:{day}")
            plan = [(self._at(day, time()), OFF), (self._at(day, time(7, 30)), IDLE)]
            for start_h in (8, 14):
                minutes = rng.uniform(60, 120)
                t0 = self._at(day, time(start_h)) + rng.uniform(0, 210 - minutes) * 60
                plan += [(t0, PATROL), (t0 + minutes * 60, IDLE)]
            self._plans = {} if len(self._plans) > 20000 else self._plans
            self._plans[key] = plan + [(self._at(day, time(19)), OFF)]
        return self._plans[key]


def make_schedule(name: str, seed: int, tz: str) -> DemoSchedule | RealisticSchedule:
    """Return the schedule called demo or realistic."""
    if name not in ("demo", "realistic"):
        raise ValueError(f"schedule must be demo or realistic, got {name!r}")
    return DemoSchedule() if name == "demo" else RealisticSchedule(seed, tz)


@dataclass
class Walker:
    """One worker's phone: where it is, where it goes, and its slowly drifting GPS error."""

    wid: str
    area: object  # own grid in local metres (x east, y north) around (lon0, lat0)
    inner: object  # area shrunk by MARGIN_M: waypoints and legs stay inside it
    lon0: float
    lat0: float
    kx: float  # metres per degree of longitude here
    rng: random.Random
    mode: str = OFF
    until: float = 0.0
    t0: float = 0.0  # current leg: from (x0, y0) at t0 to (x1, y1) at t1 (inf = standing)
    x0: float = 0.0
    y0: float = 0.0
    t1: float = math.inf
    x1: float = 0.0
    y1: float = 0.0
    anchor: tuple[float, float] = (0.0, 0.0)  # a point reachable in a straight inner line
    speed: float = 0.0
    route: list = field(default_factory=list)  # rest of a stray excursion
    straying: bool = False
    stray_at: float = math.inf
    noise: tuple[float, float] = (0.0, 0.0)
    noise_t: float | None = None
    next_fix: float = math.inf
    last_fix: float = -math.inf
    battery: float = 100.0

    def pos(self, t: float) -> tuple[float, float]:
        """Return the true position at t in local metres."""
        if self.t1 == math.inf:
            return self.x0, self.y0
        if t >= self.t1:
            return self.x1, self.y1
        f = (t - self.t0) / (self.t1 - self.t0)
        return self.x0 + f * (self.x1 - self.x0), self.y0 + f * (self.y1 - self.y0)

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        """Return lon, lat of local metres."""
        return self.lon0 + x / self.kx, self.lat0 + y / M_PER_DEG


def _walker(wid: str, polygon: object, rng: random.Random) -> Walker:
    """Return a walker standing at a random point of its grid polygon (lon/lat)."""
    c = polygon.centroid
    kx = M_PER_DEG * math.cos(math.radians(c.y))
    area = shapely.transform(polygon, lambda xy: (xy - (c.x, c.y)) * (kx, M_PER_DEG))
    inner = area.buffer(-MARGIN_M) or area.buffer(-1.0)  # (a grid too thin for the margin)
    shapely.prepare(inner)
    w = Walker(wid, area, inner, c.x, c.y, kx, rng)
    w.x0, w.y0 = _random_point(w)
    w.anchor = (w.x0, w.y0)
    w.battery = rng.uniform(50, 100)
    return w


def _random_point(w: Walker) -> tuple[float, float]:
    """Return a random point of the walker's inner area (rejection sampling in its bbox)."""
    minx, miny, maxx, maxy = w.inner.bounds
    for _ in range(100):
        x, y = w.rng.uniform(minx, maxx), w.rng.uniform(miny, maxy)
        if w.inner.contains(Point(x, y)):
            return x, y
    p = w.inner.representative_point()
    return p.x, p.y


def _waypoint(w: Walker, here: tuple[float, float]) -> tuple[float, float]:
    """Return a next waypoint reachable from here in a straight line inside the inner area."""
    for _ in range(40):
        p = _random_point(w)
        if w.inner.contains(LineString([here, p])):
            return p
    return w.anchor  # walk back the way we came


def _stray_route(w: Walker, here: tuple[float, float]) -> list[tuple[float, float]]:
    """Return an excursion to just beyond the nearest grid border and back."""
    ring = w.area.exterior
    b = ring.interpolate(ring.project(Point(here)))
    dx, dy = b.x - here[0], b.y - here[1]
    scale = 1 + w.rng.uniform(*STRAY_M) / max(math.hypot(dx, dy), 1e-6)
    return [(here[0] + dx * scale, here[1] + dy * scale), here]


class GpsWalkers:
    """The GPS actor: every simulated worker patrols their own grid and reports fixes."""

    def __init__(self, district: District, locator: Locator, schedule: object, seed: int,
                 workers: int = 0, bad_fix_rate: float = BAD_FIX_RATE,
                 stray_rate: float = STRAY_RATE) -> None:
        chosen = district.workers[:workers] if workers > 0 else district.workers
        self.walkers = [_walker(w.id, locator.polygons[locator.grid_index(w.grid)],
                                random.Random(f"{seed}:{w.id}")) for w in chosen]
        self.schedule, self.bad_fix_rate, self.stray_rate = schedule, bad_fix_rate, stray_rate
        self.started = False
        self.fixes: list[Fix] = []  # fixes of the last step, by time
        self.anomalies: dict[tuple[str, float], str] = {}  # (worker, ts) -> "bad" | "stray"

    def step(self, now: float) -> list[Post]:
        """Advance every walker to now; return the fixes since the last step as POSTs."""
        fixes: list[Fix] = []
        self.anomalies = {}
        for w in self.walkers:
            if not self.started:
                self._enter(w, now, *self.schedule.first(w.rng, w.wid, now))
            self._advance(w, now, fixes)
        self.started = True
        self.fixes = sorted(fixes, key=lambda f: f.ts)
        return [Post(POSITIONS_PATH, {"positions": [_position(f) for f in
                                                    self.fixes[i:i + MAX_POST]]})
                for i in range(0, len(self.fixes), MAX_POST)]

    def modes(self) -> dict[str, str]:
        """Return every simulated worker's current mode."""
        return {w.wid: w.mode for w in self.walkers}

    def _advance(self, w: Walker, now: float, out: list[Fix]) -> None:
        while (t := min(w.next_fix, w.until, w.t1)) <= now:
            if t == w.t1:
                self._arrive(w, t)
            elif t == w.until:
                if w.straying:  # finish the excursion first
                    w.until = w.t1
                else:
                    self._enter(w, t, *self.schedule.next(w.rng, w.wid, t, w.mode))
            else:
                out.append(self._fix(w, t))

    def _enter(self, w: Walker, t: float, mode: str, until: float) -> None:
        w.x0, w.y0 = w.pos(t)
        w.t0, w.t1, w.mode, w.until, w.speed = t, math.inf, mode, until, 0.0
        if mode == OFF:
            w.next_fix, w.noise_t = math.inf, None
            return
        if w.next_fix == math.inf:  # phone switched on: charged, first fix within seconds
            w.next_fix, w.battery = t + w.rng.uniform(0, WALK_FIX_S), max(w.battery, 90.0)
        elif mode == PATROL:  # walking: report every 5 s from now on
            w.next_fix = min(w.next_fix, max(w.last_fix + WALK_FIX_S, t))
        if mode == PATROL:
            w.speed = w.rng.uniform(*WALK_MPS)
            w.stray_at = (t + w.rng.uniform(0.2, 0.8) * (until - t)
                          if w.rng.random() < self.stray_rate else math.inf)
            self._leg(w, t, _waypoint(w, (w.x0, w.y0)))

    def _arrive(self, w: Walker, t: float) -> None:
        here = w.x0, w.y0 = w.x1, w.y1
        w.t0, w.t1 = t, math.inf
        if w.mode != PATROL:
            return
        if not w.route and t >= w.stray_at:
            w.route, w.stray_at = _stray_route(w, here), math.inf
        w.straying = bool(w.route)
        self._leg(w, t, w.route.pop(0) if w.route else _waypoint(w, here))

    def _leg(self, w: Walker, t: float, target: tuple[float, float]) -> None:
        if not w.straying:
            w.anchor = (w.x0, w.y0)
        dist = math.hypot(target[0] - w.x0, target[1] - w.y0)
        w.t0, (w.x1, w.y1), w.t1 = t, target, t + max(dist / w.speed, 1.0)

    def _fix(self, w: Walker, t: float) -> Fix:
        x, y = w.pos(t)
        nx, ny = _drift(w, t)
        interval = WALK_FIX_S if w.mode == PATROL else IDLE_FIX_S
        w.battery -= BATTERY_PER_H * interval / 3600
        w.battery = 100.0 if w.battery < 15 else w.battery  # recharged
        w.last_fix, w.next_fix = t, t + interval
        moving = w.mode == PATROL and w.t0 <= t < w.t1 and (w.x0, w.y0) != (w.x1, w.y1)
        lon, lat = w.lonlat(x + nx, y + ny)
        ts = round(t, 3)
        if w.rng.random() < self.bad_fix_rate:
            self.anomalies[(w.wid, ts)] = "bad"
            lon, lat = _bad_position(w.rng, lon, lat)
        elif w.straying:
            self.anomalies[(w.wid, ts)] = "stray"
        return Fix(w.wid, ts, round(lat, 7), round(lon, 7),
                   speed=round(w.speed, 2) if moving else 0.0,
                   accuracy=round(NOISE_SIGMA_M + math.hypot(nx, ny) / 2, 1),
                   battery=round(w.battery))


def _drift(w: Walker, t: float) -> tuple[float, float]:
    """Advance and return the walker's GPS error: Gauss-Markov, bounded per step and in size."""
    if w.noise_t is None:
        a, sd, cap = 0.0, NOISE_SIGMA_M, NOISE_MAX_M
    else:
        dt = t - w.noise_t
        a = math.exp(-dt / NOISE_TAU_S)
        sd, cap = NOISE_SIGMA_M * math.sqrt(1 - a * a), NOISE_STEP_M * math.sqrt(dt / WALK_FIX_S)
    dx, dy = w.rng.gauss(0, sd), w.rng.gauss(0, sd)
    k = min(1.0, cap / max(math.hypot(dx, dy), 1e-9))
    nx, ny = a * w.noise[0] + k * dx, a * w.noise[1] + k * dy
    k = min(1.0, NOISE_MAX_M / max(math.hypot(nx, ny), 1e-9))
    w.noise, w.noise_t = (nx * k, ny * k), t
    return w.noise


def _bad_position(rng: random.Random, lon: float, lat: float) -> tuple[float, float]:
    """Return a broken fix: 0,0 or a jump of 3–10 km."""
    if rng.random() < 0.5:
        return 0.0, 0.0
    d, bearing = rng.uniform(3000, 10000), rng.uniform(0, 2 * math.pi)
    return (lon + d * math.sin(bearing) / (M_PER_DEG * math.cos(math.radians(lat))),
            lat + d * math.cos(bearing) / M_PER_DEG)


def _position(f: Fix) -> dict:
    """Return the batch-API item of a fix."""
    return {"id": f.worker, "timestamp": f.ts, "lat": f.lat, "lon": f.lon, "speed": f.speed,
            "accuracy": f.accuracy, "batt": f.battery}


class Simulator:
    """The simulated district: a list of actors, the GPS walkers first."""

    def __init__(self, district: District, locator: Locator, clock: Clock,
                 schedule: str = "demo", seed: int = 0, workers: int = 0,
                 tz: str = "Asia/Shanghai", **rates: float) -> None:
        self.clock = clock
        self.gps = GpsWalkers(district, locator, make_schedule(schedule, seed, tz), seed,
                              workers, **rates)
        self.actors: list[Actor] = [self.gps]
        self.outbox: deque[Post] = deque()
        self.stats = {"posted": 0, "rejected": 0, "dropped": 0, "errors": 0}

    @property
    def anomalies(self) -> dict[tuple[str, float], str]:
        """Return the injected bad fixes and strays of the last step."""
        return self.gps.anomalies

    def step(self, now: float) -> list[Fix]:
        """Advance every actor to now, queue their requests, return the new GPS fixes."""
        for actor in self.actors:
            self.outbox.extend(actor.step(now))
        while len(self.outbox) > MAX_BACKLOG:
            self.outbox.popleft()
            self.stats["dropped"] += 1
        return self.gps.fixes

    def send(self, session: requests.Session, base_url: str) -> bool:
        """POST the queued requests in order; return False while the app cannot take them."""
        while self.outbox:
            post = self.outbox[0]
            try:
                resp = session.post(base_url.rstrip("/") + post.path, json=post.body,
                                    headers=post.headers, timeout=(3, 30))
            except requests.RequestException as exc:
                log.debug("app unreachable: %s", exc)
                return False
            if resp.status_code == 429 or resp.status_code >= 500:
                return False
            if resp.status_code >= 400:  # a batch of only bad fixes, or a client error
                self.stats["rejected"] += 1
                if resp.status_code != 400:
                    log.warning("POST %s: %s %s", post.path, resp.status_code, resp.text[:200])
            else:
                self.stats["posted"] += 1
            self.outbox.popleft()
        return True

    def run(self, base_url: str, stop_event: threading.Event, interval_s: float = 0.5) -> None:
        """Step and POST every interval until stopped, backing off while the app is down."""
        backoff, session = 0.0, requests.Session()
        while not stop_event.is_set():
            try:
                self.step(self.clock.now())
                up = self.send(session, base_url)
            except Exception:  # noqa: BLE001 - the 24/7 demo must keep going
                log.exception("simulator step failed")
                self.stats["errors"] += 1
                up = False
            if not up and backoff == 0.0:
                log.warning("app at %s is down; retrying with backoff", base_url)
            elif up and backoff:
                log.info("app at %s is back", base_url)
            backoff = 0.0 if up else min(max(2 * backoff, 0.5), 10.0)
            stop_event.wait(interval_s if up else backoff)
        session.close()


def run_simulator(svc: object, base_url: str, stop: threading.Event) -> None:
    """Run the district simulator of a process's services against the app at base_url."""
    s = svc.settings
    sim = Simulator(svc.district, svc.locator, svc.clock, schedule=s.sim_schedule,
                    seed=int(getattr(s, "sim_seed", 1)), workers=s.sim_workers, tz=s.tz)
    if s.open311_api_keys:  # case reports and department actions (streams/sim_cases.py)
        from streams.sim_cases import case_actors

        sim.actors += case_actors(svc, s.open311_api_keys.split(",")[0].strip())
    from streams.sim_calls import call_actor  # exchange gateway calls (streams/sim_calls.py)

    sim.actors.append(call_actor(svc))
    from streams.sim_people import people_actors  # service tasks done, volunteer records

    sim.actors += people_actors(svc, s.open311_api_keys.split(",")[0].strip())
    log.info("simulating %d workers (%s schedule) against %s", len(sim.gps.walkers),
             s.sim_schedule, base_url)
    sim.run(base_url, stop)
