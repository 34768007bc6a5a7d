"""Supervision (督办): reminders, check reminders, overdue and escalation, on an injectable clock.

While a case is unhandled its department is reminded every CASE_REMIND_INTERVAL_S
(未处置提醒); once CASE_CHECK_SHARE of the time limit has passed the reporting worker is
told to check on site (核查提醒); when the deadline passes unhandled the case is overdue
and escalates to the street supervisor of the place, and CASE_ESCALATE_AFTER_S later to
the district supervisor.

What was sent is stored on the case (reminder count, check sent, overdue, escalation
level) in the same conditional write that records the reminder in the case's history and
in the reminders outbox stream, and the next due time lives in a sorted set: a restart
neither loses a reminder (the due time is still there) nor repeats one (the case says it
was sent; two engines racing lose the version check).  After downtime the missed
reminders of a case collapse into one.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass

import redis

from dashboard import case_queries
from dashboard.cases import UNHANDLED, Case, Step

log = logging.getLogger("gridwall.reminders")

BATCH = 500  # due cases read per round trip


@dataclass(frozen=True)
class Reminder:
    """One reminder or escalation: what, about which case, to whom, when."""

    kind: str  # unhandled | check | overdue | escalate
    case: str
    to: str  # department code, worker id, 'street:<code>' or 'district'
    at: float
    n: int = 0  # for unhandled: the how-manieth reminder

    def fields(self) -> dict[str, str]:
        """Return the outbox stream fields."""
        return {"kind": self.kind, "case": self.case, "to": self.to, "at": f"{self.at:.3f}",
                "n": str(self.n)}


def check_at(case: Case, share: float) -> float:
    """Return when the worker's check reminder is due."""
    return case.dispatched_at + share * max(0.0, case.deadline - case.dispatched_at)


def next_at(case: Case, settings) -> float | None:  # noqa: ANN001 - Settings
    """Return when the next reminder of a case is due, None when nothing more will be sent."""
    times = []
    if case.state in UNHANDLED and case.dispatched_at:
        times.append(case.dispatched_at + (case.reminders + 1) * settings.case_remind_interval_s)
        if not case.overdue:
            times.append(case.deadline)
        elif case.escalation < 2:
            times.append(case.deadline + settings.case_escalate_after_s)
    if not case.check_sent and case.dispatched_at and (
            case.state in UNHANDLED or case.state == "handled"):
        times.append(check_at(case, settings.case_check_share))
    return min(times) if times else None


def plan(case: Case, now: float, settings) -> tuple[Case, list[Reminder], list[Step]]:  # noqa: ANN001
    """Return the case after the reminders due at `now`, the reminders and their history steps."""
    ch: dict[str, object] = {}
    out: list[Reminder] = []
    steps: list[Step] = []
    if case.state in UNHANDLED and case.dispatched_at:
        k = int((now - case.dispatched_at) // settings.case_remind_interval_s)
        if k > case.reminders:
            ch["reminders"] = k
            out.append(Reminder("unhandled", case.id, case.dept, now, k))
        if not case.overdue and now >= case.deadline:
            ch |= {"overdue": 1, "escalation": 1}
            out.append(Reminder("overdue", case.id, f"street:{case.street}", now))
            steps.append(Step("overdue", case.state, case.state, "system", now,
                              f"street:{case.street}", case.dept))
        if (ch.get("overdue") or case.overdue) and case.escalation < 2 and (
                now >= case.deadline + settings.case_escalate_after_s):
            ch["escalation"] = 2
            out.append(Reminder("escalate", case.id, "district", now))
    if not case.check_sent and (case.state in UNHANDLED or case.state == "handled") and (
            case.dispatched_at and now >= check_at(case, settings.case_check_share)):
        ch["check_sent"] = 1
        out.append(Reminder("check", case.id, case.worker, now))
    for r in out:
        if r.kind != "overdue":
            steps.append(Step(f"remind.{r.kind}", case.state, case.state, "system", now, r.to,
                              case.dept))
    if not ch:
        return case, [], []
    return dataclasses.replace(case, rv=case.rv + 1, **ch), out, steps


class ReminderEngine:
    """Send every reminder due by `now`; run tick(now) periodically (run() does it in a loop)."""

    def __init__(self, svc) -> None:  # noqa: ANN001 - Services
        from streams.cases import CaseStore

        self.svc = svc
        self.store = CaseStore(svc)
        self.sent = 0

    def tick(self, now: float | None = None, max_rounds: int = 100) -> list[Reminder]:
        """Send the reminders due by now (default: the services' clock); return them."""
        now = self.svc.clock.now() if now is None else now
        keys, r = self.svc.keys, self.svc.r
        sent: list[Reminder] = []
        for _ in range(max_rounds):
            ids = [i.decode() for i in r.zrangebyscore(keys.cases_remind(), "-inf", now,
                                                       start=0, num=BATCH)]
            if not ids:
                break
            groups, batch, stale = [], [], []
            for cid, case in zip(ids, self.store.get_many(ids), strict=True):
                if case is None:
                    stale.append(cid)
                    continue
                after, rems, steps = plan(case, now, self.svc.settings)
                extra = [("XADD", keys.reminders_stream(), "MAXLEN", "~", "100000", "*",
                          *[x for kv in rem.fields().items() for x in kv]) for rem in rems]
                if after is case:  # nothing due (a stale score): just move the schedule on
                    nxt = next_at(case, self.svc.settings)
                    ops = [("ZREM", keys.cases_remind(), case.id) if nxt is None else
                           ("ZADD", keys.cases_remind(), repr(max(nxt, now + 1.0)), case.id)]
                else:
                    ops = self.store.write_ops(case, after, steps, extra)
                groups.append((case, after, ops))
                batch.append((after, rems))
            if stale:
                r.zrem(keys.cases_remind(), *stale)
            applied = self.store.apply(groups)
            events = []
            for (after, rems), ok in zip(batch, applied, strict=True):
                if ok and rems:
                    sent += rems
                    kinds = [x.kind for x in rems]
                    ev = {"ev": "remind", "id": after.id, "kinds": kinds,
                          "m": case_queries.marker(self.svc, after)}
                    if "overdue" in kinds:
                        ev["row"] = case_queries.overdue_row(
                            self.svc, case_queries.wall_row(after), now)
                    events.append(ev)
            self.store.publish(events)
            if len(ids) < BATCH:
                break
        self.sent += len(sent)
        return sent

    def run(self, stop: threading.Event) -> None:
        """Tick every CASE_TICK_S until stop is set; survive Redis outages."""
        while not stop.is_set():
            try:
                self.tick()
            except redis.RedisError as exc:
                log.warning("reminders: redis unavailable (%s), retrying", exc)
            except Exception:  # noqa: BLE001 - the engine must outlive a bad case
                log.exception("reminders: unexpected error")
            stop.wait(self.svc.settings.case_tick_s)


def start_thread(svc, stop: threading.Event) -> threading.Thread:  # noqa: ANN001
    """Start the reminder engine of a consumer process in a daemon thread."""
    engine = ReminderEngine(svc)
    t = threading.Thread(target=engine.run, args=(stop,), name="reminders", daemon=True)
    t.start()
    return t
