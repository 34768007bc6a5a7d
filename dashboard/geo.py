"""Geography of a district: the grid locator and GeoJSON basemap layers; pure, no Redis."""

from __future__ import annotations

import json
import threading
from collections import defaultdict

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Polygon

from dashboard.geo_cells import CellIndex
from dashboard.models import District, Place

EARTH_RADIUS_M = 6371008.8  # mean Earth radius (IUGG), metres
BOUNDARY_LEVELS = ("station", "street")
FloatArray = float | np.ndarray  # a scalar or an array of degrees / metres


class Locator:
    """Find the grid of a lon/lat point: bounding-box rejection, then an STRtree of polygons
    (one point) or a cell index (many points, dashboard/geo_cells.py).

    Borders belong to grids (a point is in a grid when the polygon covers it).  A point on
    a border shared by several grids, edge or vertex, resolves to the grid with the lowest
    index in ``district.grids`` (file order), so the answer is deterministic.
    """

    def __init__(self, district: District) -> None:
        """Index the district's grid polygons."""
        self.district = district
        self.polygons = grid_polygons(district)
        shapely.prepare(self.polygons)
        self.tree = STRtree(self.polygons)
        self.bounds: tuple[float, float, float, float] = tuple(
            float(v) for v in shapely.total_bounds(self.polygons)
        )
        self._cells: CellIndex | None = None  # built on first use: only consumers need it
        self._cells_lock = threading.Lock()
        self._index = {g.code: i for i, g in enumerate(district.grids)}
        self._places = [Place(g.code, g.station, g.street) for g in district.grids]

    def grid_index(self, code: str) -> int:
        """Return the index in district.grids of the grid with this code (KeyError if none)."""
        return self._index[code]

    def place(self, index: int) -> Place | None:
        """Return the Place of a grid index, None for -1."""
        return None if index < 0 else self._places[index]

    def locate_index(self, lon: float, lat: float) -> int:
        """Return the grid index of one point, -1 when it is outside every grid."""
        minx, miny, maxx, maxy = self.bounds
        if not (minx <= lon <= maxx and miny <= lat <= maxy):  # also rejects NaN
            return -1
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return int(hits.min()) if hits.size else -1

    def locate(self, lon: float, lat: float) -> Place | None:
        """Return the grid, station and street of one point, None outside the district."""
        return self.place(self.locate_index(lon, lat))

    def locate_many(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        """Return the grid index of each point (int64 array, -1 outside), like locate_index."""
        lons = np.asarray(lons, dtype=float)
        lats = np.asarray(lats, dtype=float)
        out = np.full(lons.shape, -1, dtype=np.int64)
        minx, miny, maxx, maxy = self.bounds
        inside = (lons >= minx) & (lons <= maxx) & (lats >= miny) & (lats <= maxy)
        todo = np.flatnonzero(inside)
        if todo.size == 0:
            return out
        out.flat[todo] = self.cells().locate(lons.flat[todo], lats.flat[todo])
        return out

    def cells(self) -> CellIndex:
        """Return the cell index of the grids, building it the first time."""
        if self._cells is None:
            with self._cells_lock:
                if self._cells is None:
                    self._cells = CellIndex(self.polygons, self.bounds)
        return self._cells


def haversine_m(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Return the great-circle distance in metres between points given in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.subtract(lon2, lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    d = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return float(d) if np.ndim(d) == 0 else d


def _feature(geometry: dict, properties: dict, fid: str) -> dict:
    """Return one GeoJSON Feature."""
    return {"type": "Feature", "id": fid, "properties": properties, "geometry": geometry}


def grid_geojson(district: District) -> dict:
    """Return the grids as a GeoJSON FeatureCollection with their worker's name."""
    features = []
    for g in district.grids:
        worker = district.worker_of_grid(g.code)
        props = {"code": g.code, "name": g.name, "street": g.street, "station": g.station,
                 "households": g.households, "worker": worker.name if worker else ""}
        geometry = {"type": "Polygon", "coordinates": [[list(p) for p in g.ring]]}
        features.append(_feature(geometry, props, g.code))
    return {"type": "FeatureCollection", "features": features}


def grid_polygons(district: District) -> np.ndarray:
    """Return every grid's polygon, in grid order, built in one vectorised call."""
    if not district.grids:
        return np.array([], dtype=object)
    coords = np.array([p for g in district.grids for p in g.ring], dtype=float)
    owner = np.repeat(np.arange(len(district.grids)), [len(g.ring) for g in district.grids])
    return shapely.polygons(shapely.linearrings(coords, indices=owner))


def _union(polys: list[Polygon]):  # noqa: ANN202 - a shapely geometry
    """Return the union of grids: the fast coverage union (grids neither overlap nor leave
    gaps), or the general union when the files' grids are not an exact coverage."""
    out = shapely.coverage_union_all(polys)
    return out if shapely.is_valid(out) else shapely.union_all(polys)


def boundaries_geojson(district: District, level: str) -> dict:
    """Return the outlines of stations or streets (unions of their grids) as GeoJSON."""
    if level not in BOUNDARY_LEVELS:
        raise ValueError(f"level must be one of {BOUNDARY_LEVELS}, got {level!r}")
    polys = grid_polygons(district)
    rings: dict[str, list[Polygon]] = defaultdict(list)
    for g, poly in zip(district.grids, polys, strict=True):
        rings[getattr(g, level)].append(poly)
    units = district.stations if level == "station" else district.streets
    features = []
    for unit in units:
        if unit.code not in rings:
            continue
        outline = shapely.orient_polygons(_union(rings[unit.code]))
        props = {"code": unit.code, "name": unit.name}
        props |= {"street": unit.street} if level == "station" else {"name_en": unit.name_en}
        features.append(_feature(json.loads(shapely.to_geojson(outline)), props, unit.code))
    return {"type": "FeatureCollection", "features": features}
