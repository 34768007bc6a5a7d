"""The cell index answers like an exact test of every polygon, on literal and real grids."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from dashboard.config import ROOT
from dashboard.district import load_district
from dashboard.geo import grid_polygons
from dashboard.geo_cells import MIXED, NONE, CellIndex

DONGLI = ROOT / "data" / "districts" / "dongli"


def brute_force(polygons: np.ndarray, x: np.ndarray, y: np.ndarray) -> list[int]:
    """Return, per point, the lowest index of a polygon covering it (-1 none), testing all."""
    out = []
    for px, py in zip(x.tolist(), y.tolist(), strict=True):
        hits = np.flatnonzero(shapely.intersects_xy(polygons, px, py))
        out.append(int(hits.min()) if hits.size else -1)
    return out


def index_of(polygons: list[shapely.Polygon]) -> CellIndex:
    arr = np.array(polygons, dtype=object)
    return CellIndex(arr, tuple(shapely.total_bounds(arr).tolist()))


# A triangle and an L-shaped neighbour sharing its hypotenuse, with a hole beside them:
#   (0,2)        the L covers x 0..2, y 0..2 less the triangle (0,0)-(1,0)-(0,1)
TRIANGLE = shapely.Polygon([(0, 0), (1, 0), (0, 1)])
L_SHAPE = shapely.Polygon([(1, 0), (2, 0), (2, 2), (0, 2), (0, 1)])
FAR = shapely.box(3, 0, 4, 1)  # leaves x 2..3 empty inside the bounds


@pytest.fixture(scope="module")
def cells() -> CellIndex:
    return index_of([TRIANGLE, L_SHAPE, FAR])


def test_a_point_deep_inside_a_polygon_is_answered_without_an_exact_test(cells):
    cell = cells.cells_of(np.array([1.6]), np.array([1.6]))
    assert cells.cover[cell].tolist() == [1]
    assert cells.locate(np.array([1.6]), np.array([1.6])).tolist() == [1]


def test_a_point_on_a_shared_diagonal_edge_goes_to_the_lower_index(cells):
    assert cells.locate(np.array([0.5, 0.25]), np.array([0.5, 0.75])).tolist() == [0, 0]


def test_a_cell_on_an_edge_is_mixed_and_a_cell_in_the_gap_is_empty(cells):
    on_edge = cells.cells_of(np.array([0.5]), np.array([0.5]))
    in_gap = cells.cells_of(np.array([2.5]), np.array([0.5]))
    assert cells.cover[on_edge].tolist() == [MIXED]
    assert cells.cover[in_gap].tolist() == [NONE]
    assert cells.locate(np.array([2.5]), np.array([0.5])).tolist() == [-1]


def test_the_outer_border_belongs_to_its_polygon(cells):
    xs, ys = np.array([0.0, 2.0, 4.0, 3.0]), np.array([2.0, 2.0, 1.0, 0.0])
    assert cells.locate(xs, ys).tolist() == [1, 1, 2, 2]


def test_random_points_match_testing_every_polygon(cells):
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 4, 3000), rng.uniform(0, 2, 3000)
    assert cells.locate(x, y).tolist() == brute_force(cells.polygons, x, y)


def test_no_polygons_locate_nothing():
    cells = CellIndex(np.array([], dtype=object), (np.nan, np.nan, np.nan, np.nan))
    assert cells.locate(np.array([0.5]), np.array([0.5])).tolist() == [-1]


def test_dongli_vertices_edges_and_random_points_match_testing_every_polygon():
    district = load_district(DONGLI)
    polygons = grid_polygons(district)
    cells = CellIndex(polygons, tuple(shapely.total_bounds(polygons).tolist()))
    rings = [np.array(g.ring) for g in district.grids[:60]]
    vertices = np.concatenate(rings)
    midpoints = np.concatenate([(r[:-1] + r[1:]) / 2 for r in rings])
    rng = np.random.default_rng(5)
    minx, miny, maxx, maxy = shapely.total_bounds(polygons)
    pts = np.concatenate([vertices, midpoints,
                          np.column_stack([rng.uniform(minx, maxx, 4000),
                                           rng.uniform(miny, maxy, 4000)])])
    x, y = pts[:, 0], pts[:, 1]
    assert cells.locate(x, y).tolist() == brute_force(polygons, x, y)
    touched = cells.cover != NONE
    assert (cells.cover[touched] >= 0).mean() > 0.5  # most are answered from the array
