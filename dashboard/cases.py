"""The Case record and its lifecycle state machine (GB/T 30428's seven steps); pure, no Redis.

collect/file -> dispatch -> handle -> feedback -> verify and close -> evaluate:

    reported -> dispatched -> accepted -> handled -> verified -> closed
                    ^  |          |          |
                    |  +-return---+          +-reopen (the worker finds it not done) -> accepted
                    +-- redispatch <- returned (district supervisor's queue)
    linked (a likely duplicate of an open case) -unlink-> dispatched

Every transition returns the new Case and one history Step; an illegal one raises
IllegalTransition with the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from dashboard.dispatch import SUPERVISOR

UNHANDLED = frozenset({"dispatched", "accepted", "returned"})  # the deadline is running
OPEN = UNHANDLED | {"handled", "verified"}  # not closed; counted in backlogs
STATES = ("reported", "dispatched", "accepted", "handled", "verified", "closed", "returned",
          "linked")

# action -> (states it may start from, who may do it)
ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({"dispatched"}), "dept"),
    "handle": (frozenset({"dispatched", "accepted"}), "dept"),
    "return": (frozenset({"dispatched", "accepted"}), "dept"),
    "redispatch": (frozenset({"returned", "dispatched", "accepted"}), "supervisor"),
    "verify": (frozenset({"handled"}), "worker"),
    "reopen": (frozenset({"handled"}), "worker"),
    "close": (frozenset({"verified"}), "supervisor"),
    "unlink": (frozenset({"linked"}), "supervisor"),
}


class IllegalTransition(ValueError):
    """A transition the case's state (or the input) does not allow; the message says why."""


@dataclass(frozen=True)
class Case:
    """One reported problem, from report to evaluation."""

    id: str
    item: str
    urgency: str
    state: str
    dept: str  # handling department, SUPERVISOR while in the district supervisor's queue
    lat: float
    lon: float
    grid: str
    station: str
    street: str
    worker: str  # the reporting worker
    reported_at: float
    updated_at: float
    description: str = ""
    media_url: str = ""
    dispatched_at: float = 0.0
    deadline: float = 0.0
    accepted_at: float = 0.0
    handled_at: float = 0.0
    verified_at: float = 0.0
    closed_at: float = 0.0
    in_own_grid: int = -1  # reporter inside their own grid when reporting: 1, 0, -1 unknown
    on_patrol: int = -1  # reporter patrolling (moving in own grid, GPS fresh): 1, 0, -1 unknown
    linked_to: str = ""  # for a likely duplicate: the open case it was linked to
    links: int = 0  # reports linked to this case
    note: str = ""  # last handling note or return reason
    attrs: str = ""  # JSON of Open311 attribute[...] values
    reminders: int = 0  # unhandled reminders sent to the current department
    check_sent: int = 0  # 1 once the worker got the check reminder
    overdue: int = 0  # 1 once the deadline passed while unhandled (counted late)
    escalation: int = 0  # 0 none, 1 street supervisor, 2 district supervisor
    returns: int = 0
    rv: int = 0  # version: bumped by every write, compared by every conditional write

    @property
    def is_open(self) -> bool:
        """Tell whether the case is in the backlogs (not closed, not linked)."""
        return self.state in OPEN

    @property
    def unhandled(self) -> bool:
        """Tell whether the case's deadline is still running."""
        return self.state in UNHANDLED


@dataclass(frozen=True)
class Step:
    """One entry of a case's history: who did what, when, from which state to which."""

    action: str
    frm: str
    to: str
    actor: str
    at: float
    note: str = ""
    dept: str = ""

    def as_dict(self) -> dict:
        """Return the JSON form of the step."""
        return {"action": self.action, "from": self.frm, "to": self.to, "actor": self.actor,
                "at": round(self.at, 3), "note": self.note, "dept": self.dept}


# Case field -> short hash field in Redis (memory: a million closed cases stay in Redis).
FIELDS = {
    "id": "id", "item": "it", "urgency": "u", "state": "s", "dept": "d", "lat": "la",
    "lon": "lo", "grid": "g", "station": "sn", "street": "sr", "worker": "w",
    "reported_at": "at", "updated_at": "up", "description": "ds", "media_url": "m",
    "dispatched_at": "da", "deadline": "dl", "accepted_at": "aa", "handled_at": "ha",
    "verified_at": "va", "closed_at": "ca", "in_own_grid": "og", "on_patrol": "op",
    "linked_to": "lk", "links": "ln", "note": "nt", "attrs": "ax", "reminders": "rn",
    "check_sent": "rc", "overdue": "od", "escalation": "es", "returns": "rt", "rv": "rv",
}
_TYPES = {f.name: f.type for f in dataclasses.fields(Case)}
_SHORT = {v: k for k, v in FIELDS.items()}
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Case)}


_PLAN = [(name, short, _DEFAULTS[name], name in ("rv", "state")) for name, short in FIELDS.items()]


def to_hash(case: Case, before: Case | None = None) -> dict[str, str]:
    """Return the Redis hash fields of a case (only those that differ from `before`;
    for a new case, only those that differ from the defaults)."""
    d = case.__dict__
    if before is None:
        return {short: repr(v) if type(v) is float else str(v)
                for name, short, default, always in _PLAN
                if (v := d[name]) != default or always}
    b = before.__dict__
    return {short: repr(v) if type(v) is float else str(v)
            for name, short, _default, _always in _PLAN if (v := d[name]) != b[name]}


def from_hash(raw: Mapping[bytes | str, bytes | str]) -> Case:
    """Return the Case stored in a Redis hash."""
    values: dict[str, object] = {}
    for k, v in raw.items():
        name = _SHORT.get(k.decode() if isinstance(k, bytes) else k)
        if name is None:
            continue
        text = v.decode() if isinstance(v, bytes) else v
        kind = _TYPES[name]
        values[name] = float(text) if kind == "float" else int(text) if kind == "int" else text
    return Case(**values)


def transition(case: Case, action: str, actor: str, now: float, *, note: str = "",
               dept: str = "", deadline: float = 0.0) -> tuple[Case, Step]:
    """Return the case after `action` by `actor` at `now`, and its history step.

    `dept` is the target of return (optional: empty = the district supervisor's queue) and
    of redispatch/unlink (required); `deadline` is the new deadline of redispatch/unlink.
    """
    rule = ACTIONS.get(action)
    if rule is None:
        raise IllegalTransition(f"unknown action {action!r}")
    sources, _who = rule
    if case.state not in sources:
        allowed = " or ".join(sorted(sources))
        raise IllegalTransition(f"cannot {action} a case that is {case.state} "
                                f"(only when {allowed})")
    note = note.strip()
    ch: dict[str, object] = {"updated_at": now, "rv": case.rv + 1}
    to = {"accept": "accepted", "handle": "handled", "verify": "verified", "reopen": "accepted",
          "close": "closed", "redispatch": "dispatched", "unlink": "dispatched"}.get(action, "")
    if action == "accept":
        ch["accepted_at"] = now
    elif action == "handle":
        if not note:
            raise IllegalTransition("handle needs a note saying what was done")
        ch |= {"handled_at": now, "note": note, "accepted_at": case.accepted_at or now}
        if now > case.deadline and not case.overdue:
            ch["overdue"] = 1  # late: counted once, here, since the engine has not seen it yet
    elif action == "return":
        if not note:
            raise IllegalTransition("return needs a reason")
        if dept and dept == case.dept:
            raise IllegalTransition("cannot return a case to the department that holds it")
        to = "dispatched" if dept else "returned"
        ch |= {"note": note, "returns": case.returns + 1, "dept": dept or SUPERVISOR}
        if dept:
            ch |= _restart(now, deadline)
    elif action in ("redispatch", "unlink"):
        if not dept or dept == SUPERVISOR:
            raise IllegalTransition(f"{action} needs the department to send the case to")
        if deadline <= now:
            raise IllegalTransition(f"{action} needs a deadline in the future")
        ch |= {"dept": dept, "linked_to": ""} | _restart(now, deadline)
        if note:
            ch["note"] = note
    elif action == "verify":
        ch["verified_at"] = now
    elif action == "reopen":
        if not note:
            raise IllegalTransition("reopen needs a reason (what is still wrong)")
        ch |= {"handled_at": 0.0, "note": note}
    elif action == "close":
        ch["closed_at"] = now
    ch["state"] = to
    after = dataclasses.replace(case, **ch)
    return after, Step(action, case.state, to, actor, now, note, str(ch.get("dept", case.dept)))


def _restart(now: float, deadline: float) -> dict[str, object]:
    """Return the fields that restart the clock for a newly responsible department."""
    return {"dispatched_at": now, "deadline": deadline, "accepted_at": 0.0, "reminders": 0,
            "check_sent": 0, "overdue": 0, "escalation": 0}


def on_time(case: Case) -> bool:
    """Tell whether a handled case was handled by its deadline."""
    return 0 < case.handled_at <= case.deadline
