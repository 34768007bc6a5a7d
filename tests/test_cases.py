"""Cases: the lifecycle state machine, the dispatch consumer and the backlog indexes."""

from __future__ import annotations

import dataclasses

import pytest
from case_helpers import JUNLIANG_GRID, WANXIN_GRID, dispatcher, point_in, report, worker_of
from redis.cluster import key_slot

from dashboard import case_queries
from dashboard.cases import ACTIONS, Case, IllegalTransition, from_hash, to_hash, transition
from dashboard.keys import Keys
from streams.cases import CaseStore


@pytest.fixture
def store(svc):
    return CaseStore(svc)


def a_case(**kw) -> Case:
    base = dict(id="1", item="CG006", urgency="normal", state="dispatched", dept="st-wanxin",
                lat=39.1, lon=117.3, grid="WX-01-01", station="WX-01", street="wanxin",
                worker="W0001", reported_at=1000.0, updated_at=1000.0, dispatched_at=1000.0,
                deadline=1000.0 + 86400, rv=1)
    return Case(**(base | kw))


# ---- the state machine (pure) -------------------------------------------------------
def test_the_happy_path_walks_the_seven_steps():
    c = a_case()
    c, s1 = transition(c, "accept", "dept:st-wanxin", 1100)
    c, s2 = transition(c, "handle", "dept:st-wanxin", 1200, note="cleared")
    c, s3 = transition(c, "verify", "W0001", 1300)
    c, s4 = transition(c, "close", "supervisor", 1400)
    assert [s.to for s in (s1, s2, s3, s4)] == ["accepted", "handled", "verified", "closed"]
    assert (c.accepted_at, c.handled_at, c.verified_at, c.closed_at) == (1100, 1200, 1300, 1400)
    assert c.rv == 5 and c.note == "cleared"


@pytest.mark.parametrize("state,action", [
    ("accepted", "accept"), ("handled", "accept"), ("closed", "handle"),
    ("dispatched", "verify"), ("accepted", "close"), ("closed", "return"),
    ("verified", "reopen"), ("dispatched", "unlink"), ("handled", "redispatch"),
])
def test_illegal_transitions_are_refused_with_the_reason(state, action):
    with pytest.raises(IllegalTransition, match=f"cannot {action} a case that is {state}"):
        transition(a_case(state=state), action, "x", 2000, note="n", dept="chengguan",
                   deadline=9e9)


def test_every_action_names_where_it_may_start():
    assert set(ACTIONS) == {"accept", "handle", "return", "redispatch", "verify", "reopen",
                            "close", "unlink"}


def test_handle_needs_a_note_and_return_a_reason():
    with pytest.raises(IllegalTransition, match="note"):
        transition(a_case(), "handle", "d", 2000)
    with pytest.raises(IllegalTransition, match="reason"):
        transition(a_case(), "return", "d", 2000)


def test_a_return_without_a_department_goes_to_the_district_supervisor():
    c, step = transition(a_case(), "return", "dept:st-wanxin", 2000, note="not ours")
    assert (c.state, c.dept, c.returns, step.note) == ("returned", "@district", 1, "not ours")
    c, _ = transition(c, "redispatch", "supervisor", 2100, dept="chengguan", deadline=9000)
    assert (c.state, c.dept, c.deadline, c.dispatched_at) == ("dispatched", "chengguan", 9000,
                                                              2100)


def test_a_return_to_a_named_department_redispatches_with_a_fresh_deadline():
    c, _ = transition(a_case(reminders=3, overdue=1, escalation=1), "return", "d", 2000,
                      note="water, not ours", dept="shuiwu", deadline=5000)
    assert (c.state, c.dept, c.deadline, c.reminders, c.overdue) == ("dispatched", "shuiwu",
                                                                     5000, 0, 0)


def test_the_worker_can_reopen_a_case_that_is_not_done():
    c, _ = transition(a_case(state="handled", handled_at=1500), "reopen", "W0001", 1600,
                      note="still there")
    assert (c.state, c.handled_at) == ("accepted", 0.0)


def test_a_case_round_trips_through_its_redis_hash():
    c = a_case(description="<script>alert(1)</script> 垃圾", in_own_grid=1, on_patrol=1)
    raw = {k.encode(): v.encode() for k, v in to_hash(c).items()}
    assert from_hash(raw) == c
    assert to_hash(dataclasses.replace(c, state="accepted", rv=2), c) == {"s": "accepted",
                                                                          "rv": "2"}


# ---- the dispatch consumer --------------------------------------------------------------
def test_a_report_becomes_a_dispatched_case_with_its_history(svc, store):
    report(svc, "260529000001")
    assert dispatcher(svc).drain() == 1
    c = store.get("260529000001")
    assert (c.state, c.dept, c.grid, c.street) == ("dispatched", "st-wanxin", WANXIN_GRID,
                                                   "wanxin")
    assert c.deadline == pytest.approx(svc.clock.now() + 24 * 3600)
    assert [h["action"] for h in store.history(c.id)] == ["report", "dispatch"]
    assert store.history(c.id)[0]["actor"] == worker_of(svc, WANXIN_GRID)


def test_street_office_items_go_to_the_street_that_contains_the_point(svc, store):
    report(svc, "1", item="MD001", grid=WANXIN_GRID)
    report(svc, "2", item="MD001", grid=JUNLIANG_GRID)
    report(svc, "3", item="AQ001", grid=JUNLIANG_GRID)
    dispatcher(svc).drain()
    assert [store.get(i).dept for i in "123"] == ["st-wanxin", "st-junliangcheng", "xiaofang"]


def test_redelivery_never_creates_a_second_case(svc, store):
    rep = report(svc, "260529000007")
    dispatcher(svc).drain()
    from streams.reports import append_report

    append_report(svc, rep)  # the same report again, as after a crash before XACK
    dispatcher(svc).drain()
    assert svc.r.zcard(svc.keys.cases_all()) == 1
    assert len(store.history("260529000007")) == 2
    assert case_queries.open_by_department(svc) == {"st-wanxin": 1}


def test_a_report_twice_in_one_batch_becomes_one_case(svc, store):
    from streams.reports import append_report

    rep = report(svc, "260529000008")
    append_report(svc, rep)  # the same report twice before the dispatcher reads either
    assert dispatcher(svc).drain() == 2
    assert svc.r.zcard(svc.keys.cases_all()) == 1
    assert [h["action"] for h in store.history(rep.id)] == ["report", "dispatch"]
    assert case_queries.open_by_department(svc) == {"st-wanxin": 1}


def test_a_report_entry_written_with_a_field_per_value_is_still_dispatched(svc, store):
    lat, lon = point_in(svc, WANXIN_GRID)
    svc.r.xadd(svc.keys.events_stream(), {  # the entry form of earlier versions
        "id": "5", "it": "CG006", "la": f"{lat:.7f}", "lo": f"{lon:.7f}",
        "w": worker_of(svc, WANXIN_GRID), "at": f"{svc.clock.now():.3f}", "ds": "旧格式",
        "m": "", "u": "", "ax": ""})
    assert dispatcher(svc).drain() == 1
    assert (store.get("5").state, store.get("5").description) == ("dispatched", "旧格式")


@pytest.mark.parametrize("raw", [b"{not json", b"[1]", b'{"id":"6","it":"CG006","w":"W0001",'
                                 b'"la":"39.1","lo":117.3,"at":true}',
                                 b'{"id":"6","it":"CG006","w":"W0001","la":39.1,"lo":117.3,'
                                 b'"at":1.0,"ds":7}'])
def test_a_malformed_report_entry_is_dead_lettered_and_the_rest_dispatched(svc, store, raw):
    svc.r.xadd(svc.keys.events_stream(), {"r": raw})
    report(svc, "7")
    assert dispatcher(svc).drain() == 2
    assert store.get("7").state == "dispatched"
    assert svc.r.hgetall(svc.keys.deadletter_reasons("events")) == {b"malformed": b"1"}


def test_the_dispatchers_rows_are_what_a_case_makes(svc, store):
    import orjson

    from dashboard.cases import Step
    from streams.cases import dispatched_row
    from streams.reports import Report

    now = svc.clock.now()
    place = svc.locator.place(0)
    for rep, og, op in [(Report("1", "CG006", 39.1, 117.3, "W0001", now - 60.5), -1, 0),
                        (Report("2", "CG006", 39.1, 117.3, "W0001", now - 60, "描述",
                                "http://m/1.jpg", "urgent", '{"k": "v"}'), 1, 1)]:
        case = a_case(id=rep.id, urgency="urgent", dept="chengguan", lat=rep.lat, lon=rep.lon,
                      grid=place.grid, station=place.station, street=place.street,
                      reported_at=rep.at, updated_at=now, dispatched_at=now, deadline=now + 7200,
                      description=rep.description, media_url=rep.media_url, attrs=rep.attrs,
                      in_own_grid=og, on_patrol=op)
        steps = (Step("report", "", "reported", rep.worker, rep.at),
                 Step("dispatch", "reported", "dispatched", "system", now, "", "chengguan"))
        rows, _ = store.new_rows([(case, *steps)])
        remind = orjson.loads(rows)[0][-3]
        assert dispatched_row(rep, "urgent", "chengguan", place, og, op, repr(now),
                              repr(now + 7200), remind, svc.days.day(rep.at)) == \
            orjson.loads(rows)[0]


def test_the_per_grid_counters_of_hundreds_of_grids_are_a_hash_table(svc):
    key = svc.keys.cases_count("grid")
    for g in range(300):  # more grids than a compact (linearly scanned) hash holds
        svc.r.hincrby(key, f"G{g:03d}", 1)
    assert svc.r.object("encoding", key) == b"hashtable"


def test_a_point_outside_the_district_is_dead_lettered_with_the_reason(svc, store):
    report(svc, "9", lat=39.9, lon=116.4)
    c = dispatcher(svc)
    c.drain()
    assert store.get("9") is None
    assert svc.r.hgetall(svc.keys.deadletter_reasons("events")) == {b"outside district": b"1"}


def test_a_report_near_an_open_case_of_the_same_item_is_linked_to_it(svc, store):
    lat, lon = point_in(svc, WANXIN_GRID)
    report(svc, "1", lat=lat, lon=lon)
    dispatcher(svc).drain()
    svc.clock.advance(3600)
    report(svc, "2", lat=lat + 0.0005, lon=lon)  # ~55 m north
    report(svc, "3", lat=lat - 0.0020, lon=lon)  # ~220 m: a separate case
    report(svc, "4", item="CG007", lat=lat, lon=lon)  # another item: a separate case
    dispatcher(svc).drain()
    assert (store.get("2").state, store.get("2").linked_to) == ("linked", "1")
    assert store.get("1").links == 1
    assert store.get("3").state == store.get("4").state == "dispatched"
    assert svc.r.zcard(svc.keys.cases_open()) == 3


def test_a_batch_written_in_several_chunks_links_across_them_in_order(svc, store,
                                                                      monkeypatch):
    import streams.cases

    monkeypatch.setattr(streams.cases, "CHUNK", 1)  # four reports: four script calls
    lat, lon = point_in(svc, WANXIN_GRID)
    report(svc, "1", lat=lat, lon=lon)
    report(svc, "2", lat=lat + 0.0005, lon=lon)  # ~55 m: the case the first chunk wrote
    report(svc, "3", item="CG007", lat=lat, lon=lon)
    report(svc, "4", lat=lat, lon=lon)
    pubsub = svc.r.pubsub()
    pubsub.subscribe(svc.keys.channel("cases"))
    pubsub.get_message(timeout=1)
    assert dispatcher(svc).drain() == 4
    assert [store.get(i).state for i in "1234"] == ["dispatched", "linked", "dispatched",
                                                     "linked"]
    assert store.get("1").links == 2
    pushed = []
    while msg := pubsub.get_message(timeout=0.2):
        pushed += [e["m"]["id"] for e in __import__("orjson").loads(msg["data"])["events"]]
    assert pushed == ["1", "3"]  # only the dispatched cases go on the map


def test_a_batch_begun_before_the_last_is_finished_links_to_its_cases(svc, store):
    from streams.dispatcher import CaseHandler

    lat, lon = point_in(svc, WANXIN_GRID)
    report(svc, "1", lat=lat, lon=lon)
    report(svc, "2", item="CG007", lat=lat, lon=lon)
    report(svc, "3", lat=lat + 0.0005, lon=lon)  # ~55 m from case 1, one batch later
    report(svc, "4", item="CG007", lat=lat, lon=lon + 0.0005)
    entries = svc.r.xrange(svc.keys.events_stream())
    pubsub = svc.r.pubsub()
    pubsub.subscribe(svc.keys.channel("cases"))
    pubsub.get_message(timeout=1)
    h = CaseHandler(svc)
    first = h.begin(entries[:2])
    second = h.begin(entries[2:])  # sent while the first batch's replies are still unread
    assert first() == [] and second() == []
    assert h.store._inflight.owed() == 1  # noqa: SLF001 - the first batch's map message
    assert h.handle(entries) == []  # handled at once (redelivered: no new case)...
    assert h.store._inflight.owed() == 0  # noqa: SLF001 - ...nothing is left owed after
    assert [store.get(i).state for i in "1234"] == ["dispatched", "dispatched", "linked",
                                                     "linked"]
    assert (store.get("3").linked_to, store.get("4").linked_to) == ("1", "2")
    pushed = []
    while msg := pubsub.get_message(timeout=0.2):
        pushed += [e["m"]["id"] for e in __import__("orjson").loads(msg["data"])["events"]]
    assert pushed == ["1", "2"]


def test_a_backlog_dispatched_in_overlapping_batches_gives_the_cases_of_one_batch(svc, store):
    from dashboard.catalog import catalog_for

    items = [i.code for i in catalog_for(svc).items[:7]]
    lat, lon = point_in(svc, WANXIN_GRID)
    for n, item in enumerate(items):  # a case of each item, then a duplicate of each
        report(svc, f"a{n}", item=item, lat=lat, lon=lon)
    for n, item in enumerate(items):
        report(svc, f"b{n}", item=item, lat=lat + 0.0003, lon=lon)
    consumer = dispatcher(svc)
    consumer.handler.batch = 2  # seven batches, each begun before the last is finished
    assert consumer.drain() == 14
    assert [store.get(f"b{n}").linked_to for n in range(7)] == [f"a{n}" for n in range(7)]
    assert [store.get(f"a{n}").state for n in range(7)] == ["dispatched"] * 7
    assert svc.r.xpending(svc.keys.events_stream(), consumer.group)["pending"] == 0


def test_the_first_batches_after_a_start_are_written_in_the_order_they_were_read(svc, store):
    svc.r.script_flush()  # a dispatcher starting against a fresh Redis
    lat, lon = point_in(svc, WANXIN_GRID)
    report(svc, "1", grid=JUNLIANG_GRID)
    report(svc, "2", lat=lat, lon=lon)
    report(svc, "3", lat=lat + 0.0003, lon=lon)  # one batch later, a duplicate of case 2
    consumer = dispatcher(svc)
    consumer.handler.batch = 1
    assert consumer.drain() == 3
    assert (store.get("2").state, store.get("3").linked_to) == ("dispatched", "2")


def test_dispatch_goes_on_when_redis_has_forgotten_its_scripts(svc, store, monkeypatch):
    import streams.cases

    report(svc, "1")
    consumer = dispatcher(svc)
    consumer.drain()  # it has loaded its script
    svc.r.script_flush()  # as after a restart: every queued call answers NOSCRIPT
    monkeypatch.setattr(streams.cases, "CHUNK", 1)
    report(svc, "2", grid=JUNLIANG_GRID)
    report(svc, "3", item="AQ001", grid=JUNLIANG_GRID)
    assert consumer.drain() == 2
    assert [store.get(i).state for i in "123"] == ["dispatched"] * 3
    assert svc.r.zcard(svc.keys.cases_all()) == 3


def test_an_old_or_closed_case_does_not_swallow_a_new_report(svc, store):
    lat, lon = point_in(svc, WANXIN_GRID)
    report(svc, "1", lat=lat, lon=lon)
    dispatcher(svc).drain()
    svc.clock.advance(svc.settings.case_dup_window_s + 60)
    report(svc, "2", lat=lat, lon=lon)
    dispatcher(svc).drain()
    assert store.get("2").state == "dispatched"


def test_a_supervisor_can_unlink_a_duplicate(svc, store):
    lat, lon = point_in(svc, WANXIN_GRID)
    report(svc, "1", lat=lat, lon=lon)
    report(svc, "2", lat=lat, lon=lon)
    dispatcher(svc).drain()
    assert store.get("2").state == "linked"
    c = store.act("2", "unlink", "supervisor:ops", dept="st-wanxin")
    assert (c.state, c.linked_to, c.dept) == ("dispatched", "", "st-wanxin")
    assert svc.r.zcard(svc.keys.cases_open()) == 2


@pytest.mark.parametrize("peek", [True, False], ids=["peeked", "read-with-its-chunk"])
def test_the_reporters_gps_context_is_recorded(svc, store, gps_consumer, monkeypatch, peek):
    if not peek:  # a worker id the dispatcher could not peek at is read with its chunk
        monkeypatch.setattr("streams.dispatcher.peek_worker", lambda fields: None)
    wid = worker_of(svc, WANXIN_GRID)
    lat, lon = point_in(svc, WANXIN_GRID)
    from streams.fixes import fix_to_fields, make_fix

    now = svc.clock.now()
    for i, dt in enumerate((-60, -30)):
        fix = make_fix(wid, now + dt, lat + i * 0.0002, lon)
        svc.r.xadd(svc.keys.gps_stream(0), fix_to_fields(fix))
    gps_consumer.drain()
    report(svc, "1")
    report(svc, "2", grid=JUNLIANG_GRID)  # its worker has no GPS at all
    dispatcher(svc).drain()
    assert (store.get("1").in_own_grid, store.get("1").on_patrol) == (1, 1)
    assert (store.get("2").in_own_grid, store.get("2").on_patrol) == (-1, 0)


# ---- transitions in Redis keep every backlog in step -------------------------------
def test_backlogs_follow_the_lifecycle(svc, store):
    report(svc, "1")
    report(svc, "2", item="AQ001", grid=JUNLIANG_GRID)
    dispatcher(svc).drain()
    assert case_queries.open_by_department(svc) == {"st-wanxin": 1, "xiaofang": 1}
    assert case_queries.open_by_grid(svc) == {WANXIN_GRID: 1, JUNLIANG_GRID: 1}
    assert case_queries.due_within(svc, 3600) == 1  # the fire lane: 1 h
    store.act("2", "handle", "dept:xiaofang", note="cleared the lane")
    assert case_queries.due_within(svc, 3600) == 0
    assert case_queries.open_by_department(svc) == {"st-wanxin": 1, "xiaofang": 1}
    store.act("2", "verify", "W", allow=None)
    store.act("2", "close", "supervisor")
    assert case_queries.open_by_department(svc) == {"st-wanxin": 1}
    assert svc.r.zcard(svc.keys.cases_queue("xiaofang")) == 0
    assert svc.r.zcard(svc.keys.cases_all()) == 2
    assert [h["action"] for h in store.history("2")] == ["report", "dispatch", "handle",
                                                          "verify", "close"]


def test_an_illegal_transition_changes_nothing_in_redis(svc, store):
    report(svc, "1")
    dispatcher(svc).drain()
    before = svc.r.hgetall(svc.keys.case("1"))
    with pytest.raises(IllegalTransition):
        store.act("1", "close", "supervisor")
    assert svc.r.hgetall(svc.keys.case("1")) == before


def test_a_stale_write_loses_the_version_check(svc, store):
    report(svc, "1")
    dispatcher(svc).drain()
    c = store.get("1")
    a, sa = transition(c, "accept", "x", svc.clock.now())
    b, sb = transition(c, "handle", "y", svc.clock.now(), note="done")
    assert store.apply([(c, a, store.write_ops(c, a, [sa]))]) == [True]
    assert store.apply([(c, b, store.write_ops(c, b, [sb]))]) == [False]
    assert store.get("1").state == "accepted"


def test_case_keys_are_pinned_and_share_one_cluster_slot():
    k = Keys("gw")
    assert k.events_stream() == "gw:{events}:entries"
    assert k.case("260529000001") == "gw:{cases}:c:260529000001"
    assert k.cases_due() == "gw:{cases}:due"
    assert k.cases_count("dept") == "gw:{cases}:n:dept"
    assert k.cases_returned("xiaofang") == "gw:{cases}:ret:xiaofang"
    keys = [k.cases_returned("x"), k.case("1"), k.case_history("1"), k.cases_all(),
            k.cases_open(), k.cases_due(), k.cases_queue("x"), k.cases_count("grid"),
            k.cases_remind(), k.cases_geo("CG006"),
            k.cases_stats("20260529"), k.cases_handle_times("202605"), k.reminders_stream(),
            k.case_seq("20260529")]
    assert len({key_slot(x.encode()) for x in keys}) == 1


def _dump(r) -> dict:
    out = {}
    for key in sorted(r.keys("*")):
        kind = r.type(key)
        out[key] = {b"hash": lambda k: r.hgetall(k), b"list": lambda k: r.lrange(k, 0, -1),
                    b"zset": lambda k: r.zrange(k, 0, -1, withscores=True)}[kind](key)
    return out


def test_the_create_script_writes_exactly_what_the_generic_write_would(svc, store):
    from dashboard.cases import Step

    now = svc.clock.now()
    new = a_case(id="7", reported_at=now - 60, dispatched_at=now, deadline=now + 86400,
                 description="x", in_own_grid=1, on_patrol=1)
    dup = a_case(id="8", reported_at=now - 30, dispatched_at=now, deadline=now + 86400,
                 worker="W0002", media_url="http://m/1.jpg", attrs='{"k": "v"}')
    steps = {c.id: (Step("report", "", "reported", c.worker, c.reported_at),
                    Step("dispatch", "reported", "dispatched", "system", now, "", c.dept))
             for c in (new, dup)}
    assert store.create([(c, *steps[c.id]) for c in (new, dup)], now) == [True, "7"]
    assert store.create([(new, *steps["7"])], now) == [False]
    fast = _dump(svc.r)
    svc.r.flushall()
    store.apply([(None, new, store.write_ops(None, new, list(steps["7"]),
                                             store.stats_ops(now - 60, {"rep": 1, "new": 1})))])
    linked = dataclasses.replace(dup, state="linked", dept="", linked_to="7", dispatched_at=0.0,
                                 deadline=0.0)
    s_dup = [steps["8"][0], Step("link", "reported", "linked", "system", now, "7")]
    link = Step("linked", "", "", "system", now, "8")
    extra = [("HINCRBY", svc.keys.case("7"), "ln", 1),
             ("RPUSH", svc.keys.case_history("7"), __import__("orjson").dumps(link.as_dict()))]
    store.apply([(None, linked, store.write_ops(None, linked, s_dup, extra + store.stats_ops(
        now - 30, {"rep": 1, "lnk": 1})))])
    assert _dump(svc.r) == fast
