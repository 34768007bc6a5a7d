"""Patrol detection and grid coverage over GPS tracks; pure numpy/shapely, no Redis.

A *patrol* is a continuous walk inside the worker's own grid lasting at least
``min_minutes`` and visiting at least ``min_coverage`` of the grid's cells.  The walk is
continuous while fixes keep coming (no gap over ``max_gap_s``), the worker does not stand
still longer than ``pause_s`` and does not leave the grid longer than ``max_outside_s``
(short strays across a border road are part of the walk).  Standing still is judged over
``still_window_s``: moving less than ``still_radius_m`` in that time, which GPS noise of a
phone lying on a bench does not exceed and a walk always does.

Cells are squares of ``cell_m`` metres on a local lattice per grid (the cells whose centres
lie in the grid polygon): the same idea as H3 cells of resolution 11–12, but a point's cell
is two multiplications, so 30 million points are classified in well under a second.

Everything works on a *batch*: the tracks of many workers concatenated, sorted by worker
then time, so one set of vectorised operations serves 20,000 workers as well as one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import shapely
from shapely.geometry import Polygon

from dashboard.geo import EARTH_RADIUS_M

M_PER_DEG = EARTH_RADIUS_M * math.pi / 180


@dataclass(frozen=True)
class TrackRules:
    """What counts as a patrol, and the thresholds of the track anomalies."""

    min_minutes: float = 30.0  # minutes: a shorter walk is not a patrol (N)
    min_coverage: float = 0.35  # share 0–1 of the grid's cells a patrol visits (M)
    cell_m: float = 25.0  # metres: side of a coverage cell
    max_gap_s: float = 300.0  # seconds without a fix that end a walk
    max_outside_s: float = 180.0  # seconds outside the own grid that end a walk
    pause_s: float = 1200.0  # seconds standing still that end a walk
    still_window_s: float = 120.0  # seconds over which standing still is judged
    still_radius_m: float = 25.0  # metres moved at most in that window when standing still
    impossible_mps: float = 15.0  # m/s: faster between two fixes is an impossible track...
    impossible_min_m: float = 200.0  # metres: ...when the jump is at least this long
    still_alert_s: float = 600.0  # seconds standing still during a patrol: an anomaly
    outside_alert_s: float = 1800.0  # seconds outside the own grid in duty hours: an anomaly

    @classmethod
    def from_dict(cls, doc: dict) -> TrackRules:
        """Return rules from a mapping of field -> number (unknown keys raise ValueError)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - names)
        if unknown:
            raise ValueError(f"unknown patrol setting(s): {', '.join(unknown)}")
        return cls(**{k: float(v) for k, v in doc.items()})


class CellIndex:
    """The coverage cells of every grid: a local metric lattice and which cells lie inside."""

    def __init__(self, rings: list, cell_m: float = 25.0) -> None:
        """Index grids given as lon/lat rings (index = grid index in the district)."""
        n = len(rings)
        self.cell_m = cell_m
        self.polygons = np.array([Polygon(r) for r in rings], dtype=object)
        shapely.prepare(self.polygons)
        self.lon0, self.lat0, self.kx = np.zeros(n), np.zeros(n), np.zeros(n)
        self.nx, self.ny = np.zeros(n, np.int64), np.zeros(n, np.int64)
        self.offset, self.n_cells = np.zeros(n, np.int64), np.zeros(n, np.int64)
        masks, total = [], 0
        for i, poly in enumerate(self.polygons):
            minx, miny, maxx, maxy = poly.bounds
            self.lon0[i], self.lat0[i] = minx, miny
            self.kx[i] = M_PER_DEG * math.cos(math.radians((miny + maxy) / 2))
            nx = max(1, math.ceil((maxx - minx) * self.kx[i] / cell_m))
            ny = max(1, math.ceil((maxy - miny) * M_PER_DEG / cell_m))
            cx, cy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
            lon = minx + (cx.ravel() + 0.5) * cell_m / self.kx[i]
            lat = miny + (cy.ravel() + 0.5) * cell_m / M_PER_DEG
            inside = shapely.contains_xy(poly, lon, lat)
            if not inside.any():  # a sliver smaller than a cell: its centre cell counts
                inside[(nx // 2) * ny + ny // 2] = True
            self.nx[i], self.ny[i], self.offset[i] = nx, ny, total
            self.n_cells[i] = int(inside.sum())
            masks.append(inside)
            total += nx * ny
        self.mask = np.concatenate(masks) if masks else np.zeros(0, bool)
        self.total = total

    def cells(self, g: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Return the global cell of each point in grid g's lattice, -1 if not one of g's cells."""
        x = np.floor((lon - self.lon0[g]) * self.kx[g] / self.cell_m).astype(np.int64)
        y = np.floor((lat - self.lat0[g]) * M_PER_DEG / self.cell_m).astype(np.int64)
        ok = (x >= 0) & (y >= 0) & (x < self.nx[g]) & (y < self.ny[g])
        cell = np.where(ok, self.offset[g] + x * self.ny[g] + y, 0)
        ok &= self.mask[cell] if self.total else ok
        return np.where(ok, cell, -1)

    def inside(self, g: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Tell for each point whether it lies in grid g (border included)."""
        return shapely.intersects_xy(self.polygons[g], lon, lat)


@dataclass
class Batch:
    """Tracks of several workers: w (worker index) sorted, then t (Unix s) within a worker."""

    w: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray

    @classmethod
    def from_tracks(cls, tracks: list[np.ndarray]) -> Batch:
        """Return the batch of structured track arrays (fields t, lat, lon), one per worker."""
        sizes = np.array([len(a) for a in tracks], dtype=np.int64)
        w = np.repeat(np.arange(len(tracks), dtype=np.int64), sizes)
        if not len(tracks) or not sizes.sum():
            z = np.zeros(0)
            return cls(w, z.astype(np.int64), z, z)
        cat = np.concatenate([a for a in tracks if len(a)])
        return cls(w, cat["t"].astype(np.int64), cat["lat"].astype(float),
                   cat["lon"].astype(float))


TRACK_DTYPE = np.dtype([("t", "<u4"), ("lat", "<i4"), ("lon", "<i4")])


def unpack(raw: bytes | None) -> np.ndarray:
    """Return a packed 12-byte-record track as a structured array (t, lat, lon in degrees)."""
    raw = raw or b""
    rec = np.frombuffer(raw[: len(raw) // 12 * 12], dtype=TRACK_DTYPE)
    out = np.empty(len(rec), dtype=[("t", "<i8"), ("lat", "<f8"), ("lon", "<f8")])
    out["t"], out["lat"], out["lon"] = rec["t"], rec["lat"] / 1e6, rec["lon"] / 1e6
    return out


def from_points(points: list[tuple[float, float, float]]) -> np.ndarray:
    """Return a track array from (ts, lat, lon) tuples."""
    out = np.empty(len(points), dtype=[("t", "<i8"), ("lat", "<f8"), ("lon", "<f8")])
    for i, (t, la, lo) in enumerate(points):
        out[i] = (int(t), la, lo)
    return out


@dataclass
class Analysis:
    """What the tracks of a batch say, per worker and per patrol / anomaly stretch."""

    distance_m: np.ndarray  # per worker
    inside_s: np.ndarray  # seconds inside the own grid within the duty window
    online_s: np.ndarray  # seconds with fixes no further apart than offline_after, in duty
    coverage: np.ndarray  # share of the grid's cells visited during the day
    patrols: np.ndarray  # count per worker
    first_fix: np.ndarray  # Unix s of the first fix (0 = none)
    patrol_list: list  # (worker index, start, end, coverage)
    stills: list  # (worker index, start, end): standing still during a patrol
    outside: list  # (worker index, start, end): long outside the own grid in duty hours
    jumps: list  # (worker index, ts, metres, m/s): impossible jumps


def _runs(flags: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return start and end (inclusive) indexes of runs that begin where flags is True."""
    starts = np.flatnonzero(flags)
    ends = np.append(starts[1:], n) - 1
    return starts, ends


def analyse(cells: CellIndex, grid_of: np.ndarray, batch: Batch, rules: TrackRules,
            duty: tuple[float, float], offline_after_s: float) -> Analysis:
    """Analyse a batch: worker i's own grid is grid_of[i]; duty is the [start, end) window."""
    nw = len(grid_of)
    w, t, lat, lon = batch.w, batch.t, batch.lat, batch.lon
    n = len(t)
    if n == 0:
        z = np.zeros(nw)
        return Analysis(z, z.copy(), z.copy(), z.copy(), np.zeros(nw, np.int64),
                        z.copy(), [], [], [], [])
    g = grid_of[w]
    x = (lon - cells.lon0[g]) * cells.kx[g]
    y = (lat - cells.lat0[g]) * M_PER_DEG
    tf = t.astype(float)
    same = np.zeros(n, bool)
    same[1:] = w[1:] == w[:-1]
    dt = np.zeros(n)
    dt[1:] = np.diff(tf)
    dd = np.zeros(n)
    dd[1:] = np.hypot(np.diff(x), np.diff(y))
    dd[~same] = 0.0
    jump = same & (dd >= rules.impossible_min_m) & (dd > rules.impossible_mps * np.maximum(dt, 1))
    link = same & (dt <= rules.max_gap_s) & ~jump  # point i continues the stretch of i - 1
    inside = cells.inside(g, lon, lat)

    # per worker totals
    distance = np.bincount(w, dd * link, nw)
    a, b = duty
    seg0, seg1 = np.maximum(np.roll(tf, 1), a), np.minimum(tf, b)
    overlap = np.where(same, np.clip(seg1 - seg0, 0, None), 0.0)
    online = np.bincount(w, overlap * (same & (dt <= offline_after_s)), nw)
    inside_prev = np.roll(inside, 1)
    inside_s = np.bincount(w, overlap * (link & inside & inside_prev), nw)
    first = np.zeros(nw)
    starts_w = np.flatnonzero(~same)
    first[w[starts_w]] = tf[starts_w]

    # standing still: moved less than still_radius_m over the still window
    stretch = np.cumsum(~link)  # id of the link-connected stretch of each point
    s_first, s_last = _runs(~link, n)
    last_of = s_last[stretch - 1]
    key = stretch.astype(np.int64) * int(tf.max() - tf.min() + 2 * rules.still_window_s + 2) + (
        t - t.min())
    j = np.minimum(np.searchsorted(key, key + int(rules.still_window_s), "left"), last_of)
    span = tf[j] - tf
    known = span >= rules.still_window_s / 2
    raw_still = np.hypot(x[j] - x, y[j] - y) < rules.still_radius_m
    prev_known = np.maximum.accumulate(np.where(known, np.arange(n), -1))
    ok = (prev_known >= 0) & (stretch[np.maximum(prev_known, 0)] == stretch)
    still = np.where(ok, raw_still[np.maximum(prev_known, 0)], False)
    run_flag = ~link.copy()
    run_flag[1:] |= still[1:] != still[:-1]
    run_flag[0] = True
    r0, r1 = _runs(run_flag, n)
    run_end_t = tf[j[r1]]
    run_dur = run_end_t - tf[r0]
    run_id = np.cumsum(run_flag) - 1
    long_stop = still & (run_dur[run_id] >= rules.pause_s)

    # outside the own grid: runs of outside points; the stretch ends at re-entry
    out_flag = ~link.copy()
    out_flag[1:] |= inside[1:] != inside[:-1]
    out_flag[0] = True
    o0, o1 = _runs(out_flag, n)
    nxt = np.minimum(o1 + 1, n - 1)
    o_end = np.where((o1 + 1 < n) & link[nxt], tf[nxt], tf[o1])
    o_dur = o_end - tf[o0]
    out_id = np.cumsum(out_flag) - 1
    long_out = ~inside & (o_dur[out_id] > rules.max_outside_s)

    # walks: maximal runs of walkable points joined by links
    walkable = ~long_stop & ~long_out
    new_walk = walkable & ~(np.roll(walkable, 1) & link)
    new_walk[0] = walkable[0]
    walk_id = np.where(walkable, np.cumsum(new_walk) - 1, -1)
    n_walks = int(new_walk.sum())
    cell = cells.cells(g, lon, lat)
    patrol_list: list = []
    stills: list = []
    patrols = np.zeros(nw, np.int64)
    if n_walks:
        wi = np.flatnonzero(walkable)
        wid = walk_id[wi]
        w_start = np.full(n_walks, np.inf)
        w_end = np.full(n_walks, -np.inf)
        np.minimum.at(w_start, wid, tf[wi])
        np.maximum.at(w_end, wid, tf[wi])
        w_worker = np.zeros(n_walks, np.int64)
        w_worker[wid] = w[wi]
        sel = wi[(cell[wi] >= 0) & inside[wi]]
        pairs = np.unique(walk_id[sel].astype(np.int64) * (cells.total + 1) + cell[sel])
        visited = np.bincount(pairs // (cells.total + 1), minlength=n_walks)
        w_cov = visited / np.maximum(cells.n_cells[grid_of[w_worker]], 1)
        is_patrol = ((w_end - w_start) >= rules.min_minutes * 60) & (
            w_cov >= rules.min_coverage)
        patrols = np.bincount(w_worker[is_patrol], minlength=nw).astype(np.int64)
        for k in np.flatnonzero(is_patrol):
            patrol_list.append((int(w_worker[k]), float(w_start[k]), float(w_end[k]),
                                round(float(w_cov[k]), 3)))
        # standing still inside a patrol, not long enough to end it, and walking on after:
        # a stop at the live end of a track may still grow into the end of the walk
        mid = np.flatnonzero(still[r0] & (run_dur >= rules.still_alert_s) &
                             (run_dur < rules.pause_s) & walkable[r0] & (r1 + 1 < n))
        for k in mid:
            walk = walk_id[r0[k]]
            if walk >= 0 and is_patrol[walk] and walk_id[r1[k] + 1] == walk:
                stills.append((int(w[r0[k]]), float(tf[r0[k]]), float(run_end_t[k])))
    sel = (cell >= 0) & inside
    if len(np.unique(grid_of)) == nw:  # one worker per grid: a bitmap of visited cells
        seen = np.zeros(cells.total + 1, bool)
        seen[cell[sel]] = True
        per_grid = (np.add.reduceat(seen[:-1].astype(np.int64), cells.offset)
                    if cells.total else np.zeros(0, np.int64))
        visited_day = per_grid[grid_of]
    else:
        day_pairs = np.unique(w[sel].astype(np.int64) * (cells.total + 1) + cell[sel])
        visited_day = np.bincount(day_pairs // (cells.total + 1), minlength=nw)
    coverage = visited_day / np.maximum(cells.n_cells[grid_of], 1)

    outside = []
    for k in np.flatnonzero(~inside[o0] & (o_dur >= rules.outside_alert_s)):
        in_duty = min(o_end[k], b) - max(tf[o0[k]], a)
        if in_duty >= rules.outside_alert_s:
            outside.append((int(w[o0[k]]), float(tf[o0[k]]), float(o_end[k])))
    jumps = [(int(w[i]), float(tf[i]), round(float(dd[i])), round(float(dd[i] / max(dt[i], 1)), 1))
             for i in np.flatnonzero(jump)]
    return Analysis(distance, inside_s, online, coverage, patrols, first, patrol_list, stills,
                    outside, jumps)


def analyse_track(cells: CellIndex, grid: int, track: np.ndarray, rules: TrackRules,
                  duty: tuple[float, float], offline_after_s: float = 300.0) -> Analysis:
    """Analyse one worker's track (a structured array or (ts, lat, lon) tuples) in grid index."""
    if not isinstance(track, np.ndarray):
        track = from_points(track)
    return analyse(cells, np.array([grid]), Batch.from_tracks([track]), rules, duty,
                   offline_after_s)
