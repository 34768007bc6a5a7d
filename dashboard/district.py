"""Load and validate a district folder (district.json, streets, stations, grids, workers, units)."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import shapely
from shapely.geometry import Polygon

from dashboard.models import Department, District, Grid, Station, Street, Worker

GRID_PROPERTIES = ("code", "name", "street", "station", "households")
DEPARTMENT_KINDS = ("department", "street")
PHONE = re.compile(r"\+?\d{7,15}")


class DistrictError(ValueError):
    """A district file is malformed; the message names the file, where in it, and why."""


def _fail(path: Path, where: str, reason: str) -> NoReturn:
    """Raise a DistrictError for one place in one file."""
    raise DistrictError(f"{path}: {where}: {reason}")


def _read_text(path: Path) -> str:
    """Return a file's UTF-8 text, failing with DistrictError if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")  # tolerate the BOM spreadsheets write
    except (OSError, UnicodeDecodeError) as exc:
        _fail(path, "file", f"cannot read: {exc}")


def _read_json(path: Path) -> Any:
    """Return a file's parsed JSON, failing with DistrictError on a syntax error."""
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        _fail(path, f"line {exc.lineno}", f"invalid JSON: {exc.msg}")


def _rows(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield (where, row) per CSV row: required fields non-empty, absent optional ones ""."""
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        _fail(path, "line 1", f"missing column(s) {', '.join(missing)}")
    for row in reader:
        where = f"line {reader.line_num}"
        if None in row or None in row.values():
            _fail(path, where, f"expected {len(reader.fieldnames)} fields")
        for column in required:
            if not row[column].strip():
                _fail(path, where, f"empty {column}")
        yield where, {c: "" for c in optional} | {k: v.strip() for k, v in row.items()}


def _unique(path: Path, where: str, code: str, seen: dict) -> None:
    """Fail if `code` is already a key of `seen`."""
    if code in seen:
        _fail(path, where, f"duplicate code {code!r}")


def _load_meta(path: Path) -> dict:
    """Return district.json's code, name, name_en and (lat, lon) centre."""
    doc = _read_json(path)
    if not isinstance(doc, dict):
        _fail(path, "document", "expected a JSON object")
    for key in ("code", "name", "center"):
        if not doc.get(key):
            _fail(path, "document", f"missing property {key!r}")
    center = doc["center"]
    if not (isinstance(center, list) and len(center) == 2 and all(map(_is_number, center))):
        _fail(path, "center", "expected [lat, lon]")
    return {"code": str(doc["code"]), "name": str(doc["name"]),
            "name_en": str(doc.get("name_en", "")), "center": (float(center[0]), float(center[1]))}


def _load_streets(path: Path) -> dict[str, Street]:
    """Return the streets by code."""
    streets: dict[str, Street] = {}
    for where, row in _rows(path, ("code", "name"), ("name_en",)):
        _unique(path, where, row["code"], streets)
        streets[row["code"]] = Street(row["code"], row["name"], row["name_en"])
    return streets


def _load_stations(path: Path, streets: dict[str, Street]) -> dict[str, Station]:
    """Return the grid stations by code, each of a known street."""
    stations: dict[str, Station] = {}
    for where, row in _rows(path, ("code", "name", "street"), ("leader",)):
        _unique(path, where, row["code"], stations)
        if row["street"] not in streets:
            _fail(path, where, f"unknown street {row['street']!r}")
        stations[row["code"]] = Station(row["code"], row["name"], row["street"], row["leader"])
    return stations


def _is_number(x: object) -> bool:
    """Tell whether a JSON value is a finite number (not a bool)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _ring(path: Path, where: str, geometry: object) -> tuple[tuple[float, float], ...]:
    """Return a GeoJSON Polygon's exterior ring, closed, valid and counter-clockwise."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
        _fail(path, where, "geometry is not a Polygon")
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or len(rings) != 1 or not isinstance(rings[0], list):
        _fail(path, where, "polygon must have exactly one ring (no holes)")
    points = rings[0]
    for p in points:
        if not (isinstance(p, list) and len(p) >= 2 and _is_number(p[0]) and _is_number(p[1])):
            _fail(path, where, f"bad position {p!r}")
        if not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90):
            _fail(path, where, f"position {p!r} is not [lon, lat]")
    ring = tuple((float(p[0]), float(p[1])) for p in points)
    if len(ring) < 4:
        _fail(path, where, "polygon ring has fewer than 4 positions")
    if ring[0] != ring[-1]:
        _fail(path, where, "polygon ring is not closed")
    polygon = Polygon(ring)
    if not polygon.is_valid:
        _fail(path, where, f"invalid polygon: {shapely.is_valid_reason(polygon)}")
    return ring if polygon.exterior.is_ccw else ring[::-1]


def _grid(path: Path, where: str, feature: object, stations: dict[str, Station]) -> Grid:
    """Return one grid from a GeoJSON feature whose station and street are known."""
    props = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(props, dict):
        _fail(path, where, "feature has no properties object")
    for key in GRID_PROPERTIES:
        if props.get(key) in (None, ""):
            _fail(path, where, f"missing property {key!r}")
    where = f"{where} ({props['code']})"
    households = props["households"]
    if not (isinstance(households, int) and not isinstance(households, bool) and households >= 0):
        _fail(path, where, f"households must be a non-negative integer, got {households!r}")
    station = stations.get(props["station"])
    if station is None:
        _fail(path, where, f"unknown station {props['station']!r}")
    if station.street != props["street"]:
        _fail(path, where, f"station {station.code!r} is in street {station.street!r}, "
                           f"not {props['street']!r}")
    ring = _ring(path, where, feature.get("geometry"))
    return Grid(str(props["code"]), str(props["name"]), station.street, station.code,
                households, ring)


def _load_grids(path: Path, stations: dict[str, Station]) -> dict[str, Grid]:
    """Return the grids by code, in file order."""
    doc = _read_json(path)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        _fail(path, "document", "expected a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list):
        _fail(path, "document", "missing features list")
    grids: dict[str, Grid] = {}
    for i, feature in enumerate(features):
        grid = _grid(path, f"features[{i}]", feature, stations)
        _unique(path, f"features[{i}]", grid.code, grids)
        grids[grid.code] = grid
    return grids


def _load_workers(path: Path, grids: dict[str, Grid]) -> dict[str, Worker]:
    """Return the workers by id, each responsible for a known grid."""
    workers: dict[str, Worker] = {}
    for where, row in _rows(path, ("id", "name", "grid", "party_member", "phone")):
        _unique(path, where, row["id"], workers)
        if row["grid"] not in grids:
            _fail(path, where, f"worker for unknown grid {row['grid']!r}")
        if row["party_member"] not in ("0", "1"):
            _fail(path, where, f"party_member must be 0 or 1, got {row['party_member']!r}")
        if not PHONE.fullmatch(row["phone"]):
            _fail(path, where, f"phone must be 7–15 digits, got {row['phone']!r}")
        workers[row["id"]] = Worker(row["id"], row["name"], row["grid"],
                                    row["party_member"] == "1", row["phone"])
    return workers


def _load_departments(path: Path, streets: dict[str, Street]) -> dict[str, Department]:
    """Return the departments and street offices by code."""
    units: dict[str, Department] = {}
    for where, row in _rows(path, ("code", "name", "kind"), ("name_en", "street")):
        _unique(path, where, row["code"], units)
        if row["kind"] not in DEPARTMENT_KINDS:
            _fail(path, where, f"kind must be one of {DEPARTMENT_KINDS}, got {row['kind']!r}")
        if row["street"] and row["street"] not in streets:
            _fail(path, where, f"unknown street {row['street']!r}")
        units[row["code"]] = Department(row["code"], row["name"], row["kind"], row["name_en"],
                                        row["street"])
    return units


def load_district(path: str | Path) -> District:
    """Load a district folder, failing with DistrictError on the first malformed entry."""
    root = Path(path)
    meta = _load_meta(root / "district.json")
    streets = _load_streets(root / "streets.csv")
    stations = _load_stations(root / "stations.csv", streets)
    grids = _load_grids(root / "grids.geojson", stations)
    workers = _load_workers(root / "workers.csv", grids)
    units = _load_departments(root / "departments.csv", streets)
    return District(
        code=meta["code"], name=meta["name"], center=meta["center"],
        streets=tuple(streets.values()), stations=tuple(stations.values()),
        grids=tuple(grids.values()), workers=tuple(workers.values()),
        departments=tuple(units.values()), path=str(root), name_en=meta["name_en"],
    )
