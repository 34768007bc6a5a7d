"""The grid locator and the GeoJSON layers, on a tiny literal district."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from dashboard.geo import Locator, boundaries_geojson, grid_geojson, haversine_m
from dashboard.models import District, Grid, Place, Station, Street, Worker


def square(lon0: float, lat0: float, size: float = 0.5) -> tuple[tuple[float, float], ...]:
    """Return a closed counter-clockwise square ring with its south-west corner at lon0, lat0."""
    lon1, lat1 = lon0 + size, lat0 + size
    return ((lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1), (lon0, lat0))


#   39.5–40.0  | B-1-1 |   (empty)   <- inside the bounding box, in no grid
#   39.0–39.5  | A-1-1 | A-1-2 |
#              117.0   117.5   118.0
GRIDS = (
    Grid("A-1-1", "A 1", "a", "A-1", 300, square(117.0, 39.0)),
    Grid("A-1-2", "A 2", "a", "A-1", 400, square(117.5, 39.0)),
    Grid("B-1-1", "B 1", "b", "B-1", 500, square(117.0, 39.5)),
)


def tiny_district(grids: tuple[Grid, ...] = GRIDS) -> District:
    """Return a two-street district of three half-degree square grids."""
    return District(
        code="000000",
        name="测试区",
        center=(39.5, 117.5),
        streets=(Street("a", "甲街道", "A Street"), Street("b", "乙街道", "B Street")),
        stations=(Station("A-1", "甲一站", "a"), Station("B-1", "乙一站", "b")),
        grids=grids,
        workers=(Worker("W1", "王伟", "A-1-1", True, "13800000000"),),
        departments=(),
    )


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator(tiny_district())


def test_point_inside_a_grid_locates_to_its_grid_station_and_street(locator):
    assert locator.locate(117.25, 39.25) == Place("A-1-1", "A-1", "a")
    assert locator.locate(117.25, 39.75) == Place("B-1-1", "B-1", "b")


def test_point_on_a_shared_edge_goes_to_the_lower_grid_index(locator):
    assert locator.locate(117.5, 39.25).grid == "A-1-1"  # A-1-1 | A-1-2
    assert locator.locate(117.25, 39.5).grid == "A-1-1"  # A-1-1 / B-1-1


def test_shared_edge_rule_follows_grid_order_not_geometry():
    reversed_locator = Locator(tiny_district(GRIDS[::-1]))
    assert reversed_locator.locate(117.5, 39.25).grid == "A-1-2"


def test_point_on_a_vertex_shared_by_three_grids_goes_to_the_lowest_index(locator):
    assert locator.locate(117.5, 39.5).grid == "A-1-1"


def test_point_on_the_outer_border_is_inside(locator):
    assert locator.locate(117.0, 39.0).grid == "A-1-1"
    assert locator.locate(118.0, 39.25).grid == "A-1-2"


def test_point_outside_the_bounding_box_is_none(locator):
    assert locator.locate(116.9, 39.25) is None
    assert locator.locate(117.25, 40.01) is None


def test_point_inside_the_bounding_box_but_in_no_grid_is_none(locator):
    assert locator.locate(117.75, 39.75) is None


def test_nan_point_is_none(locator):
    assert locator.locate(float("nan"), 39.25) is None


def test_bounds_are_minlon_minlat_maxlon_maxlat(locator):
    assert locator.bounds == (117.0, 39.0, 118.0, 40.0)


def test_grid_index_is_the_position_in_district_grids(locator):
    assert [locator.grid_index(g.code) for g in GRIDS] == [0, 1, 2]


def test_grid_index_of_an_unknown_code_raises_key_error(locator):
    with pytest.raises(KeyError):
        locator.grid_index("nope")


def test_locate_many_matches_locate_for_random_and_border_points(locator):
    rng = np.random.default_rng(7)
    border_lons = np.repeat([117.0, 117.5, 118.0], 5)
    border_lats = np.tile([39.0, 39.25, 39.5, 39.75, 40.0], 3)
    lons = np.concatenate([rng.uniform(116.8, 118.2, 500), border_lons])
    lats = np.concatenate([rng.uniform(38.8, 40.2, 500), border_lats])
    indices = locator.locate_many(lons, lats)
    expected = [locator.grid_index(p.grid) if (p := locator.locate(x, y)) else -1
                for x, y in zip(lons, lats, strict=True)]
    assert indices.tolist() == expected
    assert indices.dtype == np.int64


def test_locate_many_of_no_points_is_empty(locator):
    assert locator.locate_many(np.array([]), np.array([])).shape == (0,)


def test_locate_many_returns_minus_one_outside(locator):
    assert locator.locate_many(np.array([0.0, 117.75]), np.array([0.0, 39.75])).tolist() == [-1, -1]


def test_one_degree_of_latitude_is_about_111_2_km():
    assert haversine_m(39.0, 117.0, 40.0, 117.0) == pytest.approx(111_195, abs=1)


def test_haversine_of_a_point_to_itself_is_zero():
    assert haversine_m(39.1, 117.3, 39.1, 117.3) == 0.0


def test_haversine_works_elementwise_on_arrays():
    d = haversine_m(np.array([0.0, 39.0]), np.array([0.0, 117.0]), np.array([0.0, 39.0]),
                    np.array([1.0, 118.0]))
    assert d[0] == pytest.approx(111_195, abs=1)  # one degree of longitude on the equator
    assert d[1] == pytest.approx(111_195 * np.cos(np.radians(39.0)), rel=1e-4)


def test_grid_geojson_has_one_feature_per_grid_with_its_worker_name():
    fc = grid_geojson(tiny_district())
    assert [f["properties"]["code"] for f in fc["features"]] == ["A-1-1", "A-1-2", "B-1-1"]
    assert fc["features"][0]["properties"] == {
        "code": "A-1-1", "name": "A 1", "street": "a", "station": "A-1", "households": 300,
        "worker": "王伟",
    }
    assert fc["features"][1]["properties"]["worker"] == ""
    assert fc["features"][0]["geometry"]["coordinates"][0][0] == [117.0, 39.0]


def test_street_boundaries_are_the_unions_of_their_grids():
    fc = boundaries_geojson(tiny_district(), "street")
    outlines = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"])
                for f in fc["features"]}
    assert outlines["a"].equals(shapely.box(117.0, 39.0, 118.0, 39.5))
    assert outlines["b"].equals(shapely.box(117.0, 39.5, 117.5, 40.0))
    assert fc["features"][0]["properties"] == {"code": "a", "name": "甲街道", "name_en": "A Street"}


def test_a_street_of_overlapping_grids_still_gets_their_whole_union_as_outline():
    overlapping = (Grid("A-1-1", "A 1", "a", "A-1", 300, square(117.0, 39.0)),
                   Grid("A-1-2", "A 2", "a", "A-1", 400, square(117.3, 39.0)),  # 0.2° overlap
                   GRIDS[2])
    fc = boundaries_geojson(tiny_district(overlapping), "street")
    outline = shapely.geometry.shape(fc["features"][0]["geometry"])
    assert outline.is_valid and outline.equals(shapely.box(117.0, 39.0, 117.8, 39.5))


def test_station_boundaries_carry_code_name_and_street():
    fc = boundaries_geojson(tiny_district(), "station")
    assert [f["properties"] for f in fc["features"]] == [
        {"code": "A-1", "name": "甲一站", "street": "a"},
        {"code": "B-1", "name": "乙一站", "street": "b"},
    ]


def test_boundary_outlines_are_counter_clockwise():
    fc = boundaries_geojson(tiny_district(), "street")
    for f in fc["features"]:
        assert shapely.geometry.shape(f["geometry"]).exterior.is_ccw


def test_boundaries_of_an_unknown_level_raise_value_error():
    with pytest.raises(ValueError, match="level"):
        boundaries_geojson(tiny_district(), "grid")
