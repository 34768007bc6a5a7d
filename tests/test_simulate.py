"""The district simulator: walkers stay in their grids, keep the schedule, post in batches."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from shapely.geometry import Point

from dashboard.clock import FakeClock
from dashboard.config import Settings
from dashboard.district import load_district
from dashboard.geo import Locator, haversine_m
from dashboard.models import Fix
from streams.simulate import (
    IDLE_FIX_S,
    MAX_POST,
    OFF,
    PATROL,
    POSITIONS_PATH,
    WALK_FIX_S,
    DemoSchedule,
    RealisticSchedule,
    Simulator,
)

T0 = 1_780_000_000.0  # Unix s
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def district():
    """Return the Dongli district."""
    return load_district(Settings().district)


@pytest.fixture(scope="module")
def locator(district):
    """Return the grid locator of the district."""
    return Locator(district)


def local(day: str, hh: int, mm: int = 0) -> float:
    """Return the Unix time of a local (Asia/Shanghai) wall-clock time."""
    return datetime(int(day[:4]), int(day[4:6]), int(day[6:]), hh, mm, tzinfo=TZ).timestamp()


def simulate(sim: Simulator, start: float, seconds: float, every: float = 30.0
             ) -> tuple[list[Fix], dict]:
    """Step a simulator from start for some seconds; return its fixes and anomalies."""
    clock = FakeClock(start)
    sim.step(clock.now())
    fixes, anomalies = [], {}
    while clock.now() < start + seconds:
        fixes += sim.step(clock.advance(every))
        anomalies.update(sim.anomalies)
    return fixes, anomalies


def by_worker(fixes: list[Fix], anomalies: dict, skip: tuple = ("bad",)) -> dict:
    """Return each worker's fixes in time order, without the anomalies of the given kinds."""
    out = defaultdict(list)
    for f in fixes:
        if anomalies.get((f.worker, f.ts)) not in skip:
            out[f.worker].append(f)
    return out


@pytest.fixture(scope="module")
def demo_run(district, locator):
    """Return the fixes and anomalies of 60 workers over three hours of the demo schedule."""
    sim = Simulator(district, locator, FakeClock(T0), "demo", seed=7, workers=60)
    return simulate(sim, T0, 3 * 3600)


def test_fixes_lie_in_the_workers_own_grid_except_injected_strays_and_bad_fixes(
        district, locator, demo_run):
    fixes, anomalies = demo_run
    good = [f for f in fixes if (f.worker, f.ts) not in anomalies]
    where = locator.locate_many(np.array([f.lon for f in good]), np.array([f.lat for f in good]))
    own = np.array([locator.grid_index(district.worker(f.worker).grid) for f in good])
    assert len(good) > 50_000
    assert (where == own).all()


def test_injected_strays_and_bad_fixes_are_rare(demo_run):
    fixes, anomalies = demo_run
    kinds = Counter(anomalies.values())
    assert 0 < kinds["bad"] < len(fixes) / 500
    assert kinds["stray"] < len(fixes) / 100


def test_walking_workers_report_every_5_seconds_and_idle_ones_every_minute(demo_run):
    fixes, anomalies = demo_run
    gaps = Counter()
    for track in by_worker(fixes, anomalies, skip=()).values():
        for a, b in zip(track, track[1:], strict=False):
            gaps["walk" if b.speed else "idle", round(b.ts - a.ts)] += 1
    walk = {g: n for (kind, g), n in gaps.items() if kind == "walk"}
    idle = {g: n for (kind, g), n in gaps.items() if kind == "idle"}
    assert max(walk, key=walk.get) == WALK_FIX_S
    assert walk[WALK_FIX_S] > 0.95 * sum(walk.values())
    assert max(idle, key=idle.get) == IDLE_FIX_S


def test_speed_between_consecutive_good_fixes_stays_below_2_mps(demo_run):
    fixes, anomalies = demo_run
    speeds = []
    for track in by_worker(fixes, anomalies).values():
        ts, lat, lon = np.array([(f.ts, f.lat, f.lon) for f in track]).T
        speeds += list(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) / np.diff(ts))
    assert max(speeds) < 2.0
    assert 0.9 < float(np.median([s for s in speeds if s > 0.5])) < 1.6


def test_strays_step_just_outside_the_own_grid(district, locator):
    sim = Simulator(district, locator, FakeClock(T0), "demo", seed=1, workers=20, stray_rate=1.0)
    fixes, anomalies = simulate(sim, T0, 3600)
    strays = [f for f in fixes if anomalies.get((f.worker, f.ts)) == "stray"]
    outside = [f for f in strays if locator.locate_index(f.lon, f.lat)
               != locator.grid_index(district.worker(f.worker).grid)]
    assert outside
    for f in outside:
        own = locator.polygons[locator.grid_index(district.worker(f.worker).grid)]
        assert own.distance(Point(f.lon, f.lat)) * 111_000 < 70  # metres, roughly


def test_bad_fixes_are_zero_zero_or_jumps_of_kilometres(district, locator):
    sim = Simulator(district, locator, FakeClock(T0), "demo", seed=2, workers=20,
                    bad_fix_rate=0.05)
    fixes, anomalies = simulate(sim, T0, 1800)
    tracks = by_worker(fixes, anomalies, skip=())
    jumps = zeros = 0
    for track in tracks.values():
        for before, f in zip(track, track[1:], strict=False):
            if anomalies.get((f.worker, f.ts)) != "bad":
                continue
            if (f.lat, f.lon) == (0.0, 0.0):
                zeros += 1
            else:
                jumps += 1
                assert haversine_m(before.lat, before.lon, f.lat, f.lon) > 2500
    assert zeros and jumps


def test_demo_schedule_keeps_about_60_percent_on_patrol_and_5_percent_offline():
    schedule, samples, patrols = DemoSchedule(), Counter(), []
    for n in range(1000):
        rng = random.Random(n)
        t, (mode, until) = T0, schedule.first(rng, "W", T0)
        for hour in range(1, 13):
            while until <= T0 + hour * 3600:
                t, (mode, until) = until, schedule.next(rng, "W", until, mode)
                if mode == PATROL:
                    patrols.append(until - t)
            samples[mode] += 1
    total = sum(samples.values())
    assert 0.55 < samples[PATROL] / total < 0.65
    assert 0.03 < samples[OFF] / total < 0.07
    assert 20 * 60 <= min(patrols) and max(patrols) <= 60 * 60


def test_realistic_schedule_sends_nothing_at_3am_and_patrols_at_9am(district, locator):
    sim = Simulator(district, locator, FakeClock(), "realistic", seed=4, workers=80)
    night, _ = simulate(sim, local("20260601", 2, 30), 3600, every=300)
    assert night == []
    sim.step(local("20260601", 8, 55))
    morning = sim.step(local("20260601", 9, 5))
    walking = {f.worker for f in morning if f.speed}
    assert len(walking) > 20
    assert {f.worker for f in morning} == {w.id for w in district.workers[:80]}


def test_realistic_schedule_has_two_patrols_of_one_to_two_hours_in_duty_hours():
    schedule = RealisticSchedule(seed=5)
    for wid in ("W0001", "W0002", "W0003"):
        t, patrols = local("20260601", 0), []
        while t < local("20260602", 0):
            mode, until = schedule.first(None, wid, t)
            if mode == PATROL:
                patrols.append((t, until))
            t = until
        assert len(patrols) == 2
        (a0, a1), (b0, b1) = patrols
        assert local("20260601", 8) <= a0 and a1 <= local("20260601", 11, 30)
        assert local("20260601", 14) <= b0 and b1 <= local("20260601", 17, 30)
        assert all(3600 <= end - start <= 7200 for start, end in patrols)
        assert schedule.first(None, wid, local("20260601", 19, 1))[0] == OFF
        assert schedule.first(None, wid, local("20260601", 7, 29))[0] == OFF


def test_the_same_seed_gives_the_same_fixes_and_another_seed_others(district, locator):
    runs = [simulate(Simulator(district, locator, FakeClock(T0), seed=s, workers=15), T0, 900)[0]
            for s in (9, 9, 10)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_fixes_do_not_depend_on_how_time_is_sliced_into_steps(district, locator):
    fine = simulate(Simulator(district, locator, FakeClock(T0), seed=6, workers=15),
                    T0, 1800, every=1)[0]
    coarse = simulate(Simulator(district, locator, FakeClock(T0), seed=6, workers=15),
                      T0, 1800, every=600)[0]
    assert sorted(fine, key=lambda f: (f.worker, f.ts)) == sorted(coarse,
                                                                   key=lambda f: (f.worker, f.ts))


def test_requests_carry_at_most_2000_positions_in_the_batch_api_shape(district, locator):
    sim = Simulator(district, locator, FakeClock(T0), seed=8)
    sim.step(T0)
    fixes = sim.step(T0 + 120)
    posts = list(sim.outbox)
    assert len(fixes) > MAX_POST
    assert all(p.path == POSITIONS_PATH for p in posts)
    assert [len(p.body["positions"]) for p in posts][:-1] == [MAX_POST] * (len(posts) - 1)
    assert sum(len(p.body["positions"]) for p in posts) == len(fixes)
    item = posts[0].body["positions"][0]
    assert set(item) == {"id", "timestamp", "lat", "lon", "speed", "accuracy", "batt"}


class _FlakyApp(BaseHTTPRequestHandler):
    """An app that answers 503 to the first POSTs, then accepts."""

    failures_left = 2
    received: list = []

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        status = 503 if cls.failures_left > 0 else 200
        cls.failures_left -= 1
        if status == 200:
            cls.received.append((self.path, body))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Stay quiet."""


class TickingClock(FakeClock):
    """A fake clock that moves ten seconds every time it is read."""

    def now(self) -> float:
        """Return the time, then move it on."""
        return self.advance(10.0) - 10.0


def test_run_retries_while_the_app_is_down_and_delivers_everything_in_order(district, locator):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyApp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sim = Simulator(district, locator, TickingClock(T0), seed=11, workers=10)
    stop = threading.Event()
    runner = threading.Thread(target=sim.run, args=(f"http://127.0.0.1:{server.server_port}",
                                                    stop, 0.01))
    runner.start()
    deadline = time.monotonic() + 20
    while len(_FlakyApp.received) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.join(20)
    server.shutdown()
    assert not runner.is_alive()
    assert len(_FlakyApp.received) >= 5 and sim.stats["dropped"] == 0
    stamps = [p["timestamp"] for path, body in _FlakyApp.received for p in body["positions"]]
    assert all(path == POSITIONS_PATH for path, _ in _FlakyApp.received)
    assert stamps == sorted(stamps) and stamps[0] < T0 + 20  # the first fixes were retried


def test_run_survives_an_unreachable_app_and_keeps_its_requests(district, locator):
    sim = Simulator(district, locator, TickingClock(T0), seed=12, workers=10)
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    sim.run("http://127.0.0.1:9", stop, 0.01)  # discard port: nothing listens
    assert sim.stats["posted"] == 0 and sim.stats["errors"] == 0
    assert sim.outbox
