"""Daily worker assessment: the rules file, the composite score and the anomalies; pure.

The score is 0–100: a weighted mean of parts that are each 0–1:

=============== ===========================================================
patrols         patrols done / patrols_per_day (capped at 1)
coverage        share of the grid's cells visited / targets.coverage
distance        metres walked / targets.distance_m
inside          time inside the own grid / duty time so far
online          1 - time offline / duty time so far
cases_reported  cases reported / targets.cases_reported
cases_verified  cases verified on time / targets.cases_verified
tasks_done      service tasks done / targets.tasks_done
=============== ===========================================================

Weights and targets come from the district's assessment.json; a weight of 0 drops a part.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from dashboard.patrols import Analysis, TrackRules

FILE = "assessment.json"
PARTS = ("patrols", "coverage", "distance", "inside", "online", "cases_reported",
         "cases_verified", "tasks_done")
COUNTERS = ("cases_reported", "cases_verified", "tasks_done")  # from worker_day counters
ANOMALY_KINDS = ("no_patrol", "outside", "still", "impossible")
JUMP_MERGE_S = 300  # seconds: impossible jumps this close together are one anomaly


class AssessmentError(ValueError):
    """The assessment file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class AssessmentRules:
    """Patrol definition, anomaly thresholds, duty hours, score targets and weights."""

    track: TrackRules = field(default_factory=TrackRules)
    patrols_per_day: int = 2
    cutoffs: tuple[str, ...] = ("11:30", "17:30")  # local HH:MM: the k-th needs k patrols
    duty: tuple[str, str] = ("08:00", "18:00")  # local HH:MM duty hours
    impossible_per_day: int = 5  # impossible-track anomalies raised per worker and day at most
    verify_within_h: float = 24.0  # hours after handling a verification counts as on time
    targets: dict = field(default_factory=lambda: {"coverage": 0.6, "distance_m": 6000,
                                                   "cases_reported": 2, "cases_verified": 1,
                                                   "tasks_done": 3})
    weights: dict = field(default_factory=lambda: {"patrols": 30, "coverage": 15,
                                                   "distance": 10, "inside": 10, "online": 10,
                                                   "cases_reported": 10, "cases_verified": 5,
                                                   "tasks_done": 10})


def _hhmm(path: Path, value: str) -> time:
    try:
        return datetime.strptime(value, "%H:%M").time()
    except (TypeError, ValueError):
        raise AssessmentError(f"{path}: {value!r} is not a HH:MM time") from None


def load_rules(path: str | Path) -> AssessmentRules:
    """Return the rules of an assessment.json (defaults for what it leaves out)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AssessmentError(f"{path}: cannot read: {exc}") from None
    base = AssessmentRules()
    try:
        anomalies = doc.get("anomalies", {})
        track = dict(doc.get("patrol", {}))
        if "outside_s" in anomalies:
            track["outside_alert_s"] = anomalies["outside_s"]
        if "still_s" in anomalies:
            track["still_alert_s"] = anomalies["still_s"]
        rules = AssessmentRules(
            track=TrackRules.from_dict(track),
            patrols_per_day=int(doc.get("patrols_per_day", base.patrols_per_day)),
            cutoffs=tuple(doc.get("cutoffs", base.cutoffs)),
            duty=tuple(doc.get("duty", base.duty)),
            impossible_per_day=int(anomalies.get("impossible_per_day", base.impossible_per_day)),
            verify_within_h=float(doc.get("verify_within_h", base.verify_within_h)),
            targets=base.targets | {k: float(v) for k, v in doc.get("targets", {}).items()},
            weights=base.weights | {k: float(v) for k, v in doc.get("weights", {}).items()},
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise AssessmentError(f"{path}: {exc}") from None
    for t in (*rules.cutoffs, *rules.duty):
        _hhmm(path, t)
    if len(rules.duty) != 2 or _hhmm(path, rules.duty[0]) >= _hhmm(path, rules.duty[1]):
        raise AssessmentError(f"{path}: duty must be [start, end] with start before end")
    unknown = sorted(set(rules.weights) - set(PARTS))
    if unknown:
        raise AssessmentError(f"{path}: unknown weight(s) {', '.join(unknown)}")
    if any(v < 0 for v in rules.weights.values()) or not sum(rules.weights.values()):
        raise AssessmentError(f"{path}: weights must be >= 0 and not all 0")
    return rules


def at_local(day: str, hhmm: str, tz: ZoneInfo) -> float:
    """Return the Unix time of a local HH:MM on a day (YYYYMMDD)."""
    d = datetime.strptime(day, "%Y%m%d").date()
    return datetime.combine(d, datetime.strptime(hhmm, "%H:%M").time(), tz).timestamp()


def duty_window(rules: AssessmentRules, day: str, tz: ZoneInfo, now: float) -> tuple[float,
                                                                                      float]:
    """Return the duty window of a day, cut at now (an empty window before duty starts)."""
    a, b = at_local(day, rules.duty[0], tz), at_local(day, rules.duty[1], tz)
    return a, max(a, min(b, now))


def parts(m: dict[str, np.ndarray], rules: AssessmentRules, duty_s: float) -> dict[str,
                                                                                   np.ndarray]:
    """Return every score part (0–1) of metric arrays: patrols, coverage_share, distance_m,
    inside_s, online_s and the counters."""
    tg = rules.targets

    def share(x: np.ndarray, target: float) -> np.ndarray:
        return np.clip(np.asarray(x, float) / target, 0.0, 1.0) if target > 0 else np.ones(
            np.shape(x))

    on_duty = duty_s > 0
    return {
        "patrols": share(m["patrols"], rules.patrols_per_day),
        "coverage": share(m["coverage"], tg["coverage"]),
        "distance": share(m["distance_m"], tg["distance_m"]),
        "inside": share(m["inside_s"], duty_s) if on_duty else np.zeros(np.shape(m["patrols"])),
        "online": share(m["online_s"], duty_s) if on_duty else np.zeros(np.shape(m["patrols"])),
        "cases_reported": share(m["cases_reported"], tg["cases_reported"]),
        "cases_verified": share(m["cases_verified"], tg["cases_verified"]),
        "tasks_done": share(m["tasks_done"], tg["tasks_done"]),
    }


def score(m: dict[str, np.ndarray], rules: AssessmentRules, duty_s: float) -> np.ndarray:
    """Return the composite score 0–100 (one decimal) of metric arrays."""
    p = parts(m, rules, duty_s)
    total = sum(rules.weights.get(k, 0.0) for k in PARTS)
    s = sum(rules.weights.get(k, 0.0) * p[k] for k in PARTS)
    return np.round(100.0 * s / total, 1)


@dataclass(frozen=True)
class Anomaly:
    """Something a supervisor should look at: who, what, when, with details."""

    id: str
    worker: str
    kind: str  # no_patrol, outside, still, impossible
    at: float  # Unix s it happened (or the cut-off that passed)
    until: float = 0.0
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Return the JSON form."""
        return {"id": self.id, "worker": self.worker, "kind": self.kind, "at": round(self.at),
                "until": round(self.until), "detail": self.detail}


def anomalies(a: Analysis, workers: list[str], rules: AssessmentRules, day: str,
              tz: ZoneInfo, now: float) -> list[Anomaly]:
    """Return the anomalies of a day's analysis as of now (ids are stable: re-runs dedupe).

    No patrol by a cut-off is raised for every worker short of patrols, also (detail
    ``offline``) for one without a single fix before the cut-off: a phone off all morning.
    """
    out: list[Anomaly] = []
    for k, cutoff in enumerate(rules.cutoffs, 1):
        at = at_local(day, cutoff, tz)
        if now < at:
            continue
        done_by = np.zeros(len(workers), np.int64)
        for wi, _start, end, _cov in a.patrol_list:
            if end <= at:
                done_by[wi] += 1
        # a phone off all morning (no fix at all before the cut-off) is the worst case: say so
        offline = (a.first_fix <= 0) | (a.first_fix >= at)
        for wi in np.flatnonzero(done_by < k):
            detail = {"cutoff": cutoff, "required": k, "done": int(done_by[wi])}
            if offline[wi]:
                detail["offline"] = True
            out.append(Anomaly(f"{day}:{workers[wi]}:no_patrol:{k}", workers[wi], "no_patrol",
                               at, detail=detail))
    for wi, start, end in a.outside:
        out.append(Anomaly(f"{day}:{workers[wi]}:outside:{int(start)}", workers[wi], "outside",
                           start, end, {"minutes": round((end - start) / 60)}))
    for wi, start, end in a.stills:
        out.append(Anomaly(f"{day}:{workers[wi]}:still:{int(start)}", workers[wi], "still",
                           start, end, {"minutes": round((end - start) / 60)}))
    seen: dict[int, int] = {}
    last: dict[int, float] = {}
    for wi, ts, metres, mps in a.jumps:
        if ts - last.get(wi, -1e18) <= JUMP_MERGE_S:  # out and straight back: one anomaly
            continue
        last[wi] = ts
        seen[wi] = seen.get(wi, 0) + 1
        if seen[wi] <= rules.impossible_per_day:
            out.append(Anomaly(f"{day}:{workers[wi]}:impossible:{int(ts)}", workers[wi],
                               "impossible", ts, detail={"metres": metres, "mps": mps}))
    return out
