"""The shipped Dongli district data, and how the loader rejects malformed files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import shapely
from shapely.geometry import Polygon

from dashboard.district import DistrictError, load_district
from dashboard.geo import Locator
from dashboard.models import District

ROOT = Path(__file__).resolve().parent.parent
DONGLI = ROOT / "data" / "districts" / "dongli"


@pytest.fixture(scope="module")
def dongli() -> District:
    return load_district(DONGLI)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """Return a writable copy of the shipped district folder."""
    return Path(shutil.copytree(DONGLI, tmp_path / "dongli"))


def street_polygons(district: District, street: str) -> list[Polygon]:
    return [Polygon(g.ring) for g in district.grids if g.street == street]


def edit_feature(folder: Path, index: int, edit) -> None:
    """Apply `edit(feature)` to one feature of grids.geojson in place."""
    path = folder / "grids.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit(doc["features"][index])
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# ---- the shipped district ------------------------------------------------------------


def test_dongli_is_district_120110_with_a_centre_in_tianjin(dongli):
    assert (dongli.code, dongli.name, dongli.name_en) == ("120110", "东丽区", "Dongli District")
    lat, lon = dongli.center
    assert 39.0 < lat < 39.2 and 117.2 < lon < 117.5


def test_dongli_has_278_grids(dongli):
    assert len(dongli.grids) == 278


def test_wanxin_has_17_stations_and_170_grids(dongli):
    assert sum(s.street == "wanxin" for s in dongli.stations) == 17
    assert sum(g.street == "wanxin" for g in dongli.grids) == 170


def test_junliangcheng_has_12_stations_and_108_grids(dongli):
    assert sum(s.street == "junliangcheng" for s in dongli.stations) == 12
    assert sum(g.street == "junliangcheng" for g in dongli.grids) == 108


def test_every_station_has_a_leader(dongli):
    assert all(s.leader for s in dongli.stations)


def test_there_are_40_units_33_departments_and_7_street_offices(dongli):
    kinds = Counter(d.kind for d in dongli.departments)
    assert kinds == {"department": 33, "street": 7}


def test_street_offices_of_the_pilot_streets_name_their_street(dongli):
    offices = {d.code: d.street for d in dongli.departments if d.kind == "street"}
    assert offices["st-wanxin"] == "wanxin"
    assert offices["st-junliangcheng"] == "junliangcheng"
    assert sum(bool(s) for s in offices.values()) == 2


def test_households_are_between_300_and_500(dongli):
    assert all(300 <= g.households <= 500 for g in dongli.grids)


def test_every_grid_has_exactly_one_worker(dongli):
    assert Counter(w.grid for w in dongli.workers) == Counter(g.code for g in dongli.grids)


def test_worker_names_and_phones_are_unique(dongli):
    assert len({w.name for w in dongli.workers}) == len(dongli.workers)
    assert len({w.phone for w in dongli.workers}) == len(dongli.workers)


def test_worker_phones_are_11_digit_mobiles(dongli):
    for w in dongli.workers:
        assert len(w.phone) == 11 and w.phone.isdigit() and w.phone[:2] in ("13", "15", "18")


def test_about_a_fifth_of_workers_are_party_members(dongli):
    share = sum(w.party_member for w in dongli.workers) / len(dongli.workers)
    assert 0.15 <= share <= 0.25


@pytest.mark.parametrize("street", ["wanxin", "junliangcheng"])
def test_grids_of_a_street_do_not_overlap(dongli, street):
    polygons = street_polygons(dongli, street)
    tree = shapely.STRtree(polygons)
    pairs = tree.query(polygons, predicate="intersects")
    overlap = sum(polygons[a].intersection(polygons[b]).area for a, b in pairs.T if a < b)
    assert overlap <= 1e-9 * sum(p.area for p in polygons)


@pytest.mark.parametrize("street", ["wanxin", "junliangcheng"])
def test_grids_of_a_street_cover_it_without_gaps(dongli, street):
    polygons = street_polygons(dongli, street)
    union = shapely.union_all(polygons)
    assert union.geom_type == "Polygon" and not union.interiors
    assert union.area == pytest.approx(sum(p.area for p in polygons), rel=1e-9)


def test_streets_do_not_overlap(dongli):
    wanxin = shapely.union_all(street_polygons(dongli, "wanxin"))
    junliangcheng = shapely.union_all(street_polygons(dongli, "junliangcheng"))
    assert not wanxin.intersects(junliangcheng)


def test_grids_are_about_250_to_400_m_across(dongli):
    for g in dongli.grids:
        area_m2 = Polygon(g.ring).area * 111_195**2 * 0.776  # cos(39.1°) for longitude
        assert 200**2 < area_m2 < 450**2, g.code


def test_grid_rings_are_closed_counter_clockwise_and_rounded_to_6_decimals():
    doc = json.loads((DONGLI / "grids.geojson").read_text(encoding="utf-8"))
    for feature in doc["features"]:
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1]
        assert Polygon(ring).exterior.is_ccw
        assert all(round(v, 6) == v for p in ring for v in p)


def test_every_worker_locates_into_their_own_grid(dongli):
    locator = Locator(dongli)
    for w in dongli.workers:
        point = Polygon(dongli.grid(w.grid).ring).representative_point()
        assert locator.locate(point.x, point.y).grid == w.grid


def test_generator_reproduces_the_shipped_files(tmp_path):
    script = ROOT / "scripts" / "gen_district.py"
    # residents.parquet (300k residents, minutes) is left out here; tests/test_service_rules
    # and the people generator own it.  The rest is generated and must match byte for byte.
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path), "--skip", "people"],
                   check=True, capture_output=True)
    hand_written = {"assessment.json", "points_rules.csv", "service_rules.json"}  # policies
    for path in sorted(DONGLI.iterdir()):
        if path.name not in hand_written and path.name != "residents.parquet":
            assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_clockwise_ring_is_accepted_and_turned_counter_clockwise(copy):
    edit_feature(copy, 0, lambda f: f["geometry"]["coordinates"][0].reverse())
    grid = load_district(copy).grids[0]
    assert Polygon(grid.ring).exterior.is_ccw
    assert set(grid.ring) == set(load_district(DONGLI).grids[0].ring)


# ---- malformed files -----------------------------------------------------------------


def test_a_grid_missing_a_property_names_file_feature_and_property(copy):
    edit_feature(copy, 5, lambda f: f["properties"].pop("station"))
    with pytest.raises(DistrictError, match=r"grids\.geojson: features\[5\]: missing property "
                                            r"'station'"):
        load_district(copy)


def test_a_grid_of_an_unknown_station_fails(copy):
    edit_feature(copy, 7, lambda f: f["properties"].update(station="WX-99"))
    with pytest.raises(DistrictError, match=r"grids\.geojson: features\[7\] \(WX-01-08\): "
                                            r"unknown station 'WX-99'"):
        load_district(copy)


def test_a_grid_whose_station_is_in_another_street_fails(copy):
    edit_feature(copy, 0, lambda f: f["properties"].update(street="junliangcheng"))
    with pytest.raises(DistrictError, match=r"features\[0\] \(WX-01-01\): station 'WX-01' is in"):
        load_district(copy)


def test_an_unclosed_polygon_fails(copy):
    edit_feature(copy, 3, lambda f: f["geometry"]["coordinates"][0].pop())
    with pytest.raises(DistrictError, match=r"grids\.geojson: features\[3\] .*not closed"):
        load_district(copy)


def test_a_self_intersecting_polygon_fails(copy):
    bowtie = [[117.0, 39.0], [117.01, 39.01], [117.01, 39.0], [117.0, 39.01], [117.0, 39.0]]
    edit_feature(copy, 4, lambda f: f["geometry"].update(coordinates=[bowtie]))
    with pytest.raises(DistrictError, match=r"grids\.geojson: features\[4\] .*invalid polygon"):
        load_district(copy)


def test_swapped_lat_lon_positions_fail(copy):
    edit_feature(copy, 2, lambda f: f["geometry"].update(
        coordinates=[[[lat, lon] for lon, lat in f["geometry"]["coordinates"][0]]]))
    with pytest.raises(DistrictError, match=r"features\[2\] .*is not \[lon, lat\]"):
        load_district(copy)


@pytest.mark.parametrize("households", ["many", 350.5, True, -1])
def test_households_that_are_not_a_non_negative_int_fail(copy, households):
    edit_feature(copy, 9, lambda f: f["properties"].update(households=households))
    with pytest.raises(DistrictError, match=r"grids\.geojson: features\[9\] .*households"):
        load_district(copy)


def test_a_duplicate_grid_code_fails(copy):
    edit_feature(copy, 1, lambda f: f["properties"].update(code="WX-01-01"))
    with pytest.raises(DistrictError, match=r"features\[1\]: duplicate code 'WX-01-01'"):
        load_district(copy)


def test_a_station_of_an_unknown_street_fails(copy):
    replace_in(copy / "stations.csv", "WX-03,詹庄子网格站,wanxin", "WX-03,詹庄子网格站,nowhere")
    with pytest.raises(DistrictError, match=r"stations\.csv: line 4: unknown street 'nowhere'"):
        load_district(copy)


def test_a_worker_for_an_unknown_grid_fails(copy):
    replace_in(copy / "workers.csv", ",WX-01-02,", ",WX-77-02,")
    with pytest.raises(DistrictError, match=r"workers\.csv: line 3: worker for unknown grid"):
        load_district(copy)


def test_a_street_office_of_an_unknown_street_fails(copy):
    replace_in(copy / "departments.csv", "street,wanxin", "street,atlantis")
    with pytest.raises(DistrictError, match=r"departments\.csv: line \d+: unknown street"):
        load_district(copy)


def test_a_csv_missing_a_column_fails(copy):
    replace_in(copy / "streets.csv", "code,name,name_en", "id,name,name_en")
    with pytest.raises(DistrictError, match=r"streets\.csv: line 1: missing column\(s\) code"):
        load_district(copy)


def test_a_missing_file_fails_naming_it(copy):
    (copy / "workers.csv").unlink()
    with pytest.raises(DistrictError, match=r"workers\.csv: file: cannot read"):
        load_district(copy)


def test_invalid_json_fails_with_its_line(copy):
    (copy / "district.json").write_text('{"code": "120110",\n oops}', encoding="utf-8")
    with pytest.raises(DistrictError, match=r"district\.json: line 2: invalid JSON"):
        load_district(copy)


def test_district_error_is_a_value_error():
    assert issubclass(DistrictError, ValueError)
