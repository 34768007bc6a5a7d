"""Map correction: supervisors redraw grid boundaries; validated, versioned, applied everywhere.

The district folder stays the base (version 0 of every grid); an edit changes one or more
grids of one street at once (moving a shared border moves both sides) and is accepted only
when every changed polygon is valid, overlaps no other grid, and the street's outline is
unchanged (no gap opened, nothing pushed outside the street).  Each changed grid gets a new
version in Redis with who, when and the edit; a notice on the `grids` channel makes every
process re-apply the overlay: the locator (in place, so consumers holding it see the new
polygons), the district model and the wall's cached basemap.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import secrets
import threading

import redis
import shapely
from shapely.geometry import Polygon

from dashboard.geo import EARTH_RADIUS_M, Locator
from dashboard.models import District

log = logging.getLogger("gridwall.grids")
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
TOLERANCE_M2 = 1.0  # square metres of overlap or gap below which rounding is forgiven
MIN_AREA_M2 = 100.0  # square metres: a smaller grid is a drawing slip
MAX_VERTICES = 500
Ring = list[list[float]]


class EditError(ValueError):
    """An edit was refused; `problems` lists why (each a dict with a `code`)."""

    def __init__(self, problems: list[dict]) -> None:
        super().__init__("; ".join(describe(p) for p in problems))
        self.problems = problems


def _m2(geom, lat: float) -> float:  # noqa: ANN001
    """Return the area of a lon/lat geometry in square metres (local equirectangular)."""
    return geom.area * M_PER_DEG * M_PER_DEG * math.cos(math.radians(lat))


def _finite(v: object) -> bool:
    """Tell whether v is a finite JSON number (an integer beyond any float is not)."""
    try:
        return isinstance(v, int | float) and math.isfinite(v)
    except OverflowError:
        return False


def _ring(raw: object) -> tuple[tuple[float, float], ...] | None:
    """Return a closed, counter-clockwise ring of finite lon/lat pairs, None if malformed."""
    if not isinstance(raw, list) or not 3 <= len(raw) <= MAX_VERTICES + 1:
        return None
    pts = []
    for p in raw:
        if not (isinstance(p, list | tuple) and len(p) >= 2):
            return None
        lon, lat = p[0], p[1]
        if not all(_finite(v) for v in (lon, lat)):
            return None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            return None
        pts.append((float(lon), float(lat)))
    if pts[0] != pts[-1]:
        pts.append(pts[0])
    if len(pts) < 4:
        return None
    ring = tuple(pts)
    return ring if Polygon(ring).exterior.is_ccw else ring[::-1]


def validate(district: District, changes: dict[str, object]) -> tuple[dict, list[dict]]:
    """Return (code -> clean ring, problems) of an edit against the district's current grids.

    Pure: no Redis.  No problems means the edit may be stored.
    """
    problems: list[dict] = []
    clean: dict[str, tuple] = {}
    if not changes:
        return {}, [{"code": "empty"}]
    for code, raw in changes.items():
        grid = district.grid(code)
        if grid is None:
            problems.append({"code": "unknown", "grid": code})
            continue
        ring = _ring(raw)
        if ring is None:
            problems.append({"code": "malformed", "grid": code})
            continue
        poly = Polygon(ring)
        if not poly.is_valid:
            problems.append({"code": "invalid", "grid": code,
                             "why": shapely.is_valid_reason(poly)})
            continue
        if _m2(poly, ring[0][1]) < MIN_AREA_M2:
            problems.append({"code": "tiny", "grid": code})
            continue
        clean[code] = ring
    if problems:
        return clean, problems
    streets = {district.grid(c).street for c in clean}
    if len(streets) > 1:
        return clean, [{"code": "streets"}]
    street = streets.pop()
    lat = next(iter(clean.values()))[0][1]
    before = {g.code: Polygon(g.ring) for g in district.grids if g.street == street}
    after = before | {c: Polygon(r) for c, r in clean.items()}
    others = [g for g in district.grids if g.street != street]
    outside = [(g.code, Polygon(g.ring)) for g in others]
    for code in clean:
        poly = after[code]
        for other, opoly in list(after.items()) + outside:
            if other == code or not poly.intersects(opoly):
                continue
            m2 = _m2(poly.intersection(opoly), lat)
            if m2 > TOLERANCE_M2 and not (other in clean and other < code):
                problems.append({"code": "overlap", "grid": code, "other": other,
                                 "m2": round(m2, 1)})
    old_outline = shapely.union_all(list(before.values()))
    new_outline = shapely.union_all(list(after.values()))
    gap = _m2(old_outline.difference(new_outline), lat)
    spill = _m2(new_outline.difference(old_outline), lat)
    if gap > TOLERANCE_M2:
        problems.append({"code": "gap", "m2": round(gap, 1)})
    if spill > TOLERANCE_M2:
        problems.append({"code": "outside", "m2": round(spill, 1)})
    return clean, problems


MESSAGES = {
    "empty": ("没有修改", "nothing changed"),
    "unknown": ("未知网格 {grid}", "unknown grid {grid}"),
    "malformed": ("网格 {grid} 的边界格式不正确", "grid {grid}: malformed boundary"),
    "invalid": ("网格 {grid} 边界自相交或无效（{why}）", "grid {grid}: invalid polygon ({why})"),
    "tiny": ("网格 {grid} 面积过小", "grid {grid} is too small"),
    "streets": ("一次只能修改同一街道内的网格", "one edit may change one street's grids only"),
    "overlap": ("网格 {grid} 与 {other} 重叠 {m2} 平方米",
                "grid {grid} overlaps {other} by {m2} m²"),
    "gap": ("修改后网格间出现 {m2} 平方米空隙", "the edit leaves a gap of {m2} m²"),
    "outside": ("修改后超出街道边界 {m2} 平方米", "the edit reaches {m2} m² outside the street"),
    "conflict": ("网格 {grid} 已被他人修改，请刷新后重试",
                 "grid {grid} was changed meanwhile: reload and retry"),
    "nothing_to_restore": ("网格 {grid} 没有可恢复的上一版本",
                           "grid {grid} has no earlier version"),
}


def describe(problem: dict, lang: str = "zh") -> str:
    """Return a problem as a sentence in a language."""
    zh, en = MESSAGES.get(problem.get("code", ""), ("{code}", "{code}"))
    return (en if lang == "en" else zh).format_map({"grid": "", "other": "", "m2": "",
                                                   "why": "", **problem})


# ---- storage ---------------------------------------------------------------------------------
def base(svc) -> District:  # noqa: ANN001
    """Return the district as loaded from its files (version 0 of every grid)."""
    return svc.extra.setdefault("grid_base", svc.district)


def current(svc) -> dict[str, dict]:  # noqa: ANN001
    """Return grid code -> its current stored version (grids never edited are absent)."""
    return {k.decode(): json.loads(v) for k, v in svc.r.hgetall(svc.keys.grid_current()).items()}


def history(svc, code: str) -> list[dict]:  # noqa: ANN001
    """Return every version of a grid's boundary, oldest (the file's, version 0) first."""
    g = base(svc).grid(code)
    if g is None:
        return []
    v0 = {"version": 0, "ring": [list(p) for p in g.ring], "by": "", "at": 0, "edit": "",
          "note": "file"}
    return [v0] + [json.loads(x) for x in svc.r.lrange(svc.keys.grid_versions(code), 0, -1)]


def save(svc, changes: dict[str, object], expected: dict[str, int], by: str,  # noqa: ANN001
         note: str = "") -> dict:
    """Validate and store an edit; raise EditError when invalid or when a grid moved on.

    `expected` holds the version of each changed grid the editor started from: a grid
    saved by someone else meanwhile is a conflict, never silently overwritten.
    """
    clean, problems = validate(svc.district, changes)
    if problems:
        raise EditError(problems)
    k = svc.keys
    edit = secrets.token_hex(6)
    now = svc.clock.now()
    with svc.r.pipeline(transaction=True) as pipe:  # a transaction on a cluster too
        try:
            pipe.watch(k.grid_current())
            stored = {c: json.loads(v) if v else None
                      for c, v in zip(clean, pipe.hmget(k.grid_current(), list(clean)))}
            versions = {c: (stored[c] or {}).get("version", 0) for c in clean}
            stale = [c for c in clean if versions[c] != int(expected.get(c, versions[c]))]
            if stale:
                raise EditError([{"code": "conflict", "grid": c} for c in stale])
            pipe.multi()
            for c, ring in clean.items():
                doc = {"version": versions[c] + 1, "ring": [list(p) for p in ring], "by": by,
                       "at": now, "edit": edit, "note": note, "grids": sorted(clean)}
                pipe.hset(k.grid_current(), c, json.dumps(doc))
                pipe.rpush(k.grid_versions(c), json.dumps(doc))
            pipe.execute()
        except redis.WatchError:
            raise EditError([{"code": "conflict", "grid": c} for c in clean]) from None
    svc.r.publish(k.channel("grids"), json.dumps({"edit": edit, "grids": sorted(clean),
                                                  "by": by, "at": now}))
    apply_overlay(svc)
    return {"edit": edit, "grids": sorted(clean), "at": now, "by": by}


def restore(svc, code: str, by: str) -> dict:  # noqa: ANN001
    """Undo the latest edit of a grid: every grid that edit changed gets its previous ring."""
    versions = history(svc, code)
    if len(versions) < 2:
        raise EditError([{"code": "nothing_to_restore", "grid": code}])
    last = versions[-1]
    changes, expected = {}, {}
    for c in last.get("grids") or [code]:
        hist = history(svc, c)
        idx = max(i for i, v in enumerate(hist) if v.get("edit") == last["edit"])
        changes[c] = hist[idx - 1]["ring"]
        expected[c] = hist[-1]["version"]
    return save(svc, changes, expected, by, note=f"restore:{last['edit']}")


# ---- applying the overlay ----------------------------------------------------------------------
def overlaid(district: District, stored: dict[str, dict]) -> District:
    """Return the district with stored versions replacing the files' rings (pure)."""
    if not stored:
        return district
    grids = tuple(dataclasses.replace(g, ring=tuple(tuple(p) for p in stored[g.code]["ring"]))
                  if g.code in stored else g for g in district.grids)
    fields = {f.name: getattr(district, f.name) for f in dataclasses.fields(district)
              if f.name != "_index"}
    return District(**(fields | {"grids": grids}))


def apply_overlay(svc) -> None:  # noqa: ANN001
    """Re-read the stored versions and rebuild the district, locator and cached basemaps."""
    try:
        stored = current(svc)
    except redis.RedisError as exc:
        log.warning("grid versions unavailable (%s): keeping the current boundaries", exc)
        return
    district = overlaid(base(svc), stored)
    if district is svc.district:
        return
    fresh = Locator(district)
    svc.locator.__dict__.update(fresh.__dict__)  # in place: consumers hold this object
    svc.district = district
    for key in ("wall_basemap", "wall_layers", "drill_geo"):
        svc.extra.pop(key, None)


def on_notice(svc, socketio, msg: dict) -> None:  # noqa: ANN001
    """Handle a `grids` notice in a web process: re-apply, then tell the walls to redraw."""
    from dashboard.push import WALL_ROOM

    apply_overlay(svc)
    socketio.emit("grids", msg, to=WALL_ROOM)


def start_watcher(svc, stop: threading.Event) -> threading.Thread:  # noqa: ANN001
    """Re-apply the overlay in a process without a relay (consumers) on every notice."""
    def loop() -> None:
        while not stop.is_set():
            try:
                ps = svc.r.pubsub(ignore_subscribe_messages=True)
                ps.subscribe(svc.keys.channel("grids"))
                apply_overlay(svc)  # after subscribing: no notice falls in between
                while not stop.is_set():
                    if ps.get_message(timeout=1.0):
                        apply_overlay(svc)
            except (redis.RedisError, OSError):
                stop.wait(2.0)

    t = threading.Thread(target=loop, name="grid-watcher", daemon=True)
    t.start()
    return t
