"""The one consumer loop for every stream: read in a group, handle, ack, claim, dead-letter."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

import redis

from dashboard.clock import Clock
from dashboard.keys import Keys

log = logging.getLogger("gridwall.consumer")

Entry = tuple[bytes, dict[bytes, bytes]]

# Errors that say Redis is unreachable, not that an entry is bad: never dead-letter for them.
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


def entry_key(entry_id: bytes | str) -> tuple[int, int]:
    """Return a stream entry id as a comparable (ms, seq) pair."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class Failure:
    """An entry that cannot be processed, with the reason it goes to the dead-letter stream."""

    entry_id: bytes
    reason: str


@dataclass(frozen=True)
class Source:
    """Where a batch was read: its physical stream, the group and the consumer holding it,
    and, for a handler that reads ahead after sending, what to call once its writes are sent."""

    stream: str
    group: str
    consumer: str
    sent: Callable[[], None] | None = field(default=None, compare=False)


class Handler(Protocol):
    """What a stream module provides: its logical name, its physical streams and a batch handler."""

    name: str

    def streams(self) -> list[str]:
        """Return the physical stream keys to read."""

    def handle(self, entries: list[Entry], source: Source) -> list[Failure]:
        """Process a batch idempotently; return the entries to dead-letter.

        A handler whose `acks_applied` is true acknowledges every entry it applies itself
        (atomically with applying it); the loop then acknowledges only the failures.  A handler
        may also offer `readable(fields) -> fields`: what a dead letter shows and replays.
        A handler whose `read_ahead_after_sent` is true calls `source.sent()` once its first
        write is on its way (see Consumer._step_ahead).  A handler may also offer
        `begin(entries, source) -> finish`: it sends the batch's writes without waiting for
        them, and `finish()` waits and returns the failures; under a backlog the loop then
        begins the next batch before it finishes this one (see Consumer._begin).
        """


@dataclass
class ConsumerStats:
    """Counters of one consumer, for logs and health."""

    handled: int = 0
    deadlettered: int = 0
    claimed: int = 0
    errors: int = 0
    last_batch_at: float = 0.0


def consumer_name() -> str:
    """Return a default consumer name unique to this host and process."""
    import os

    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class Consumer:
    """Run one Handler in a consumer group until `stop` is set."""

    r: redis.Redis
    keys: Keys
    handler: Handler
    name: str = field(default_factory=consumer_name)
    batch: int = 1000
    block_ms: int = 1000
    claim_idle_ms: int = 60000
    deadletter_maxlen: int = 100000
    clock: Clock = field(default_factory=Clock)
    stop: threading.Event = field(default_factory=threading.Event)
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    on_error: Callable[[Exception], None] | None = None
    read_ahead: bool = True
    _beat_at: float = field(default=-1e9, repr=False)
    _ahead: Future | None = field(default=None, repr=False)
    _open: tuple[Source, list[Entry], Callable[[], list[Failure]]] | None = field(
        default=None, repr=False)  # a batch begun and not finished yet
    _reader: ThreadPoolExecutor | None = field(default=None, repr=False)

    @property
    def group(self) -> str:
        """Return the consumer group name."""
        return self.keys.group(self.handler.name)

    @property
    def read_size(self) -> int:
        """Return how many entries one read asks for: the handler's own batch, else `batch`."""
        return getattr(self.handler, "batch", None) or self.batch

    def ensure_groups(self) -> None:
        """Create the consumer group on every stream (and the stream) if missing."""
        for stream in self.handler.streams():
            try:
                self.r.xgroup_create(stream, self.group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def run(self) -> ConsumerStats:
        """Loop until stopped: first our own pending entries, then claims and new entries."""
        backoff = 0.1
        pending_done: set[str] = set()
        last_claim = 0.0
        while not self.stop.is_set():
            try:
                self.ensure_groups()
                for stream in self.handler.streams():
                    if stream not in pending_done:
                        self._drain_own_pending(stream)
                        pending_done.add(stream)
                if time.monotonic() - last_claim > max(1.0, self.claim_idle_ms / 4000):
                    self.claim_stale()
                    last_claim = time.monotonic()
                self._step_ahead(self.block_ms)
                self._heartbeat()
                backoff = 0.1
            except REDIS_DOWN as exc:
                # Redis restarted or the network blipped: wait and carry on with the same group.
                log.warning("consumer %s: redis unavailable (%s), retrying", self.name, exc)
                self._drop_ahead()
                pending_done.clear()
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:  # noqa: BLE001 - the loop must survive any handler bug
                self.stats.errors += 1
                log.exception("consumer %s: unexpected error", self.name)
                self._drop_ahead()
                pending_done.clear()
                if self.on_error:
                    self.on_error(exc)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        self._finish_ahead()
        return self.stats

    def step(self, block_ms: int | None = 0) -> int:
        """Read and process at most one batch of new entries per stream; return how many."""
        total = sum(self.process(stream, entries) for stream, entries in self._read(block_ms))
        if total == 0 and len(self.handler.streams()) > 1 and block_ms:
            self.stop.wait(min(block_ms, 200) / 1000)  # several shards: no single BLOCK possible
        return total

    def drain(self) -> int:
        """Process entries until the streams are empty (for tests and benchmarks)."""
        self.ensure_groups()
        done = 0
        while n := self._step_ahead(None):
            done += n
        self._finish_ahead()
        return done

    def _read(self, block_ms: int | None) -> list[tuple[str, list[Entry]]]:
        """Read one batch of new entries from each stream (BLOCK only when there is one)."""
        streams = self.handler.streams()
        single = len(streams) == 1
        out = []
        for stream in streams:
            resp = self.r.xreadgroup(
                self.group,
                self.name,
                {stream: ">"},
                count=self.read_size,
                block=block_ms if single and block_ms else None,
            )
            out.extend((stream, entries) for _name, entries in resp or [] if entries)
        return out

    def _step_ahead(self, block_ms: int | None) -> int:
        """Like step, but while a full batch is handled the next one is already being read.

        Handling is Python work and reading is Redis work, so on two cores they overlap when
        there is a backlog; a batch that was not full means the stream is caught up, and then
        the loop reads afresh instead (a read ahead would mostly come back empty).  Batches are
        still handled one at a time, in order, in this thread.
        """
        if not self.read_ahead:
            return self.step(block_ms)
        ahead, self._ahead = self._ahead, None
        batches = ahead.result() if ahead is not None else []
        if not batches:
            self._finish_open()  # caught up: finish the batch begun before waiting for more
            batches = self._read(block_ms)
        if not batches:
            if len(self.handler.streams()) > 1 and block_ms:
                self.stop.wait(min(block_ms, 200) / 1000)
            return 0
        full = any(len(entries) >= self.read_size for _stream, entries in batches)
        # A handler that sends its writes without waiting (the dispatcher) asks for the read
        # once its first write is sent: the read then waits in Redis behind it instead of
        # delaying that write, and its reply is parsed while the handler has time to spare.
        later = full and getattr(self.handler, "read_ahead_after_sent", False)
        if full and not later:
            self._start_ahead()
        run = self._begin if full and hasattr(self.handler, "begin") else self.process
        done = sum(run(stream, entries, self._start_ahead if later else None)
                   for stream, entries in batches)
        if later:
            self._start_ahead()  # the handler sent nothing, or did not say
        return done

    def _start_ahead(self) -> None:
        """Start reading the next batch in the reader thread (once per batch)."""
        if self._ahead is None:
            if self._reader is None:
                self._reader = ThreadPoolExecutor(1, thread_name_prefix=f"read-{self.handler.name}")
            self._ahead = self._reader.submit(self._read, None)

    def _drop_ahead(self) -> None:
        """Forget the batches begun or read ahead (after an error), without acknowledging
        them: they stay pending for our own re-drain."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            wait([ahead])  # its read must land before the re-drain looks at what is pending
        opened, self._open = self._open, None
        if opened is not None:
            _source, _entries, finish = opened
            try:
                finish()  # its writes are waited for, so none is left behind on the wire
            except Exception:  # noqa: BLE001 - redelivered and handled again anyway
                log.warning("consumer %s: a begun batch failed while dropped", self.name)

    def _finish_ahead(self) -> None:
        """Handle the batches begun or read ahead before stopping: nothing is left pending."""
        ahead, self._ahead = self._ahead, None
        try:
            self._finish_open()
            for stream, entries in ahead.result() if ahead is not None else []:
                self.process(stream, entries)
        except REDIS_DOWN:
            pass  # still pending: this consumer's next start, or a claim, handles it
        if self._reader is not None:
            self._reader.shutdown(wait=True)
            self._reader = None

    def process(self, stream: str, entries: list[Entry],
                sent: Callable[[], None] | None = None) -> int:
        """Handle a batch, dead-letter failures, ack everything; isolate a poison entry."""
        self._finish_open()  # batches are finished in the order they were read
        entries = [e for e in entries if e[1] is not None]  # trimmed while pending
        if not entries:
            return 0
        source = Source(stream, self.group, self.name, sent)
        self._settle(source, entries, lambda: self.handler.handle(entries, source))
        return len(entries)

    def _begin(self, stream: str, entries: list[Entry],
               sent: Callable[[], None] | None = None) -> int:
        """Begin a batch (its writes are sent), then finish the batch begun before it.

        So Redis already has this batch's writes queued while the last one's replies are
        read, its failures dead-lettered and its entries acknowledged: it is not left idle
        between batches.  Each batch is still acknowledged only once finished.
        """
        entries = [e for e in entries if e[1] is not None]
        if not entries:
            return 0
        source = Source(stream, self.group, self.name, sent)
        try:
            finish = self.handler.begin(entries, source)
        except REDIS_DOWN:
            raise
        except Exception as exc:  # noqa: BLE001 - handled again, one by one if need be
            log.warning("beginning a batch of %d failed (%s)", len(entries), exc)
            return self.process(stream, entries, sent)
        opened, self._open = self._open, (source, entries, finish)
        if opened is not None:
            self._settle(*opened)
        return len(entries)

    def _finish_open(self) -> None:
        """Finish the batch begun and not finished yet, if any."""
        opened, self._open = self._open, None
        if opened is not None:
            self._settle(*opened)

    def _settle(self, source: Source, entries: list[Entry],
                run: Callable[[], list[Failure]]) -> None:
        """Run a batch's handling, dead-letter its failures and acknowledge it."""
        stream = source.stream
        try:
            failures = run()
        except REDIS_DOWN:
            raise  # not the entries' fault: leave them pending, the loop retries after a pause
        except Exception as exc:  # noqa: BLE001 - isolate the entry that breaks the batch
            log.warning("batch of %d failed (%s); handling one by one", len(entries), exc)
            failures = []
            for entry in entries:
                try:
                    failures.extend(self.handler.handle([entry], source))
                except REDIS_DOWN:
                    raise
                except Exception as one:  # noqa: BLE001
                    failures.append(
                        Failure(entry[0], f"handler error: {type(one).__name__}: {one}")
                    )
        by_id = {e[0]: e[1] for e in entries}
        pipe = self.r.pipeline(transaction=False)
        for f in failures:
            self._deadletter(pipe, stream, f, by_id.get(f.entry_id, {}))
        if getattr(self.handler, "acks_applied", False):  # it acknowledged what it applied
            acks = [f.entry_id for f in failures]
        else:
            acks = [e[0] for e in entries]
        if acks:
            pipe.xack(stream, self.group, *acks)
        pipe.execute()
        self.stats.handled += len(entries)
        self.stats.deadlettered += len(failures)
        self.stats.last_batch_at = self.clock.now()

    def claim_stale(self) -> int:
        """Take over entries a dead consumer left pending longer than claim_idle_ms."""
        claimed = 0
        for stream in self.handler.streams():
            start = "0-0"
            while True:
                resp = self.r.xautoclaim(
                    stream,
                    self.group,
                    self.name,
                    self.claim_idle_ms,
                    start_id=start,
                    count=self.batch,
                )
                start, entries = resp[0], resp[1]
                if entries:
                    claimed += self.process(stream, entries)
                if start in (b"0-0", "0-0") or not entries:
                    break
        self.stats.claimed += claimed
        return claimed

    def _drain_own_pending(self, stream: str) -> None:
        while True:
            resp = self.r.xreadgroup(self.group, self.name, {stream: "0"}, count=self.batch)
            entries = resp[0][1] if resp else []
            if not entries or self.process(stream, entries) == 0:
                return

    def _deadletter(
        self, pipe: redis.client.Pipeline, stream: str, f: Failure, fields: dict[bytes, bytes]
    ) -> None:
        readable = getattr(self.handler, "readable", None)  # e.g. a packed GPS fix, unpacked
        shown = readable(fields) if readable else fields
        raw = {
            k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in shown.items()
        }
        name = self.handler.name
        pipe.xadd(
            self.keys.deadletter(name),
            {
                "stream": stream,
                "id": f.entry_id,
                "reason": f.reason[:500],
                "fields": json.dumps(raw, ensure_ascii=False)[:20000],
                "at": f"{self.clock.now():.3f}",
            },
            maxlen=self.deadletter_maxlen,
            approximate=True,
        )
        pipe.hincrby(self.keys.deadletter_reasons(name), f.reason.split(":", 1)[0][:80], 1)

    def _heartbeat(self) -> None:
        """Record that this consumer is alive, at most once a second (a round trip each)."""
        now = time.monotonic()
        if now - self._beat_at < 1.0:
            return
        self._beat_at = now
        self.r.hset(
            self.keys.consumers_heartbeat(),
            f"{self.handler.name}/{self.name}",
            f"{self.clock.now():.0f}",
        )
