"""Fold a batch of fixes into the workers' stored states: filters, status, track thinning.

A worker with one fix in the batch (nearly every worker at city scale) is folded with
array operations; a worker with several fixes goes through the scalar fold, fix by fix in
entry order.  Both give the same states, track points and reject reasons
(tests/test_gps_batch.py compares them).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from dashboard.clock import Days
from dashboard.config import Settings
from dashboard.models import District, Fix
from streams.consumer import Failure
from streams.gps_batch import Rows, parse_states
from streams.gps_state import (
    IDLE,
    OUTSIDE,
    PATROLLING,
    TRACK_RECORD,
    WorkerState,
    pack_point,
)

EARTH_DIAMETER_M = 12_742_017.6
# WorkerState.pack() as a bytes %-format; lat, lon and the track's lat, lon come as "%.6f" text
_STATE = b"%s|%.3f|%s|%s|%s|%d|%.2f|%.0f|%.0f|%s|%s"
_RECORD = np.dtype([("t", "<u4"), ("la", "<i4"), ("lo", "<i4")])  # = TRACK_RECORD
assert _RECORD.itemsize == TRACK_RECORD.size


@dataclass
class Plan:
    """What one attempt writes and publishes; positions index `workers`."""

    workers: list[str] = field(default_factory=list)
    expected: list[bytes] = field(default_factory=list)  # entry id read (b'' no state)
    states: list[bytes] = field(default_factory=list)  # packed new state
    accepted: list[int] = field(default_factory=list)  # fixes accepted per worker
    acks: list[list[bytes]] = field(default_factory=list)  # their entry ids
    tracks: list[tuple[int, str, bytes]] = field(default_factory=list)  # (position, day, points)
    # the pushed delta as columns: the worker's position, lat, lon, status, grid, Unix second
    d_pos: list[int] = field(default_factory=list)
    d_lat: list[float] = field(default_factory=list)
    d_lon: list[float] = field(default_factory=list)
    d_st: list[int] = field(default_factory=list)
    d_grid: list[str] = field(default_factory=list)
    d_ts: list[int] = field(default_factory=list)
    failures: list[tuple[int, str, Failure]] = field(default_factory=list)  # (entry pos, worker, .)

    @property
    def delta(self) -> list[tuple[int, float, float, int, str, int]]:
        """Return the delta as rows (position, lat, lon, status, grid, second)."""
        return list(zip(self.d_pos, self.d_lat, self.d_lon, self.d_st, self.d_grid, self.d_ts,
                        strict=True))

    def add(self, worker: str, expected: bytes, state: bytes, acks: list[bytes]) -> int:
        """Append one worker's write and return its position."""
        self.workers.append(worker)
        self.expected.append(expected)
        self.states.append(state)
        self.accepted.append(len(acks))
        self.acks.append(acks)
        return len(self.workers) - 1


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in metres between two points (scalar, fast path)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return EARTH_DIAMETER_M * math.asin(math.sqrt(a))


def haversine_many(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Return haversine_m element-wise, with the same formula."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return EARTH_DIAMETER_M * np.arcsin(np.sqrt(a))


@dataclass
class _Pending:
    """What the scalar fold wants to write for one worker."""

    before: WorkerState | None
    state: WorkerState | None = None
    points: dict[str, bytearray] = field(default_factory=lambda: defaultdict(bytearray))
    accepted: int = 0


class Folder:
    """Fold fixes into states with the gps settings, the district's grids and its days."""

    def __init__(self, settings: Settings, district: District, days: Days) -> None:
        self.s, self.district, self.days = settings, district, days
        self.codes = [g.code for g in district.grids] + [""]  # index -1: outside every grid
        self.codes_b = [c.encode() for c in self.codes]
        first: dict[str, int] = {}
        for i, code in enumerate(self.codes[:-1]):
            first.setdefault(code, i)
        self.canon = np.array([first[c] for c in self.codes[:-1]] + [-1], dtype=np.int64)
        self.own_of = {w.id: first.get(w.grid, -2) for w in district.workers}

    def fold(
        self, rows: Rows, where: np.ndarray, stored: dict[str, bytes | None], scalar: bool = False
    ) -> Plan:
        """Return the plan of a batch: rows in entry order, `where` their grid indexes,
        `stored` the state read for each worker (None: none yet)."""
        plan = Plan()
        counts = Counter(rows.workers)
        single = [i for i, w in enumerate(rows.workers) if counts[w] == 1 and not scalar]
        if single:
            self._fold_single(plan, rows, where, np.array(single, dtype=np.int64), stored)
        several: dict[str, list[int]] = defaultdict(list)
        for i, w in enumerate(rows.workers):
            if counts[w] > 1 or scalar:
                several[w].append(i)
        for w, idx in several.items():
            self._fold_scalar(plan, rows, where, w, idx, stored[w])
        plan.failures.sort(key=lambda f: f[0])
        return plan

    # ---- one fix per worker: arrays ------------------------------------------------------
    def _fold_single(
        self, plan: Plan, rows: Rows, where: np.ndarray, idx: np.ndarray, stored: dict
    ) -> None:
        s = self.s
        r = rows.take(idx)
        gi = where[idx]
        p = parse_states([stored[w] for w in r.workers])
        has = p.has
        dt = r.ts - p.ts
        with np.errstate(divide="ignore", invalid="ignore"):
            dist = haversine_many(p.lat, p.lon, r.lat, r.lon)
            dup, older = has & (dt == 0), has & (dt < 0)
            jump = has & (dt > 0) & (dist / dt > s.gps_max_speed_mps) & (dist > 100)
            accept = ~dup & ~older & ~jump
            derived = np.where(has, dist / np.maximum(dt, 1e-3), 0.0)
        speed = np.where(np.isnan(r.speed), derived, r.speed)
        status = np.where(
            self.canon[gi] != r.own, OUTSIDE, np.where(speed > s.moving_mps, PATROLLING, IDLE)
        )
        day, track_day, day_names = self._day_codes(r.ts, p.track_ts)
        thin = (
            ~has
            | (day != track_day)
            | (r.ts - p.track_ts >= s.gps_thin_s)
            | (haversine_many(p.track_lat, p.track_lon, r.lat, r.lon) >= s.gps_thin_m)
        )
        point = accept & thin
        t_ts = np.where(point, r.ts, p.track_ts)
        t_lat = np.where(point, r.lat, p.track_lat)
        t_lon = np.where(point, r.lon, p.track_lon)
        battery = np.where(np.isnan(r.battery), -1.0, r.battery)
        expected = [raw.partition(b"|")[0] if raw else b"" for raw in p.raw]
        a = np.flatnonzero(accept)
        al = a.tolist()
        grids = gi[a].tolist()
        st = status[a].tolist()
        lat = [b"%.6f" % x for x in r.lat[a].tolist()]  # formatted once: state and delta
        lon = [b"%.6f" % x for x in r.lon[a].tolist()]
        moved = point[a].tolist()
        t_lat = [x if m else b"%.6f" % y for x, m, y in zip(lat, moved, t_lat[a].tolist())]
        t_lon = [x if m else b"%.6f" % y for x, m, y in zip(lon, moved, t_lon[a].tolist())]
        base = len(plan.workers)
        plan.workers += [r.workers[i] for i in al]
        plan.expected += [expected[i] for i in al]
        plan.states += [
            _STATE % row
            for row in zip(
                [r.ids[i] for i in al], r.ts[a].tolist(), lat, lon,
                [self.codes_b[g] for g in grids], st, speed[a].tolist(), battery[a].tolist(),
                t_ts[a].tolist(), t_lat, t_lon, strict=True,
            )
        ]
        plan.accepted += [1] * len(al)
        plan.acks += [[r.ids[i]] for i in al]
        plan.d_pos += range(base, base + len(al))
        plan.d_lat += map(float, lat)  # float("%.6f" % x) == round(x, 6), and cheaper
        plan.d_lon += map(float, lon)
        plan.d_st += st
        plan.d_grid += [self.codes[g] for g in grids]
        plan.d_ts += np.floor(r.ts[a]).astype(np.int64).tolist()
        pt = np.flatnonzero(point)
        self._points(plan, r.ts[pt], r.lat[pt], r.lon[pt], np.searchsorted(a, pt) + base,
                     [day_names[d] for d in day[pt].tolist()])
        rows_of = rows.at[idx].tolist()
        for i in np.flatnonzero(dup | older | jump).tolist():
            if dup[i]:
                reason = "duplicate fix"
            elif older[i]:
                reason = "out of order: older than last fix"
            else:
                reason = f"impossible jump: {dist[i]:.0f} m in {dt[i]:.0f} s"
            plan.failures.append((rows_of[i], r.workers[i], Failure(r.ids[i], reason)))

    @staticmethod
    def _points(
        plan: Plan, ts: np.ndarray, lat: np.ndarray, lon: np.ndarray, pos: np.ndarray,
        days: list[str],
    ) -> None:
        """Add one packed track record per point to the plan (pos: the workers' positions)."""
        rec = np.empty(ts.size, dtype=_RECORD)
        rec["t"] = ts.astype(np.uint32)
        rec["la"] = np.round(lat * 1e6)
        rec["lo"] = np.round(lon * 1e6)
        blob = rec.tobytes()
        size = _RECORD.itemsize
        plan.tracks += zip(
            pos.tolist(), days, [blob[j : j + size] for j in range(0, len(blob), size)], strict=True
        )

    def _day_codes(
        self, ts: np.ndarray, track_ts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Return day numbers of two arrays of times and the local day (YYYYMMDD) of each."""
        quarters = np.floor_divide(np.concatenate([ts, track_ts]), 900).astype(np.int64)
        uniq, inv = np.unique(quarters, return_inverse=True)
        names = [self.days.day(q * 900.0) for q in uniq.tolist()]
        code = {n: k for k, n in enumerate(dict.fromkeys(names))}
        per = np.array([code[n] for n in names], dtype=np.int64)[inv.reshape(-1)]
        return per[: ts.size], per[ts.size :], list(code)

    # ---- several fixes of one worker: scalar, in entry order ----------------------------
    def _fold_scalar(
        self, plan: Plan, rows: Rows, where: np.ndarray, worker: str, idx: list[int],
        raw: bytes | None,
    ) -> None:
        pend = _Pending(WorkerState.unpack(raw) if raw else None)
        acks: list[bytes] = []
        for i in idx:
            gi = int(where[i])
            eid = rows.ids[i].decode() if isinstance(rows.ids[i], bytes) else rows.ids[i]
            speed, battery = float(rows.speed[i]), float(rows.battery[i])
            fix = Fix(worker, float(rows.ts[i]), float(rows.lat[i]), float(rows.lon[i]),
                      None if math.isnan(speed) else speed, None, None, None,
                      None if math.isnan(battery) else battery)
            reason = self._step(pend, eid, fix, self.codes[gi])
            if reason:
                plan.failures.append((int(rows.at[i]), worker, Failure(eid.encode(), reason)))
            else:
                acks.append(eid.encode())
        if pend.state is None:
            return
        st = pend.state
        before = pend.before.entry_id.encode() if pend.before else b""
        k = plan.add(worker, before, st.pack().encode(), acks)
        plan.tracks += [(k, day, bytes(blob)) for day, blob in pend.points.items()]
        if pend.accepted:
            plan.d_pos.append(k)
            plan.d_lat.append(round(st.lat, 6))
            plan.d_lon.append(round(st.lon, 6))
            plan.d_st.append(st.status)
            plan.d_grid.append(st.grid)
            plan.d_ts.append(math.floor(st.ts))

    def _step(self, pend: _Pending, eid: str, fix: Fix, grid: str) -> str | None:
        """Fold one fix into the pending state; return a reject reason or None."""
        prev = pend.state or pend.before
        if prev is None:
            return self._accept(pend, eid, fix, grid, None)
        if fix.ts <= prev.ts:
            return "duplicate fix" if fix.ts == prev.ts else "out of order: older than last fix"
        dist = haversine_m(prev.lat, prev.lon, fix.lat, fix.lon)
        if dist / (fix.ts - prev.ts) > self.s.gps_max_speed_mps and dist > 100:
            return f"impossible jump: {dist:.0f} m in {fix.ts - prev.ts:.0f} s"
        return self._accept(pend, eid, fix, grid, prev)

    def _accept(
        self, pend: _Pending, eid: str, fix: Fix, grid: str, prev: WorkerState | None
    ) -> None:
        speed = fix.speed
        if speed is None:
            speed = (
                0.0
                if prev is None
                else haversine_m(prev.lat, prev.lon, fix.lat, fix.lon) / max(fix.ts - prev.ts, 1e-3)
            )
        own = self.district.worker(fix.worker).grid
        status = OUTSIDE if grid != own else PATROLLING if speed > self.s.moving_mps else IDLE
        day = self.days.day(fix.ts)
        t_ts, t_lat, t_lon = (prev.track_ts, prev.track_lat, prev.track_lon) if prev else (0, 0, 0)
        new_day = prev is None or self.days.day(prev.track_ts) != day
        if (
            new_day
            or fix.ts - t_ts >= self.s.gps_thin_s
            or haversine_m(t_lat, t_lon, fix.lat, fix.lon) >= self.s.gps_thin_m
        ):
            pend.points[day] += pack_point(fix.ts, fix.lat, fix.lon)
            t_ts, t_lat, t_lon = fix.ts, fix.lat, fix.lon
        pend.state = WorkerState(
            eid, fix.ts, fix.lat, fix.lon, grid, status, speed,
            -1.0 if fix.battery is None else fix.battery, t_ts, t_lat, t_lon,
        )
        pend.accepted += 1
        return None
