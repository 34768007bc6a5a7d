"""The calls consumer on real Redis: exact counters and rankings, retention, audit, dead letters,
and counting exactly once whatever is redelivered."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard import exchange_queries as xq
from dashboard.exchange import NO_APPROVAL, NOT_SHARED, UNCONDITIONAL, Approval, Call
from dashboard.exchange_api import store_approval
from streams.call_records import call_to_fields
from streams.calls import CallsHandler
from streams.consumer import Consumer

HOUR, DAY = 3600, 86400


@pytest.fixture
def reg(svc):
    return xq.registry(svc)


@pytest.fixture
def handler(svc, reg):
    return CallsHandler(svc.r, svc.keys, svc.settings, reg, svc.clock)


@pytest.fixture
def consumer(svc, handler):
    return Consumer(svc.r, svc.keys, handler, name="test-1", batch=500, block_ms=50,
                    claim_idle_ms=1000, clock=svc.clock)


def _approved(reg, at):
    """Return (catalog, unit) of an identity catalog with an approval valid at `at`."""
    for (cat, unit), found in sorted(reg.approvals.items()):
        if "identity" in reg.catalogs[cat].interfaces and any(a.valid_at(at) for a in found):
            return cat, unit
    raise AssertionError("no approved identity catalog")


def _call(reg, ts, caller, catalog, ok=True, ms=40):
    cat = reg.catalogs[catalog]
    return Call(ts, caller, cat.unit, cat.interfaces[0], catalog, ok, ms)


def _add(svc, *calls):
    return [svc.r.xadd(svc.keys.calls_stream(), call_to_fields(c)) for c in calls]


def _hash(svc, key):
    return {k.decode(): int(v) for k, v in svc.r.hgetall(key).items()}


def _deadletters(svc):
    return [{k.decode(): v.decode() for k, v in e[1].items()}
            for e in svc.r.xrange(svc.keys.deadletter("calls"))]


@pytest.fixture
def known(svc, reg, clock):
    """A known set of six calls over two minutes: one error, one not-shared violation."""
    now = clock.now()
    cat, unit = _approved(reg, now)
    free = next(c.id for c in reg.catalogs.values()
                if c.sharing == UNCONDITIONAL and "enterprise" in c.interfaces)
    secret = next(c.id for c in reg.catalogs.values()
                  if c.sharing == NOT_SHARED and "identity" in c.interfaces)
    m0 = int(now // 60) - 2  # two whole minutes ago
    t0, t1 = m0 * 60 + 5, (m0 + 1) * 60 + 5
    calls = [_call(reg, t0, unit, cat, ms=40), _call(reg, t0 + 1, unit, cat, ms=60),
             _call(reg, t0 + 2, "minzheng", free, ms=120),
             _call(reg, t1, unit, cat, ok=False, ms=3500),
             _call(reg, t1 + 1, "renshe", free, ms=15),
             _call(reg, t1 + 2, "minzheng", secret, ms=35)]
    _add(svc, *calls)
    return {"cat": cat, "unit": unit, "free": free, "secret": secret, "m0": m0, "calls": calls}


# ---- keys ------------------------------------------------------------------------------------
def test_exchange_keys_are_pinned_and_share_one_cluster_slot():
    from redis.cluster import key_slot

    from dashboard.keys import Keys, logical_streams

    k = Keys("gw")
    assert k.calls_stream() == "gw:{calls}:entries"
    assert k.calls_bucket("m", 29666666, "i") == "gw:{calls}:m:29666666:i"
    assert k.calls_bucket("d", "20260529", "n") == "gw:{calls}:d:20260529:n"
    assert k.calls_total("c") == "gw:{calls}:all:c"
    assert k.calls_violations() == "gw:{calls}:violations"
    assert k.exchange_approvals() == "gw:{calls}:approvals"
    assert logical_streams(k)["calls"] == ["gw:{calls}:entries"]
    assert len({key_slot(x.encode()) for x in (
        k.calls_stream(), k.calls_bucket("h", 1, "l"), k.calls_total("n"),
        k.calls_violations(), k.exchange_approvals(), k.exchange_approvals_version())}) == 1


# ---- exact counters --------------------------------------------------------------------------
def test_a_known_call_set_gives_exact_minute_counters(svc, consumer, known):
    assert consumer.drain() == 6
    m0, cat, unit = known["m0"], known["cat"], known["unit"]
    b = svc.keys.calls_bucket
    assert _hash(svc, b("m", m0, "n")) == {"n": 3, "ms": 220}
    assert _hash(svc, b("m", m0 + 1, "n")) == {"n": 3, "ms": 3550, "e": 1, "v": 1,
                                               "v.not_shared": 1}
    assert _hash(svc, b("m", m0, "i")) == {"identity": 2, "enterprise": 1}
    assert _hash(svc, b("m", m0 + 1, "i")) == {"identity": 2, "identity:e": 1, "enterprise": 1}
    assert _hash(svc, b("m", m0, "c")) == {unit: 2, "minzheng": 1}
    assert _hash(svc, b("m", m0 + 1, "c")) == {unit: 1, "renshe": 1, "minzheng": 1,
                                               "minzheng:v": 1}
    assert _hash(svc, b("m", m0 + 1, "p")) == {"gongan": 2, "gongan:e": 1, "shichang": 1}
    assert _hash(svc, b("m", m0, "k")) == {cat: 2, known["free"]: 1}
    assert _hash(svc, b("m", m0, "l")) == {"identity:3": 1, "identity:4": 1, "enterprise:6": 1}


def test_hour_day_and_all_time_counters_roll_the_minutes_up(svc, consumer, known):
    consumer.drain()
    m0 = known["m0"]
    day = svc.days.day(m0 * 60)
    expected = {"n": 6, "ms": 3770, "e": 1, "v": 1, "v.not_shared": 1}
    assert _hash(svc, svc.keys.calls_bucket("d", day, "n")) == expected
    assert _hash(svc, svc.keys.calls_total("n")) == expected
    hours = {m0 // 60, (m0 + 1) // 60}
    total = sum(_hash(svc, svc.keys.calls_bucket("h", h, "n"))["n"] for h in hours)
    assert total == 6


def test_rankings_and_totals_read_exactly_what_was_counted(svc, consumer, known):
    consumer.drain()
    ranking = xq.interface_ranking(svc)
    assert [(r["code"], r["calls"], r["today"]) for r in ranking[:2]] == [
        ("identity", 4, 4), ("enterprise", 2, 2)]
    assert ranking[0]["name"] == "个人身份查询"
    assert {r["calls"] for r in ranking[2:]} == {0}
    units = xq.unit_calls(svc)
    assert units["made"][0] == {"unit": known["unit"], "name":
                                svc.district.department(known["unit"]).name, "calls": 3}
    assert [(r["unit"], r["calls"]) for r in units["served"]] == [("gongan", 4), ("shichang", 2)]
    totals = xq.totals(svc)
    assert (totals["calls_today"], totals["calls_total"], totals["errors_today"],
            totals["violations_today"]) == (6, 6, 1, 1)
    assert (totals["catalogs"], totals["items"], totals["interfaces"], totals["units"]) == (
        1457, 21661, 8, 40)


def test_the_curve_has_one_point_per_minute_ending_now(svc, consumer, known):
    consumer.drain()
    c = xq.curve(svc, minutes=5)
    assert c["n"] == [0, 0, 3, 3, 0] and c["e"] == [0, 0, 0, 1, 0]
    assert c["t0"] == (known["m0"] - 2) * 60_000


def test_latency_percentiles_come_from_the_histogram(svc, consumer, known):
    consumer.drain()
    hist = xq.latency_histograms(xq.window(svc, "l", 600))
    assert hist["identity"] == {3: 2, 4: 1, 15: 1}  # 40, 35 | 60 | 3500 ms
    assert xq.percentile(hist["identity"], 0.5) == pytest.approx(50.0)
    assert 3000 <= xq.percentile(hist["identity"], 0.95) <= 5000
    assert xq.percentile({}, 0.95) is None


# ---- retention -------------------------------------------------------------------------------
def test_minute_and_hour_buckets_expire_day_and_all_time_buckets_do_not(svc, consumer, known):
    consumer.drain()
    now, m0 = svc.clock.now(), known["m0"]
    ttl_m = svc.r.ttl(svc.keys.calls_bucket("m", m0, "n"))
    assert ttl_m == pytest.approx((m0 + 1) * 60 + 48 * HOUR - now, abs=2)
    ttl_h = svc.r.ttl(svc.keys.calls_bucket("h", m0 // 60, "i"))
    assert ttl_h == pytest.approx((m0 // 60 + 1) * HOUR + 90 * DAY - now, abs=2)
    assert svc.r.ttl(svc.keys.calls_bucket("d", svc.days.day(now), "n")) == -1
    assert svc.r.ttl(svc.keys.calls_total("c")) == -1


def test_a_call_older_than_minute_retention_counts_in_hours_days_and_ever_only(svc, consumer,
                                                                               reg, clock):
    cat, unit = _approved(reg, clock.now() - 3 * DAY)
    old = clock.now() - 3 * DAY
    _add(svc, _call(reg, old, unit, cat))
    consumer.drain()
    m = int(old // 60)
    assert not svc.r.exists(svc.keys.calls_bucket("m", m, "n"))
    assert _hash(svc, svc.keys.calls_bucket("h", m // 60, "n"))["n"] == 1
    assert _hash(svc, svc.keys.calls_bucket("d", svc.days.day(old), "n"))["n"] == 1
    assert _hash(svc, svc.keys.calls_total("n"))["n"] == 1


def test_memory_stays_bounded_every_key_but_days_and_totals_expires(svc, consumer, known):
    consumer.drain()
    expiring = [k for k in svc.r.scan_iter(match=f"{svc.keys.prefix}:{{calls}}:*")
                if b":m:" in k or b":h:" in k]
    assert expiring and all(svc.r.ttl(k) > 0 for k in expiring)
    assert all(svc.r.ttl(k) == -1 for k in svc.r.scan_iter(match=f"{svc.keys.prefix}:{{calls}}:*")
               if b":d:" in k)


def test_the_raw_stream_is_trimmed_to_its_retention_but_never_below_unprocessed(svc, handler,
                                                                                  consumer, reg,
                                                                                  clock):
    clock.set(time.time())  # entry ids are stamped by the Redis server's clock
    cat, unit = _approved(reg, clock.now())
    _add(svc, *[_call(reg, clock.now() - 10, unit, cat) for _ in range(5)])
    consumer.drain()
    clock.advance(2 * HOUR)
    _add(svc, _call(reg, clock.now() - 1, unit, cat))  # not yet processed
    handler._trimmed = -1e18
    handler._maybe_trim()
    entries = svc.r.xrange(svc.keys.calls_stream())
    assert len(entries) == 1


# ---- audit -----------------------------------------------------------------------------------
def test_a_violation_is_counted_and_kept_with_its_details(svc, consumer, known):
    consumer.drain()
    [v] = xq.violations(svc)
    assert (v["caller"], v["catalog"], v["kind"], v["provider"], v["interface"]) == (
        "minzheng", known["secret"], NOT_SHARED, "gongan", "identity")
    assert v["caller_name"] == "民政局" and v["kind_name"] == "调用不予共享目录"
    assert v["catalog_name"] == xq.registry(svc).catalogs[known["secret"]].name
    assert v["time"] == pytest.approx(known["calls"][-1].ts)


def test_a_violation_shows_its_time_today_and_its_date_from_an_earlier_day(svc, consumer, known,
                                                                           clock):
    consumer.drain()
    ts = known["calls"][-1].ts
    local = datetime.fromtimestamp(ts, ZoneInfo(svc.settings.tz))
    assert xq.violations(svc)[0]["when"] == local.strftime("%H:%M:%S")
    clock.advance(86400)
    assert xq.violations(svc)[0]["when"] == f"{local:%m}月{local:%d}日 {local:%H:%M}"


def test_a_conditional_call_without_approval_is_a_violation(svc, consumer, reg, clock):
    cat, _unit = _approved(reg, clock.now())
    outsider = next(u for u in ("wangxin", "tiyu", "fulian") if (cat, u) not in reg.approvals)
    _add(svc, _call(reg, clock.now() - 5, outsider, cat))
    consumer.drain()
    assert [v["kind"] for v in xq.violations(svc)] == [NO_APPROVAL]
    assert _hash(svc, svc.keys.calls_total("c")) == {outsider: 1, f"{outsider}:v": 1}


def test_an_approval_granted_through_the_api_applies_from_its_time(svc, consumer, reg, clock):
    cat, _unit = _approved(reg, clock.now())
    outsider = next(u for u in ("wangxin", "tiyu", "fulian") if (cat, u) not in reg.approvals)
    _add(svc, _call(reg, clock.now() - 30, outsider, cat))
    consumer.drain()
    store_approval(svc, Approval(cat, outsider, clock.now() - 10))
    _add(svc, _call(reg, clock.now() - 5, outsider, cat),
         _call(reg, clock.now() - 20, outsider, cat))
    consumer.drain()
    assert _hash(svc, svc.keys.calls_total("n"))["v.no_approval"] == 2


def test_a_new_approval_window_keeps_the_earlier_one_for_late_calls(svc, consumer, reg, clock):
    cat, _unit = _approved(reg, clock.now())
    outsider = next(u for u in ("wangxin", "tiyu", "fulian") if (cat, u) not in reg.approvals)
    now = clock.now()
    store_approval(svc, Approval(cat, outsider, now - 3000, now - 2000))
    store_approval(svc, Approval(cat, outsider, now - 1000))
    _add(svc, _call(reg, now - 2500, outsider, cat),  # late, from the first window
         _call(reg, now - 1500, outsider, cat),  # between the windows: a violation
         _call(reg, now - 5, outsider, cat))
    consumer.drain()
    assert _hash(svc, svc.keys.calls_total("n"))["v.no_approval"] == 1


def test_a_unit_reading_its_own_not_shared_catalog_is_no_violation(svc, consumer, reg, clock):
    secret = next(c for c in reg.catalogs.values()
                  if c.sharing == NOT_SHARED and c.interfaces)
    _add(svc, _call(reg, clock.now() - 5, secret.unit, secret.id))
    consumer.drain()
    assert xq.violations(svc) == [] and "v" not in _hash(svc, svc.keys.calls_total("n"))


# ---- malformed records -------------------------------------------------------------------------
def test_malformed_records_go_to_the_dead_letter_stream_with_their_reason(svc, consumer, reg,
                                                                          clock):
    cat, unit = _approved(reg, clock.now())
    now = clock.now()
    good = call_to_fields(_call(reg, now - 5, unit, cat))["v"]
    bad = [
        {"v": "not|enough|parts"},
        {"v": good.replace(cat, "nope-001")},
        {"v": good.replace(f"|{unit}|", "|ghost|", 1)},
        {"v": good.replace(f"{now - 5:.3f}", f"{now + 3600:.3f}")},
        {"v": good.replace("|gongan|", "|minzheng|")},
        {"v": good.rsplit("|", 1)[0] + "|fast"},
        {"t": "yesterday", "c": unit, "i": "identity", "k": cat, "r": "ok", "l": "5"},
        {"v": b"\xff\xfe"},
    ]
    for fields in bad:
        svc.r.xadd(svc.keys.calls_stream(), fields)
    assert consumer.drain() == len(bad)
    reasons = [d["reason"] for d in _deadletters(svc)]
    assert reasons == [
        "malformed: v must have 7 '|'-separated parts",
        "unknown catalog: nope-001",
        "unknown calling unit: ghost",
        "future timestamp: 3600 s ahead",
        f"catalog {cat} is provided by gongan, not minzheng",
        "malformed: latency_ms is not a number: 'fast'",
        "malformed: timestamp is not ISO 8601: 'yesterday'",
        "malformed: entry is not UTF-8",
    ]
    assert svc.r.hgetall(svc.keys.calls_total("n")) == {}
    assert svc.r.xpending(svc.keys.calls_stream(), consumer.group)["pending"] == 0


def test_a_gateway_may_xadd_named_fields(svc, consumer, reg, clock):
    cat, unit = _approved(reg, clock.now())
    svc.r.xadd(svc.keys.calls_stream(), {"t": "2026-05-28T20:26:00Z", "c": unit, "i": "identity",
                                         "k": cat, "r": "error", "l": "812.6"})
    assert consumer.drain() == 1
    assert _hash(svc, svc.keys.calls_total("p")) == {"gongan": 1, "gongan:e": 1}
    assert _hash(svc, svc.keys.calls_total("n")) == {"n": 1, "e": 1, "ms": 813}


# ---- exactly once under redelivery -------------------------------------------------------------
def test_handling_the_same_entries_twice_counts_them_once(svc, handler, consumer, known):
    consumer.ensure_groups()
    [(_, entries)] = svc.r.xreadgroup(consumer.group, "c1", {svc.keys.calls_stream(): ">"})
    assert handler.handle(entries) == []
    assert handler.handle(entries) == []
    assert _hash(svc, svc.keys.calls_total("n"))["n"] == 6
    assert len(xq.violations(svc)) == 1


def test_entries_a_dead_consumer_left_pending_are_claimed_and_counted_once(svc, reg, handler,
                                                                           known):
    dead = Consumer(svc.r, svc.keys, handler, name="dead", clock=svc.clock)
    dead.ensure_groups()
    [(_, entries)] = svc.r.xreadgroup(dead.group, "dead", {svc.keys.calls_stream(): ">"})
    assert len(entries) == 6  # read, then the process died before counting
    alive = Consumer(svc.r, svc.keys, CallsHandler(svc.r, svc.keys, svc.settings, reg, svc.clock),
                     name="alive", claim_idle_ms=0, clock=svc.clock)
    assert alive.claim_stale() == 6
    handler.handle(entries)  # the "dead" one wakes up and finishes its batch
    assert _hash(svc, svc.keys.calls_total("n"))["n"] == 6


def test_a_batch_partly_counted_elsewhere_counts_only_the_rest(svc, handler, consumer, known):
    consumer.ensure_groups()
    [(_, entries)] = svc.r.xreadgroup(consumer.group, "c1", {svc.keys.calls_stream(): ">"})
    handler.handle(entries[:2])
    handler.handle(entries)
    assert _hash(svc, svc.keys.calls_total("n"))["n"] == 6


def test_a_restarted_consumer_redelivers_its_own_pending_entries_without_double_count(
        svc, reg, known):
    h = CallsHandler(svc.r, svc.keys, svc.settings, reg, svc.clock)
    c = Consumer(svc.r, svc.keys, h, name="same", clock=svc.clock)
    c.ensure_groups()
    svc.r.xreadgroup(c.group, "same", {svc.keys.calls_stream(): ">"}, count=3)
    c._drain_own_pending(svc.keys.calls_stream())
    c._drain_own_pending(svc.keys.calls_stream())
    c.drain()
    assert _hash(svc, svc.keys.calls_total("n"))["n"] == 6


# ---- alerts ----------------------------------------------------------------------------------
def test_an_interface_failing_often_raises_an_error_rate_alert(svc, consumer, reg, clock):
    cat, unit = _approved(reg, clock.now())
    calls = [_call(reg, clock.now() - 60 + i, unit, cat, ok=i % 5 != 0) for i in range(25)]
    _add(svc, *calls)
    consumer.drain()
    [alert] = xq.error_alerts(svc)
    assert (alert["interface"], alert["calls"], alert["errors"], alert["rate"]) == (
        "identity", 25, 5, 0.2)


def test_few_calls_raise_no_error_rate_alert(svc, consumer, reg, clock):
    cat, unit = _approved(reg, clock.now())
    _add(svc, *[_call(reg, clock.now() - 30 + i, unit, cat, ok=False) for i in range(5)])
    consumer.drain()
    assert xq.error_alerts(svc) == []
