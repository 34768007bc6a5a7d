"""The one consumer loop: groups, ack after handling, poison isolation, dead letters, stop."""

from __future__ import annotations

import contextlib
import json
import threading
import time

from streams.consumer import Consumer, Failure


class Recorder:
    """A stream handler that records payloads, refuses 'bad' ones and crashes on 'boom'."""

    name = "demo"

    def __init__(self, keys):
        self.keys = keys
        self.seen: list[str] = []

    def streams(self):
        return [f"{self.keys.prefix}:{{demo}}:entries"]

    def handle(self, entries, source):
        failures = []
        for eid, fields in entries:
            body = fields[b"body"].decode()
            if body == "boom":
                raise RuntimeError("handler bug")
            if body == "bad":
                failures.append(Failure(eid, "malformed: bad body"))
            else:
                self.seen.append(body)
        return failures


def _consumer(svc, handler, **kw):
    return Consumer(svc.r, svc.keys, handler, name="c1", clock=svc.clock, **kw)


def test_entries_are_handled_and_acked(svc):
    h = Recorder(svc.keys)
    for b in ("a", "b", "c"):
        svc.r.xadd(h.streams()[0], {"body": b})
    c = _consumer(svc, h)
    assert c.drain() == 3
    assert h.seen == ["a", "b", "c"]
    assert svc.r.xpending(h.streams()[0], c.group)["pending"] == 0


def test_a_poison_entry_is_dead_lettered_and_the_rest_of_its_batch_is_handled(svc):
    h = Recorder(svc.keys)
    ids = [svc.r.xadd(h.streams()[0], {"body": b}) for b in ("a", "boom", "c", "bad")]
    c = _consumer(svc, h)
    c.drain()
    assert h.seen.count("a") >= 1 and "c" in h.seen
    dl = svc.r.xrange(svc.keys.deadletter("demo"))
    reasons = {e[1][b"id"]: e[1][b"reason"].decode() for e in dl}
    assert reasons == {
        ids[1]: "handler error: RuntimeError: handler bug",
        ids[3]: "malformed: bad body",
    }
    assert json.loads(dl[0][1][b"fields"]) == {"body": "boom"}
    assert svc.r.xpending(h.streams()[0], c.group)["pending"] == 0


def test_dead_letters_are_counted_by_reason(svc):
    h = Recorder(svc.keys)
    for b in ("bad", "bad", "boom"):
        svc.r.xadd(h.streams()[0], {"body": b})
    _consumer(svc, h).drain()
    counts = svc.r.hgetall(svc.keys.deadletter_reasons("demo"))
    assert counts == {b"malformed": b"2", b"handler error": b"1"}


def test_a_restarted_consumer_first_finishes_its_own_pending_entries(svc):
    h = Recorder(svc.keys)
    c = _consumer(svc, h, block_ms=10)
    c.ensure_groups()
    svc.r.xadd(h.streams()[0], {"body": "left over"})
    svc.r.xreadgroup(c.group, "c1", {h.streams()[0]: ">"})  # read, then the process died
    stop = threading.Event()
    c.stop = stop
    t = threading.Thread(target=c.run)
    t.start()
    stop.wait(0.3)
    stop.set()
    t.join(5)
    assert h.seen == ["left over"]


def test_setting_stop_ends_the_loop_cleanly(svc):
    c = _consumer(svc, Recorder(svc.keys), block_ms=20)
    t = threading.Thread(target=c.run)
    t.start()
    c.stop.set()
    t.join(5)
    assert not t.is_alive()


def test_entries_are_not_dead_lettered_when_redis_drops_mid_batch(svc):
    import pytest
    import redis

    class Flaky(Recorder):
        def handle(self, entries, source):
            raise redis.ConnectionError("connection reset")

    h = Flaky(svc.keys)
    svc.r.xadd(h.streams()[0], {"body": "a"})
    c = _consumer(svc, h)
    with pytest.raises(redis.ConnectionError):
        c.drain()
    assert svc.r.xlen(svc.keys.deadletter("demo")) == 0
    assert svc.r.xpending(h.streams()[0], c.group)["pending"] == 1


def test_the_next_batch_is_read_while_one_is_handled_and_batches_keep_their_order(svc):
    stream = Recorder(svc.keys).streams()[0]
    pending_seen: list[int] = []

    class Watcher(Recorder):
        def handle(self, entries, source):
            if not pending_seen:  # first batch: wait until the second one is delivered to us
                deadline = time.monotonic() + 2
                while svc.r.xpending(stream, source.group)["pending"] < 4:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
                pending_seen.append(svc.r.xpending(stream, source.group)["pending"])
            return super().handle(entries, source)

    h = Watcher(svc.keys)
    for b in "abcdefg":
        svc.r.xadd(stream, {"body": b})
    assert _consumer(svc, h, batch=2).drain() == 7
    assert pending_seen == [4]  # its own 2 and the 2 read ahead
    assert h.seen == list("abcdefg")


def test_a_stopped_consumer_first_handles_the_batch_it_read_ahead(svc):
    class StopAfterFirst(Recorder):
        def handle(self, entries, source):
            c.stop.set()
            time.sleep(0.2)  # the read ahead lands meanwhile
            return super().handle(entries, source)

    h = StopAfterFirst(svc.keys)
    for b in "abcd":
        svc.r.xadd(h.streams()[0], {"body": b})
    c = _consumer(svc, h, batch=2, block_ms=20)
    c.run()
    assert h.seen == list("abcd")
    assert svc.r.xpending(h.streams()[0], c.group)["pending"] == 0


def test_a_handler_that_reads_ahead_after_sending_gets_the_next_read_only_then(svc):
    class SendsFirst(Recorder):
        read_ahead_after_sent = True

        def handle(self, entries, source):
            pending.append(svc.r.xpending(stream, c.group)["pending"])  # nothing read ahead yet
            if source.sent is not None:  # a full batch: the stream may hold more
                source.sent()  # as the dispatcher does once its writes are on their way
                source.sent()  # a second call (one entry at a time after a failure): no read
                c._ahead.result()  # noqa: SLF001 - the read it started has landed
                pending.append(svc.r.xpending(stream, c.group)["pending"])
            return super().handle(entries, source)

    pending: list[int] = []
    h = SendsFirst(svc.keys)
    stream = h.streams()[0]
    for b in "abcde":
        svc.r.xadd(stream, {"body": b})
    c = _consumer(svc, h, batch=2)
    assert c.drain() == 5
    assert h.seen == list("abcde")
    assert pending == [2, 4, 2, 3, 1]  # its own batch, then the next one too; the last: no read


@contextlib.contextmanager
def _running(c):
    """Run a consumer's loop in a thread for the block, and stop it after."""
    t = threading.Thread(target=c.run)
    t.start()
    try:
        yield
    finally:
        c.stop.set()
        t.join(5)


def _soon(condition, seconds):
    """Return whether a condition holds within some seconds."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Beginner(Recorder):
    """A handler that sends its writes without waiting (as the dispatcher does): `begin`
    returns what finishes the batch.  It logs each step, refuses to begin a batch with '!'
    and can be told to find Redis gone when it begins a batch with 'down'."""

    def __init__(self, keys, r, group):
        super().__init__(keys)
        self.r, self.group, self.log = r, group, []
        self.down_once = True
        self.down_at_finish = None

    def begin(self, entries, source):
        bodies = "".join(f[b"body"].decode() for _, f in entries)
        self.log.append(f"begin {bodies}")
        if "!" in bodies:
            raise RuntimeError("cannot begin")
        if "down" in bodies and self.down_once:
            self.down_once = False
            import redis

            raise redis.ConnectionError("connection reset")

        def finish():
            pending = {p["message_id"] for p in self.r.xpending_range(
                source.stream, self.group, "-", "+", 100)}
            unacked = all(eid in pending for eid, _ in entries)
            self.log.append(f"finish {bodies}" + ("" if unacked else " (acked already!)"))
            if bodies == self.down_at_finish:
                self.down_at_finish = None
                import redis

                raise redis.ConnectionError("connection reset")
            return Recorder.handle(self, entries, source)

        return finish

    def handle(self, entries, source):
        return self.begin(entries, source)()


def _begun(svc, bodies, **kw):
    """Return (stream, entry ids, consumer) of a Beginner consumer over entries of bodies."""
    stream = Recorder(svc.keys).streams()[0]
    ids = [svc.r.xadd(stream, {"body": b}) for b in bodies]
    c = _consumer(svc, Recorder(svc.keys), **kw)
    c.handler = Beginner(svc.keys, svc.r, c.group)
    return stream, ids, c


def test_a_handler_that_begins_has_its_next_batch_begun_before_the_last_is_finished(svc):
    stream, _ids, c = _begun(svc, "abcde", batch=2)
    h = c.handler
    assert c.drain() == 5
    # full batches overlap; the last, not full, is finished at once (the stream caught up)
    assert h.log == ["begin ab", "begin cd", "finish ab", "finish cd", "begin e", "finish e"]
    assert h.seen == list("abcde")
    assert svc.r.xpending(stream, c.group)["pending"] == 0


def test_a_batch_that_cannot_begin_is_isolated_after_the_batch_before_it_is_finished(svc):
    stream, ids, c = _begun(svc, "ab!d", batch=2)
    h = c.handler
    assert c.drain() == 4
    assert h.log == ["begin ab", "begin !d", "finish ab", "begin !d", "begin !", "begin d",
                     "finish d"]
    assert h.seen == ["a", "b", "d"]
    dl = svc.r.xrange(svc.keys.deadletter("demo"))
    assert [(e[1][b"id"], e[1][b"reason"]) for e in dl] == [
        (ids[2], b"handler error: RuntimeError: cannot begin")]
    assert svc.r.xpending(stream, c.group)["pending"] == 0


def test_a_begun_batch_is_finished_before_the_loop_waits_for_more_entries(svc):
    stream, _ids, c = _begun(svc, "ab", batch=2, block_ms=3000)
    h = c.handler
    with _running(c):
        assert _soon(lambda: not svc.r.xpending(stream, c.group)["pending"] and h.seen, 2), \
            "the begun batch waited for the next read"  # 2 s: shorter than the read's block
    assert h.log == ["begin ab", "finish ab"]


def test_when_redis_drops_as_a_batch_begins_both_open_batches_are_handled_again(svc):
    stream, _ids, c = _begun(svc, ["a", "b", "down", "d"], batch=2, block_ms=20)
    h = c.handler
    with _running(c):
        assert _soon(lambda: not svc.r.xpending(stream, c.group)["pending"] and "d" in h.seen, 3)
    # "ab" was finished but not acknowledged when Redis dropped, so it came back too
    assert h.log[:3] == ["begin ab", "begin downd", "finish ab"]
    assert h.seen.count("a") == 2 and h.seen[-2:] == ["down", "d"]
    assert svc.r.xlen(svc.keys.deadletter("demo")) == 0


def test_when_redis_drops_as_a_batch_finishes_the_batch_begun_after_it_is_finished_too(svc):
    stream, _ids, c = _begun(svc, "abcd", batch=2, block_ms=20)
    h = c.handler
    h.down_at_finish = "ab"
    with _running(c):
        assert _soon(lambda: not svc.r.xpending(stream, c.group)["pending"]
                     and h.seen.count("d") == 2, 3)
    # "cd" was begun: its writes are waited for (not acknowledged), then both come back
    assert h.log[:4] == ["begin ab", "begin cd", "finish ab", "finish cd"]
    assert h.seen == ["c", "d", "a", "b", "c", "d"]
    assert svc.r.xlen(svc.keys.deadletter("demo")) == 0
