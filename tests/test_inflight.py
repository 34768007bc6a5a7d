"""Commands in flight on one connection: replies by ticket, in any order, nothing left owed."""

from __future__ import annotations

import pytest
import redis

from streams.inflight import InFlight


def _inflight(svc) -> InFlight:
    return InFlight(lambda: svc.r.connection_pool)


def _idle(svc) -> int:
    return len(svc.r.connection_pool._available_connections)  # noqa: SLF001


def test_replies_come_back_by_ticket_whatever_order_they_are_asked_in(svc):
    calls = _inflight(svc)
    a, b, c = (calls.send("ECHO", x) for x in "abc")
    assert calls.owed() == 3
    assert calls.reply(c) == b"c"  # reads a and b on the way and keeps them
    assert (calls.reply(a), calls.reply(b)) == (b"a", b"b")
    assert calls.owed() == 0


def test_commands_run_in_the_order_they_were_sent(svc):
    calls = _inflight(svc)
    key = svc.keys.counter("inflight-test")
    tickets = [calls.send("INCR", key) for _ in range(5)]
    assert [calls.reply(t) for t in reversed(tickets)] == [5, 4, 3, 2, 1]


def test_an_error_reply_is_returned_and_the_replies_after_it_still_read(svc):
    calls = _inflight(svc)
    bad, good = calls.send("EVALSHA", "0" * 40, 0), calls.send("ECHO", "after")
    assert isinstance(calls.reply(bad), redis.ResponseError)
    assert calls.reply(good) == b"after"


def test_the_connection_goes_back_to_the_pool_once_nothing_is_owed(svc):
    svc.r.ping()  # the pool has one idle connection
    before = _idle(svc)
    calls = _inflight(svc)
    t = calls.send("ECHO", "x")
    assert _idle(svc) == before - 1
    calls.reply(t)
    assert _idle(svc) == before


def test_abandoned_replies_are_read_and_dropped(svc):
    calls = _inflight(svc)
    kept = calls.send("ECHO", "kept")
    dropped = [calls.send("ECHO", "dropped") for _ in range(2)]
    calls.abandon(dropped)
    assert calls.owed() == 0
    assert calls.reply(kept) == b"kept"
    assert calls.reply(calls.send("ECHO", "next")) == b"next"


def test_waiting_reads_replies_until_few_enough_are_owed_and_keeps_them(svc):
    calls = _inflight(svc)
    tickets = [calls.send("ECHO", str(n)) for n in range(4)]
    calls.wait(1)
    assert calls.owed() == 1
    assert [calls.reply(t) for t in tickets] == [b"0", b"1", b"2", b"3"]


def test_forgotten_replies_are_dropped_when_a_later_reply_is_read(svc):
    calls = _inflight(svc)
    forgotten = calls.send("ECHO", "nobody waits for this")
    calls.forget([forgotten])
    assert calls.owed() == 1  # not read yet: forgetting never waits
    assert calls.reply(calls.send("ECHO", "later")) == b"later"
    assert calls.owed() == 0


def test_a_lost_connection_fails_the_replies_owed_on_it_and_the_next_send_reconnects(svc):
    calls = _inflight(svc)
    me = calls.send("CLIENT", "ID")
    owed = calls.send("BLPOP", svc.keys.counter("inflight-empty"), 5)  # waits in Redis
    svc.r.client_kill_filter(_id=calls.reply(me))  # as when Redis restarts
    with pytest.raises(redis.ConnectionError):
        calls.reply(owed)
    with pytest.raises(redis.ConnectionError):
        calls.reply(owed)  # still failed, not mixed up with a later reply
    assert calls.owed() == 0
    assert calls.reply(calls.send("ECHO", "again")) == b"again"
