"""A uniform cell index over grid polygons: most points find their grid by arithmetic alone.

Each cell of a regular lon/lat lattice over the district's bounds knows either the one
polygon that covers it (and no other polygon touches it), or the few polygons that touch
it. A point in a covered cell is answered from an array; a point in another cell is tested
exactly against that cell's polygons only. It replaces building a shapely point per fix and
querying an STRtree, the largest cost of locating a batch.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

# A cell counts as covered only with this margin (degrees, ~0.1 mm) around it, so a point
# that rounding puts in the neighbouring cell is still inside the covering polygon.
MARGIN_DEG = 1e-9
CELLS_PER_GRID = 36  # cells in the area of a median grid (6 x 6): most lie inside one grid
MAX_CELLS = 1_000_000  # bounds the index's memory (~20 MB with its candidates) for a huge map
BUILD_CHUNK = 100_000  # cells whose boxes exist at once while building

NONE = -1  # no polygon touches the cell
MIXED = -2  # several polygons, or one that does not cover it: test exactly


class CellIndex:
    """Cells over `bounds` with, per cell, its covering polygon or its candidate polygons."""

    def __init__(self, polygons: np.ndarray, bounds: tuple[float, float, float, float]) -> None:
        """Index the polygons (shapely, prepared or not) lying within bounds."""
        self.polygons = polygons
        if not len(polygons):  # no grids (bounds are NaN): one empty cell
            bounds = (0.0, 0.0, 1.0, 1.0)
        self.minx, self.miny, maxx, maxy = bounds
        width, height = max(maxx - self.minx, 1e-12), max(maxy - self.miny, 1e-12)
        self.size = _cell_size(polygons, width, height)
        self.nx = max(1, math.ceil(width / self.size))
        self.ny = max(1, math.ceil(height / self.size))
        self.cover = np.full(self.nx * self.ny, NONE, dtype=np.int32)
        self.start = np.zeros(self.nx * self.ny + 1, dtype=np.int64)
        self.candidates = np.zeros(0, dtype=np.int32)
        if len(polygons):
            self._build()

    def _build(self) -> None:
        tree = shapely.STRtree(self.polygons)
        total = self.nx * self.ny
        count = np.zeros(total, dtype=np.int64)
        parts = []
        for lo in range(0, total, BUILD_CHUNK):  # boxes are built a chunk at a time: memory
            cells = np.arange(lo, min(lo + BUILD_CHUNK, total))
            x0 = self.minx + (cells % self.nx) * self.size - MARGIN_DEG
            y0 = self.miny + (cells // self.nx) * self.size - MARGIN_DEG
            span = self.size + 2 * MARGIN_DEG
            boxes = shapely.box(x0, y0, x0 + span, y0 + span)
            at, poly = tree.query(boxes, predicate="intersects")
            order = np.lexsort((poly, at))  # by cell, then polygon
            at, poly = at[order], poly[order]
            n = np.bincount(at, minlength=cells.size)
            count[cells] = n
            single = n[at] == 1
            whole = np.zeros(at.size, dtype=bool)
            whole[single] = shapely.covers(self.polygons[poly[single]], boxes[at[single]])
            self.cover[cells[n > 0]] = MIXED
            self.cover[cells[at[whole]]] = poly[whole]
            parts.append(poly.astype(np.int32))
        self.start[1:] = np.cumsum(count)
        self.candidates = np.concatenate(parts) if parts else self.candidates

    def cells_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the cell number of each point (points must lie within the bounds)."""
        ix = np.clip(((x - self.minx) / self.size).astype(np.int64), 0, self.nx - 1)
        iy = np.clip(((y - self.miny) / self.size).astype(np.int64), 0, self.ny - 1)
        return iy * self.nx + ix

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the lowest index of a polygon covering each point, -1 for none."""
        cell = self.cells_of(x, y)
        out = self.cover[cell].astype(np.int64)
        todo = np.flatnonzero(out == MIXED)
        out[out == MIXED] = NONE
        if todo.size == 0:
            return out
        first, last = self.start[cell[todo]], self.start[cell[todo] + 1]
        count = last - first
        src = np.repeat(np.arange(todo.size), count)
        offset = np.arange(src.size) - np.repeat(np.cumsum(count) - count, count)
        hit = self.candidates[np.repeat(first, count) + offset]
        exact = shapely.intersects_xy(self.polygons[hit], x[todo[src]], y[todo[src]])
        best = np.full(todo.size, len(self.polygons), dtype=np.int64)
        np.minimum.at(best, src[exact], hit[exact])  # a border point: the lowest index
        out[todo] = np.where(best < len(self.polygons), best, NONE)
        return out


def _cell_size(polygons: np.ndarray, width: float, height: float) -> float:
    """Return the cell side in degrees: CELLS_PER_GRID cells per median grid, within MAX_CELLS."""
    size = max(width, height)
    if len(polygons):
        area = float(np.median(shapely.area(polygons)))
        if area > 0:
            size = min(size, math.sqrt(area / CELLS_PER_GRID))
    return max(size, math.sqrt(width * height / MAX_CELLS))
