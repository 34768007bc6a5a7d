"""Property-based: arbitrary bytes, huge fields, wrong types, NaN/Infinity, far-future dates and
unicode at every ingest endpoint and every stream: no 5xx, no consumer crash, and nothing
accepted that should not be."""

from __future__ import annotations

import json
import math
import re

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.catalog import catalog_for
from dashboard.exchange_queries import registry
from dashboard.keys import logical_streams
from streams.call_records import call_from_fields
from streams.consumer import Consumer
from streams.fixes import fix_from_fields
from streams.registry import handlers
from streams.reports import report_from_fields

pytestmark = pytest.mark.timeout(300)
EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
NASTY = st.sampled_from(["NaN", "nan", "Infinity", "-Infinity", "inf", "1e309", "-0", "0",
                         "9999999999999", "32503680000", "2999-12-31T23:59:59Z", "0001-01-01",
                         "39.13", "117.26", "", " ", "\u202e\u0000", "<script>alert(1)</script>",
                         "W0001", "W0002", "CG006", "true", "[]", "{}", "null"])
SCALAR = st.one_of(TEXT, NASTY, st.integers(-10**20, 10**20).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.text(max_size=1).map(lambda c: c * 20000))  # huge fields
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | TEXT | NASTY
    | st.sampled_from([10**400, -10**400])  # JSON integers beyond any float
    | st.floats(allow_nan=True, allow_infinity=True),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12)
OSMAND_KEYS = ["id", "deviceid", "lat", "lon", "timestamp", "time", "speed", "bearing",
               "heading", "altitude", "accuracy", "hdop", "batt"]
POSITION = st.fixed_dictionaries(
    {"id": st.sampled_from(["W0001", "W0002", "W0003"]) | TEXT,
     "timestamp": st.floats(allow_nan=True, allow_infinity=True) | NASTY | st.integers(),
     "lat": st.floats(allow_nan=True, allow_infinity=True) | NASTY,
     "lon": st.floats(allow_nan=True, allow_infinity=True) | NASTY},
    optional={"speed": JSONISH, "batt": JSONISH, "accuracy": JSONISH})


class Streams:
    """Reads what ingest appended since the last look, per logical stream."""

    def __init__(self, svc) -> None:
        self.svc = svc
        self.last = {s: "0-0" for ss in logical_streams(svc.keys).values() for s in ss}

    def new(self, name: str) -> list[dict]:
        out = []
        for s in logical_streams(self.svc.keys)[name]:
            for eid, fields in self.svc.r.xrange(s, min=f"({self.last[s]}"):
                self.last[s] = eid.decode()
                out.append(fields)
        return out


def _post_json(url: str, body: object) -> requests.Response:
    """POST JSON as a careless client would send it: NaN and Infinity included."""
    return requests.post(url, data=json.dumps(body, allow_nan=True),
                         headers={"Content-Type": "application/json"})


def _check_fixes(svc, entries: list[dict]) -> None:
    for fields in entries:
        fix = fix_from_fields(fields)
        assert svc.district.worker(fix.worker) is not None
        assert all(math.isfinite(v) for v in (fix.ts, fix.lat, fix.lon))
        assert -90 <= fix.lat <= 90 and -180 <= fix.lon <= 180


@pytest.fixture
def app(svc):
    import dataclasses

    from dashboard.services import build_services
    from tests.conftest import LiveApp

    s = dataclasses.replace(svc.settings, open311_api_keys="prop-key")
    live = LiveApp(build_services(s, clock=svc.clock, r=svc.r))
    live.streams = Streams(live.svc)
    yield live
    alive = all(t.is_alive() for t in live.threads)
    live.close()
    assert alive  # no consumer thread (nor the HTTP server) died


@EXAMPLES
@given(params=st.dictionaries(st.sampled_from(OSMAND_KEYS) | TEXT, SCALAR, max_size=8),
       as_form=st.booleans())
def test_osmand_never_fails_and_stores_only_valid_fixes(app, params, as_form):
    kw = {"data": params} if as_form else {"params": params}
    resp = requests.request("POST" if as_form else "GET", app.url + "/osmand", **kw)
    assert resp.status_code < 500, resp.text
    new = app.streams.new("gps")
    assert len(new) == (resp.status_code == 200)
    _check_fixes(app.svc, new)


@EXAMPLES
@given(body=JSONISH | st.lists(POSITION, max_size=5).map(lambda p: {"positions": p}))
def test_the_position_batch_and_traccar_json_store_only_valid_fixes(app, body):
    for path in ("/api/v1/positions", "/osmand"):
        resp = _post_json(app.url + path, body)
        assert resp.status_code < 500, resp.text
        new = app.streams.new("gps")
        if resp.status_code != 200:
            assert new == []
        elif path == "/api/v1/positions":
            assert len(new) == resp.json()["accepted"]
        _check_fixes(app.svc, new)


@EXAMPLES
@given(raw=st.binary(max_size=3000), ctype=st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/xml", "multipart/form-data"]))
def test_arbitrary_bytes_at_any_post_endpoint_never_give_a_5xx(app, raw, ctype):
    for path in _post_paths(app):
        resp = requests.post(app.url + path, data=raw, headers={"Content-Type": ctype})
        assert resp.status_code < 500, (path, resp.status_code, resp.text[:200])


@EXAMPLES
@given(form=st.dictionaries(st.sampled_from(
    ["service_code", "lat", "long", "device_id", "description", "media_url",
     "attribute[urgency]", "attribute[note]", "attribute[x]"]) | TEXT, SCALAR, max_size=8),
       valid=st.booleans())
def test_open311_stores_only_reports_inside_the_district_from_known_workers(app, form, valid):
    base = {"api_key": "prop-key", "service_code": "CG006", "lat": "39.1376",
            "long": "117.2585", "device_id": "W0001"} if valid else {"api_key": "prop-key"}
    resp = requests.post(app.url + "/open311/v2/requests.json", data={**base, **form})
    assert resp.status_code < 500, resp.text
    new = app.streams.new("events")
    assert len(new) == (resp.status_code == 200)
    for fields in new:
        rep = report_from_fields(fields)
        assert catalog_for(app.svc).item(rep.item) is not None
        assert app.svc.district.worker(rep.worker) is not None
        assert app.svc.locator.locate(rep.lon, rep.lat) is not None


@EXAMPLES
@given(body=JSONISH, good=st.booleans())
def test_the_calls_gateway_stores_only_registered_calls_in_the_time_window(app, body, good):
    from scale_helpers import call_item

    items = [body] + ([call_item(app.svc, app.svc.clock.now() - 5)] if good else [])
    resp = _post_json(app.url + "/api/v1/calls", {"calls": items})
    assert resp.status_code < 500, resp.text
    reg, now, s = registry(app.svc), app.svc.clock.now(), app.svc.settings
    for fields in app.streams.new("calls"):
        call = call_from_fields(fields, reg)
        assert reg.problem(call) is None
        assert now - s.calls_max_past_s <= call.ts <= now + s.calls_max_future_s


def _post_paths(app) -> list[str]:
    """Return every POST route of the app, path variables filled with a plausible value."""
    out = []
    for rule in app.app.server.url_map.iter_rules():
        if "POST" in rule.methods and not rule.rule.startswith("/_dash"):
            out.append(re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: {"fmt": "json"}.get(
                m.group(1), "1"), rule.rule))
    return sorted(set(out))


FIELD_BYTES = st.binary(max_size=60) | SCALAR.map(lambda s: s.encode("utf-8", "replace"))


@EXAMPLES
@given(entries=st.lists(st.dictionaries(st.sampled_from(
    [b"f", b"w", b"t", b"la", b"lo", b"s", b"v", b"id", b"it", b"at", b"ds", b"u", b"ax", b"r"])
    | st.binary(max_size=8), FIELD_BYTES, min_size=1, max_size=8), min_size=1, max_size=6))
def test_every_stream_consumer_survives_arbitrary_entries(svc, entries):
    """Each entry is handled or dead-lettered with a reason; nothing stays pending."""
    for name, handler in handlers(svc).items():
        c = Consumer(svc.r, svc.keys, handler, name="prop", clock=svc.clock)
        c.ensure_groups()
        stream = handler.streams()[0]
        for fields in entries:
            svc.r.xadd(stream, fields)
        c.drain()
        assert svc.r.xpending(stream, c.group)["pending"] == 0, name
        for eid, dl in svc.r.xrange(svc.keys.deadletter(name)):
            assert dl[b"reason"], (name, eid)
    from dashboard.queries import worker_states

    for st_ in worker_states(svc).values():  # what did get in is a valid position
        assert math.isfinite(st_.lat) and math.isfinite(st_.lon) and math.isfinite(st_.ts)


REPORT_VALUE = (st.none() | st.booleans() | st.integers(-10**20, 10**20) | TEXT | NASTY
                | st.floats(allow_nan=False, allow_infinity=False))


REPORT_KEYS = ["id", "it", "la", "lo", "w", "at", "ds", "m", "u", "ax"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(good=st.fixed_dictionaries({
    "id": st.sampled_from(["1", "260529000001"]), "it": st.just("CG006"),
    "la": st.floats(39, 40), "lo": st.floats(117, 118), "w": st.just("W0001"),
    "at": st.floats(1.7e9, 1.8e9), "ds": TEXT, "m": TEXT, "u": st.just(""), "ax": TEXT}),
       bad=st.dictionaries(st.sampled_from(REPORT_KEYS), REPORT_VALUE, max_size=2),
       drop=st.sets(st.sampled_from(REPORT_KEYS), max_size=1))
def test_a_report_entry_taken_as_it_is_reads_as_the_checked_path_reads_it(good, bad, drop):
    """The fast path of report_from_fields accepts only what the checked path accepts alike."""
    from streams.reports import _checked_report

    raw = json.dumps({k: v for k, v in (good | bad).items() if k not in drop}).encode()
    try:
        checked = _checked_report({b"r": raw}, raw)
    except ValueError:
        checked = None
    try:
        fast = report_from_fields({b"r": raw})
    except ValueError:
        fast = None
    assert fast == checked


@settings(max_examples=300, deadline=None, derandomize=True)
@given(texts=st.lists(TEXT | NASTY | st.sampled_from(['"w":"X"', '\\"w\\":\\"X', '"w":"']),
                      min_size=7, max_size=7))
def test_the_worker_peeked_at_is_the_reports_worker_or_none(texts):
    """The dispatcher reads GPS state for the worker it peeks at: never another one."""
    from streams.dispatcher import peek_worker
    from streams.reports import Report, report_fields

    rid, item, worker, ds, m, u, ax = texts
    rep = Report(rid, item, 39.1, 117.3, worker, 1.78e9, ds, m, u, ax)
    raw = {k.encode(): v for k, v in report_fields(rep).items()}
    assert peek_worker(raw) in (None, worker)
