"""The patrol item catalog: the shipped file is complete, a malformed one fails clearly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dashboard.catalog import CATEGORIES, CatalogError, Limit, load_catalog, parse_limit
from dashboard.district import load_district

DONGLI = Path(__file__).resolve().parent.parent / "data" / "districts" / "dongli"
HEADER = "code,name,name_en,category,specialty,department,urgency,urgent,normal,routine\n"


@pytest.fixture(scope="module")
def district():
    return load_district(DONGLI)


def test_the_shipped_catalog_has_140_items_in_the_five_categories(district):
    cat = load_catalog(DONGLI / "patrol_items.csv", district)
    assert len(cat) >= 140
    assert {i.category for i in cat.items} == set(CATEGORIES)
    assert cat.item("CG043").name == "机动车违停人行道"
    assert cat.item("CG043").department == "jiaojing"
    assert cat.item("MD001").department == "@street"
    assert cat.item("AQ001").limit("urgent") == Limit(1, "h")


def test_time_limits_are_hours_days_or_working_days():
    assert parse_limit("2h") == Limit(2, "h")
    assert parse_limit("3wd") == Limit(3, "wd")
    assert parse_limit("1d") == Limit(1, "d")
    assert parse_limit("0h") is parse_limit("2 weeks") is parse_limit("") is None


def _catalog(tmp_path, district, rows: str) -> Path:
    path = tmp_path / "patrol_items.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


@pytest.mark.parametrize("row,reason", [
    ("X1,垃圾,,city,市容,nobody,normal,2h,24h,3wd", "line 2: unknown department 'nobody'"),
    ("X1,垃圾,,weather,市容,chengguan,normal,2h,24h,3wd", "line 2: category must be one of"),
    ("X1,垃圾,,city,市容,chengguan,soon,2h,24h,3wd", "line 2: urgency must be one of"),
    ("X1,垃圾,,city,市容,chengguan,normal,2h,a day,3wd", "normal time limit must be like"),
    ("X 1,垃圾,,city,市容,chengguan,normal,2h,24h,3wd", "code 'X 1' must be"),
    ("X1,,,city,市容,chengguan,normal,2h,24h,3wd", "line 2: empty name"),
    ("X1,垃圾,,city,市容,chengguan,normal,2h,24h", "line 2: expected 10 fields"),
])
def test_a_malformed_row_fails_naming_file_line_and_reason(tmp_path, district, row, reason):
    path = _catalog(tmp_path, district, row + "\n")
    with pytest.raises(CatalogError, match=reason):
        load_catalog(path, district)


def test_a_duplicate_code_fails(tmp_path, district):
    row = "X1,垃圾,,city,市容,chengguan,normal,2h,24h,3wd\n"
    with pytest.raises(CatalogError, match="line 3: duplicate code 'X1'"):
        load_catalog(_catalog(tmp_path, district, row + row), district)


def test_a_missing_catalog_fails_at_start_up(tmp_path, settings):
    folder = tmp_path / "district"
    shutil.copytree(DONGLI, folder)
    (folder / "patrol_items.csv").unlink()
    from app import create_app

    with pytest.raises(CatalogError, match="patrol_items.csv: file: missing"):
        create_app(settings.__class__(**{**settings.__dict__, "district": str(folder)}),
                   start_relay=False)
