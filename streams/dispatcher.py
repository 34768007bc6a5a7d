"""The `events` stream handler: reports become dispatched (or linked) cases.

Processing order of a batch of reports: the reporters' GPS context, for the worker ids the
entries name (one round trip) -> per chunk: parse -> known item and worker -> locate (one
vectorised call) -> route to a department, urgency, deadline -> rows for CREATE_LUA, sent
without waiting (`begin`) -> then (`finish`) the replies, and the dispatched cases published
to the wall.  Under a backlog the consumer loop begins the next batch before it finishes
this one, so Redis has the next script queued while this thread reads replies and acks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import orjson

from dashboard import reminders
from dashboard.case_queries import marker_of
from dashboard.cases import Case, Step
from dashboard.catalog import Catalog, Limit, catalog_for
from dashboard.dispatch import RoutingError, deadline, route, urgency_of
from dashboard.services import Services
from streams import cases
from streams.cases import CaseStore, Chunk, dispatched_row
from streams.consumer import Entry, Failure, Source
from streams.fixes import InvalidInput
from streams.gps_state import OFFLINE, WorkerState
from streams.reports import Report, report_from_fields


def peek_worker(fields: dict[bytes, bytes]) -> str | None:
    """Return the worker id an events entry names, without parsing it (None if unsure).

    In report_fields' JSON a quote inside a value is escaped, so `"w":"` is the key.
    """
    raw = fields.get(b"r")
    if raw is None:
        w = fields.get(b"w")  # an entry with a field per value
        return w.decode("utf-8", "replace") if w else None
    start = raw.find(b'"w":"') + 5
    end = raw.find(b'"', start)
    if start < 5 or end < 0 or raw.find(b"\\", start, end) >= 0:
        return None
    return raw[start:end].decode("utf-8", "replace")


def spans(n: int, size: int) -> list[tuple[int, int]]:
    """Return (start, end) chunks of n items: `size` each, but the first and last a quarter
    of it, so that little is prepared before the first write or written after the last."""
    if n <= size:
        return [(0, n)]
    edge = max(1, size // 4)
    cuts = [0, edge]
    while n - cuts[-1] > size:
        cuts.append(cuts[-1] + size)
    if n - cuts[-1] > edge:
        cuts.append(n - edge)
    return list(zip(cuts, [*cuts[1:], n], strict=True))


@dataclass
class _Batch:
    """What the chunks of one batch share: its time, the reporters' GPS state, its failures,
    and caches (deadline and reminder by time limit, dispatch step by department)."""

    now: float
    now_s: str
    gps: dict[str, WorkerState]
    failures: list[Failure]
    due: dict[Limit, tuple[float, str, str]] = field(default_factory=dict)
    steps: dict[str, str] = field(default_factory=dict)


class CaseHandler:
    """Consumer-side handler of the events stream: reports -> dispatched or linked cases."""

    name = "events"
    batch = 8 * cases.CHUNK  # reports per read: while one chunk is written the next is prepared
    read_ahead_after_sent = True  # the next read goes to Redis once this batch's first write has

    def __init__(self, svc: Services) -> None:
        self.svc, self.r, self.keys, self.s = svc, svc.r, svc.keys, svc.settings
        self.catalog: Catalog = catalog_for(svc)
        self.store = CaseStore(svc)
        self.tz = svc.days.tz
        svc.locator.cells()  # build the cell index now, not under the first report

    def streams(self) -> list[str]:
        """Return the events stream."""
        return [self.keys.events_stream()]

    def handle(self, entries: list[Entry], source: Source | None = None) -> list[Failure]:
        """Dispatch a batch of reports idempotently; dead-letter what cannot become a case."""
        failures = self.begin(entries, source)()
        self.store.wait_sent()  # the map's message too: no reply is left owed between batches
        return failures

    def begin(self, entries: list[Entry],
              source: Source | None = None) -> Callable[[], list[Failure]]:
        """Send a batch's writes; return what waits for them and returns the failures.

        A large batch is parsed, prepared and sent a chunk at a time without waiting: while
        Redis runs one chunk's script this thread prepares the next, so on two cores the
        Python and the Redis work overlap.  Chunks are written in order, after those of a
        batch begun earlier, so a report can be linked to a case of an earlier chunk.  The
        reporters' GPS state is read first, for the worker ids the entries name
        (peek_worker), so that the first chunk goes out without the whole batch being
        parsed; a worker the peek missed is read with its chunk.
        """
        failures: list[Failure] = []
        now = self.svc.clock.now()
        asked = {w for _, f in entries if (w := peek_worker(f))}
        batch = _Batch(now, repr(float(now)), self._gps_states(asked), failures)
        markers: list[list[bytes]] = []

        def chunks() -> Iterator[Chunk]:
            for a, b in spans(len(entries), cases.CHUNK):
                reports = self._parse(entries[a:b], failures)
                if missed := {rep.worker for _, rep in reports} - asked:
                    batch.gps.update(self._gps_states(missed))
                    asked.update(missed)
                chunk, m = self._prepare(self._locate(reports, failures), batch)
                markers.append(m)
                yield chunk

        replies = self.store.send_rows(chunks(), now, source.sent if source else None)

        def finish() -> list[Failure]:
            for m, res in zip(markers, replies(), strict=True):  # the dispatched go on the map
                self.store.publish_encoded([x for x, r in zip(m, res, strict=True) if r is True],
                                           wait=False)
            return failures

        return finish

    def _parse(self, entries: list[Entry], failures: list[Failure]) -> list[tuple[bytes, Report]]:
        """Return (entry id, report) of the well-formed reports of a known item and worker."""
        reports: list[tuple[bytes, Report]] = []
        for eid, fields in entries:
            try:
                rep = report_from_fields(fields)
            except InvalidInput as exc:
                failures.append(Failure(eid, str(exc)))
                continue
            if self.catalog.item(rep.item) is None:
                failures.append(Failure(eid, f"unknown service_code: {rep.item[:40]}"))
            elif self.svc.district.worker(rep.worker) is None:
                failures.append(Failure(eid, f"unknown worker: {rep.worker[:64]}"))
            else:
                reports.append((eid, rep))
        return reports

    def _locate(self, reports: list[tuple[bytes, Report]], failures: list[Failure]) -> list:
        """Return (entry id, report, place) of the reports inside the district."""
        if not reports:
            return []
        where = self.svc.locator.locate_many(np.array([r.lon for _, r in reports]),
                                             np.array([r.lat for _, r in reports]))
        located = []
        for (eid, rep), gi in zip(reports, where, strict=True):
            if gi < 0:
                failures.append(Failure(eid, "outside district: the location is in no grid"))
            else:
                located.append((eid, rep, self.svc.locator.place(int(gi))))
        return located

    def _prepare(self, part: list, batch: _Batch) -> tuple[Chunk, list[bytes]]:
        """Return the CREATE_LUA chunk of the routable reports and their map markers."""
        rows, markers = [], []
        district, day, svc = self.svc.district, self.svc.days.day, self.svc
        now, steps, due_by = batch.now, batch.steps, batch.due
        for eid, rep, place in part:
            item = self.catalog.item(rep.item)
            try:
                dept = route(item, place, district)
            except RoutingError as exc:
                batch.failures.append(Failure(eid, f"unroutable: {exc}"))
                continue
            if dept not in steps:
                steps[dept] = orjson.dumps(Step(
                    "dispatch", "reported", "dispatched", "system", now, "", dept).as_dict()
                ).decode()
            og, op = self._gps_context(rep, batch.gps.get(rep.worker))
            urgency = urgency_of(item, rep.urgency)
            limit = item.limit(urgency)
            if (due := due_by.get(limit)) is None:
                due = due_by[limit] = self._due_of(limit, now)
            rows.append(dispatched_row(rep, urgency, dept, place, og, op, batch.now_s, due[1],
                                       due[2], day(rep.at)))
            markers.append(orjson.dumps({"ev": "case", "m": marker_of(
                svc, rep.id, rep.lat, rep.lon, urgency, "dispatched", due[0], rep.item, dept)}))
        return (orjson.dumps(rows), orjson.dumps(steps)), markers

    def _due_of(self, limit: Limit, now: float) -> tuple[float, str, str]:
        """Return the deadline of a case dispatched now with a time limit, as a number and as
        text, and its first reminder time as text."""
        dl = deadline(limit, now, self.tz)
        probe = Case(id="", item="", urgency="", state="dispatched", dept="", lat=0.0, lon=0.0,
                     grid="", station="", street="", worker="", reported_at=now,
                     updated_at=now, dispatched_at=now, deadline=dl)
        nxt = reminders.next_at(probe, self.s)
        return dl, repr(dl), "" if nxt is None else repr(float(nxt))

    def _gps_states(self, workers: set[str]) -> dict[str, WorkerState]:
        """Return the GPS state of the reporting workers: one round trip."""
        by_shard: dict[int, list[str]] = {}
        for w in sorted(workers):
            by_shard.setdefault(self.keys.gps_shard(w), []).append(w)
        pipe = self.r.pipeline(transaction=False)
        for shard, names in by_shard.items():
            pipe.hmget(self.keys.gps_last(shard), names)
        gps: dict[str, WorkerState] = {}
        for names, vals in zip(by_shard.values(), pipe.execute(), strict=True):
            gps.update({w: WorkerState.unpack(v) for w, v in zip(names, vals, strict=True) if v})
        return gps

    def _gps_context(self, rep: Report, st: WorkerState | None) -> tuple[int, int]:
        """Return (inside own grid, on patrol) of the reporter at report time: 1, 0 or -1."""
        if st is None:
            return -1, 0
        if abs(rep.at - st.ts) > self.s.offline_after_s or st.status == OFFLINE:
            return -1, 0
        own = self.svc.district.worker(rep.worker).grid
        return int(st.grid == own), 1
