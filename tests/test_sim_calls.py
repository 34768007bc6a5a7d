"""The simulated exchange gateway: a realistic, reproducible call load."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard.config import ROOT
from dashboard.district import load_district
from dashboard.exchange import Call, load_registry
from streams.sim_calls import CALLS_PATH, CallActor

DONGLI = ROOT / "data" / "districts" / "dongli"
TZ = ZoneInfo("Asia/Shanghai")
THURSDAY = datetime(2026, 5, 28, tzinfo=TZ).timestamp()


@pytest.fixture(scope="module")
def reg():
    return load_registry(DONGLI, load_district(DONGLI))


@pytest.fixture(scope="module")
def day(reg):
    return CallActor(reg, seed=7, calls_per_day=4000, schedule="realistic").between(
        THURSDAY, THURSDAY + 86400)


def _call(c):
    return Call(c["time"], c["caller"], c["provider"], c["interface"], c["catalog"],
                c["result"] == "ok", c["latency_ms"])


def test_a_workday_has_about_the_configured_load_peaking_in_office_hours(day):
    assert 3700 <= len(day) <= 4300
    hours = Counter(datetime.fromtimestamp(c["time"], TZ).hour for c in day)
    assert hours[10] > 10 * hours[3] and hours[15] > 10 * hours[23]


def test_personal_identity_query_dominates(day):
    counts = Counter(c["interface"] for c in day).most_common()
    assert counts[0][0] == "identity" and counts[0][1] > 2 * counts[1][1]


def test_every_call_fits_the_registry_and_a_few_fail_or_break_the_rules(reg, day):
    assert all(reg.problem(_call(c)) is None for c in day)
    errors = sum(c["result"] == "error" for c in day)
    violations = Counter(reg.violation(_call(c)) for c in day)
    assert 0 < errors < 0.05 * len(day)
    assert 0 < len(day) - violations[None] < 0.02 * len(day)


def test_the_load_is_the_same_however_time_is_sliced(reg):
    a, b = (CallActor(reg, seed=3, calls_per_day=20000) for _ in range(2))
    a.step(THURSDAY + 9 * 3600)
    b.step(THURSDAY + 9 * 3600)
    whole = [c for p in a.step(THURSDAY + 10 * 3600) for c in p.body["calls"]]
    parts = [c for t in range(1, 61) for p in b.step(THURSDAY + 9 * 3600 + 60 * t)
             for c in p.body["calls"]]
    assert whole == parts and len(whole) > 500


def test_steps_post_batches_to_the_calls_api(reg):
    actor = CallActor(reg, seed=3, calls_per_day=200000)
    assert actor.step(THURSDAY + 10 * 3600) == []  # the first step only sets the clock
    posts = actor.step(THURSDAY + 10 * 3600 + 1800)
    assert posts and {p.path for p in posts} == {CALLS_PATH}
    assert all(len(p.body["calls"]) <= 2000 for p in posts)
