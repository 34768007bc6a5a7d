"""Dead letters: list what a consumer refused, re-feed entries once their cause is fixed.

A replayed entry is appended again to the physical stream it came from, with its original
fields, and removed from the dead-letter stream; the consumer then handles it like any other
entry, so one that is still bad comes back as a new dead letter with its (new) reason.  The
reason counts (what the wall's health panel shows) count refusals ever and stay as they are;
replays are counted apart.  Re-feeding and removing touch two slots, so they are not atomic:
a replay interrupted between the two can re-feed an entry twice, which the idempotent GPS
and case handlers absorb (a re-fed interface call would count twice).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dashboard.keys import logical_streams
from dashboard.services import Services

PAGE = 500  # dead-letter entries read per round trip


@dataclass(frozen=True)
class DeadLetter:
    """One refused entry: where it came from, why, and its original fields."""

    stream: str  # logical stream (gps, events, calls, ...)
    id: str  # id in the dead-letter stream
    source: str  # physical stream it was read from
    source_id: str  # its id there
    reason: str
    at: float  # when it was refused (the consumer's clock, Unix s)
    fields: dict[str, str]

    def as_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {"stream": self.stream, "id": self.id, "source": self.source,
                "source_id": self.source_id, "reason": self.reason, "at": self.at,
                "fields": self.fields}


def _text(v: bytes | str | None) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else (v or "")


def _parse(stream: str, eid: bytes | str, raw: dict) -> DeadLetter:
    f = {_text(k): _text(v) for k, v in raw.items()}
    try:
        fields = json.loads(f.get("fields") or "{}")
    except ValueError:
        fields = {}
    try:
        at = float(f.get("at") or 0)
    except ValueError:
        at = 0.0
    return DeadLetter(stream, _text(eid), f.get("stream", ""), f.get("id", ""),
                      f.get("reason", ""), at, fields if isinstance(fields, dict) else {})


def _names(svc: Services, stream: str | None) -> list[str]:
    names = list(logical_streams(svc.keys))
    if stream is None:
        return names
    if stream not in names:
        raise ValueError(f"unknown stream {stream!r}; known: {', '.join(names)}")
    return [stream]


def listing(svc: Services, stream: str | None = None, ids: list[str] | None = None,
            reason: str = "", limit: int = 100) -> list[DeadLetter]:
    """Return dead letters, oldest first: of one stream or all, by ids or reason prefix."""
    out: list[DeadLetter] = []
    wanted = set(ids or [])
    for name in _names(svc, stream):
        key, start = svc.keys.deadletter(name), "-"
        while len(out) < limit:
            page = svc.r.xrange(key, min=start, count=PAGE)
            for eid, raw in page:
                dl = _parse(name, eid, raw)
                if (not wanted or dl.id in wanted) and dl.reason.startswith(reason):
                    out.append(dl)
            if len(page) < PAGE:
                break
            start = "(" + _text(page[-1][0])
    return out[:limit]


def replay(svc: Services, letters: list[DeadLetter], dry_run: bool = False) -> dict[str, int]:
    """Re-feed dead letters to their source streams and remove them; return what happened."""
    done = {"replayed": 0, "skipped": 0}
    physical = {n: set(s) for n, s in logical_streams(svc.keys).items()}
    for dl in letters:
        if not dl.fields or dl.source not in physical.get(dl.stream, ()):
            done["skipped"] += 1  # nothing to re-feed, or not a stream of ours
            continue
        if not dry_run:
            svc.r.xadd(dl.source, dl.fields)
            pipe = svc.r.pipeline(transaction=False)
            pipe.xdel(svc.keys.deadletter(dl.stream), dl.id)
            pipe.incr(svc.keys.counter(f"deadletters.replayed.{dl.stream}"))
            pipe.execute()
        done["replayed"] += 1
    return done


def run_cli(svc: Services, action: str, stream: str | None, ids: list[str], reason: str,
            limit: int, dry_run: bool, out=print) -> int:  # noqa: ANN001 - a print-like callable
    """Run `deadletters list|replay` and print the result; return the exit status."""
    try:
        letters = listing(svc, stream, ids, reason, limit)
    except ValueError as exc:
        out(f"error: {exc}")
        return 2
    if action == "list":
        for dl in letters:
            out(json.dumps(dl.as_dict(), ensure_ascii=False))
        out(f"{len(letters)} dead letter(s)")
        return 0
    done = replay(svc, letters, dry_run)
    verb = "would replay" if dry_run else "replayed"
    out(f"{verb} {done['replayed']} dead letter(s), skipped {done['skipped']}")
    return 0
