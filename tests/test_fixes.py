"""Parsing fixes at the edge: OsmAnd, Traccar Client JSON, batch items and stream fields."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.fixes import (
    InvalidInput,
    fix_from_fields,
    fix_to_fields,
    pack_fix,
    packed_position,
    parse_osmand,
    parse_position,
    parse_timestamp,
    parse_traccar_json,
)


def test_osmand_query_gives_a_fix_with_speed_converted_from_knots():
    fix = parse_osmand(
        {
            "id": "W0001",
            "lat": "39.1",
            "lon": "117.3",
            "timestamp": "1780000000",
            "speed": "2",
            "bearing": "90",
            "altitude": "5",
            "accuracy": "4",
            "batt": "76",
        }
    )
    assert (fix.worker, fix.lat, fix.lon, fix.ts) == ("W0001", 39.1, 117.3, 1780000000.0)
    assert fix.speed == pytest.approx(1.0289, abs=1e-3)
    assert fix.battery == 76.0 and fix.accuracy == 4.0


def test_osmand_accepts_deviceid_and_iso_timestamps():
    fix = parse_osmand(
        {"deviceid": "W2", "lat": "39", "lon": "117", "timestamp": "2026-05-28T20:26:40Z"}
    )
    assert fix.worker == "W2" and fix.ts == 1780000000.0


def test_milliseconds_timestamps_are_understood():
    assert parse_timestamp("1780000000000") == 1780000000.0


def test_iso_timestamps_with_an_offset_are_understood():
    assert parse_timestamp("2026-05-29T04:26:40+08:00") == 1780000000.0


def test_traccar_client_json_gives_a_fix_with_battery_in_percent():
    fix = parse_traccar_json(
        {
            "device_id": "W0003",
            "location": {
                "timestamp": "2026-05-28T20:26:40.000Z",
                "coords": {
                    "latitude": 39.12,
                    "longitude": 117.28,
                    "accuracy": 5,
                    "speed": 1.2,
                    "heading": 180,
                    "altitude": 3,
                },
                "battery": {"level": 0.55},
            },
        }
    )
    assert fix.worker == "W0003" and fix.speed == 1.2 and fix.battery == pytest.approx(55.0)


@pytest.mark.parametrize(
    "params,reason",
    [
        ({"lat": "39", "lon": "117", "timestamp": "1"}, "device id"),
        ({"id": "W1", "lon": "117", "timestamp": "1"}, "missing lat"),
        ({"id": "W1", "lat": "91", "lon": "117", "timestamp": "1"}, "out of range"),
        ({"id": "W1", "lat": "nan", "lon": "117", "timestamp": "1"}, "not finite"),
        ({"id": "W1", "lat": "inf", "lon": "117", "timestamp": "1"}, "not finite"),
        ({"id": "W1", "lat": "0", "lon": "0", "timestamp": "1"}, "0,0"),
        ({"id": "W1", "lat": "abc", "lon": "117", "timestamp": "1"}, "not a number"),
        ({"id": "W1", "lat": "39", "lon": "117"}, "missing timestamp"),
        ({"id": "W1", "lat": "39", "lon": "117", "timestamp": "yesterday"}, "ISO 8601"),
        ({"id": "x" * 65, "lat": "39", "lon": "117", "timestamp": "1"}, "1–64"),
    ],
)
def test_malformed_osmand_input_is_refused_with_its_reason(params, reason):
    with pytest.raises(InvalidInput, match=reason):
        parse_osmand(params)


def test_traccar_json_without_coords_is_refused():
    with pytest.raises(InvalidInput, match="coords"):
        parse_traccar_json({"device_id": "W1", "location": {}})


def test_batch_items_must_be_objects():
    with pytest.raises(InvalidInput, match="object"):
        parse_position(["W1", 39, 117])


def test_stream_fields_round_trip():
    fix = parse_position(
        {
            "id": "W9",
            "timestamp": 1780000000.5,
            "lat": 39.1234567,
            "lon": 117.7654321,
            "speed": 1.5,
            "batt": 80,
        }
    )
    fields = {k.encode(): v.encode() for k, v in fix_to_fields(fix).items()}
    back = fix_from_fields(fields)
    assert back == fix


def test_a_fix_travels_as_one_packed_field_and_the_worker_id_may_hold_a_bar():
    fix = parse_position({"id": "W|9", "timestamp": 1780000000, "lat": 39.1, "lon": 117.2})
    fields = fix_to_fields(fix)
    assert list(fields) == ["f"]
    assert fix_from_fields({b"f": fields["f"].encode()}) == fix


def test_a_packed_field_with_too_few_parts_is_named_malformed():
    with pytest.raises(InvalidInput, match="^malformed: packed fix has 3 of 9 parts"):
        fix_from_fields({b"f": b"1780000000|39.1|117.2"})


def test_a_malformed_stream_entry_is_named_malformed():
    with pytest.raises(InvalidInput, match="^malformed: missing lat"):
        fix_from_fields({b"w": b"W1", b"t": b"1780000000", b"lo": b"117"})
    with pytest.raises(InvalidInput, match="not UTF-8"):
        fix_from_fields({b"w": b"\xff\xfe", b"t": b"1"})
    assert math.isfinite(fix_from_fields({b"w": b"W", b"t": b"1", b"la": b"1", b"lo": b"2"}).lat)


# ---- the batch API's fast path: the same answer as parse_position, or none ---------------------
KNOWN = {"W0001", "W0002"}
OPTIONAL = ("speed", "bearing", "altitude", "accuracy", "batt")
NASTY_VALUE = st.one_of(
    st.integers(-10**400, 10**400), st.floats(allow_nan=True, allow_infinity=True), st.none(),
    st.booleans(), st.sampled_from(["", " ", "1.2", "x", "W0001", " W0001", "W9999", 7, 0, -1e-9,
                                    1780000000123, 1e12]))
GOOD_ITEM = st.fixed_dictionaries(
    {"id": st.sampled_from(["W0001", "W0002"]),
     "timestamp": st.one_of(st.integers(0, 2 * 10**12), st.floats(0, 2e12)),
     "lat": st.floats(-90, 90), "lon": st.floats(-180, 180)},
    optional={k: st.one_of(st.floats(-1e6, 1e6), st.integers(-10, 10**6), st.none(), st.just(""))
              for k in OPTIONAL})
# a good item with up to two fields replaced (or added) by anything at all
ITEM = st.tuples(GOOD_ITEM, st.dictionaries(
    st.sampled_from(["id", "timestamp", "lat", "lon", "device_id", *OPTIONAL]), NASTY_VALUE,
    max_size=2)).map(lambda pair: pair[0] | pair[1])


@settings(max_examples=400, deadline=None, derandomize=True)
@given(ITEM)
def test_a_batch_item_packed_directly_is_exactly_what_parse_position_makes(item):
    packed = packed_position(item, KNOWN)
    if packed is not None:
        fix = parse_position(item)
        assert fix.worker in KNOWN and packed == pack_fix(fix)


def test_a_plain_batch_item_takes_the_direct_path():
    item = {"id": "W0001", "timestamp": 1780000000, "lat": 39.1, "lon": 117.3, "speed": -1,
            "batt": 80}
    assert packed_position(item, KNOWN) == pack_fix(parse_position(item))
    assert packed_position(item, KNOWN).endswith("|80.00|W0001")


@pytest.mark.parametrize("change", [{"id": "W9999"}, {"lat": float("nan")}, {"lat": "39.1"},
                                    {"speed": True}, {"timestamp": "2026-11-27T10:00:00Z"}])
def test_an_unusual_batch_item_is_left_to_parse_position(change):
    item = {"id": "W0001", "timestamp": 1780000000, "lat": 39.1, "lon": 117.3} | change
    assert packed_position(item, KNOWN) is None


def test_an_integer_too_large_for_a_float_is_refused_as_not_finite():
    with pytest.raises(InvalidInput, match="lat is not finite"):
        parse_position({"id": "W0001", "timestamp": 1780000000, "lat": 10**400, "lon": 117.3})
