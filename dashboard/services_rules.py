"""Proactive service rules (service_rules.json): which residents need a service, vectorised.

``candidates(registry, rules, day)`` returns one row per (rule, resident, occasion) that is
due on ``day``; turning the rows into tasks (idempotently) is dashboard.tasks' job.  Rule
kinds:

- ``turning_age``: the resident's ``age``-th birthday is at most ``ahead_days`` away (or at
  most ``past_days`` ago).  Occasion: that birthday (29 February -> 28 February).
- ``date_window``: the date in ``column`` is at most ``ahead_days`` away, or at most
  ``past_days`` ago (``null`` = however long ago).  Occasion: that date.
- ``not_visited``: ``last_visit + every_days`` has come, or there is no ``last_visit``
  (never visited).  Occasion: that day; for the never visited, the run day (the task run
  pushes it once: it skips a resident who already has an open task of the rule).

Optional filters: ``min_age`` (years on the day) and ``where`` (column -> required value).
The due date is ``occasion + due_days`` but never before ``day + min_lead_days``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard.residents import age_on

KINDS = ("turning_age", "date_window", "not_visited")
FILE = "service_rules.json"
CANDIDATE_COLUMNS = ("rule", "rid", "grid", "occasion", "due")


class RulesError(ValueError):
    """A rule file is malformed; the message names the file, the rule and the problem."""


@dataclass(frozen=True)
class ServiceRule:
    """One proactive service rule."""

    code: str
    name: str
    kind: str
    name_en: str = ""
    age: int = 0  # turning_age: the birthday that triggers
    column: str = ""  # date_window: the date column
    ahead_days: int = 30  # days before the occasion from which the task is pushed
    past_days: int | None = 0  # days after the occasion it is still pushed (None = always)
    every_days: int = 7  # not_visited: days between visits
    min_age: int = 0  # years: only residents at least this old
    where: dict = field(default_factory=dict)  # column -> required value
    due_days: int = 0  # due date = occasion + due_days ...
    min_lead_days: int = 1  # ... but at least this many days after the run day
    renews: str = ""  # column a done task sets (to the done day + renew_days)
    renew_days: int = 0
    department: str = ""  # the department whose service this is (display only)


def _rule(path: Path, doc: object, i: int) -> ServiceRule:
    if not isinstance(doc, dict):
        raise RulesError(f"{path}: rules[{i}]: expected an object")
    names = {f for f in ServiceRule.__dataclass_fields__}
    unknown = sorted(set(doc) - names)
    where = f"{path}: rules[{i}] ({doc.get('code', '?')})"
    if unknown:
        raise RulesError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for key in ("code", "name", "kind"):
        if not doc.get(key):
            raise RulesError(f"{where}: missing {key}")
    rule = ServiceRule(**doc)
    if rule.kind not in KINDS:
        raise RulesError(f"{where}: kind must be one of {', '.join(KINDS)}")
    if rule.kind == "turning_age" and rule.age <= 0:
        raise RulesError(f"{where}: turning_age needs a positive age")
    if rule.kind == "date_window" and rule.column not in ("lease_end", "id_expiry", "birth",
                                                           "last_visit"):
        raise RulesError(f"{where}: date_window needs a date column, got {rule.column!r}")
    if rule.kind == "not_visited" and rule.every_days <= 0:
        raise RulesError(f"{where}: not_visited needs every_days > 0")
    if rule.ahead_days < 0 or (rule.past_days is not None and rule.past_days < 0):
        raise RulesError(f"{where}: ahead_days and past_days must not be negative")
    if not isinstance(rule.where, dict):
        raise RulesError(f"{where}: where must be an object column -> value")
    if "." in rule.code or "|" in rule.code:
        raise RulesError(f"{where}: code must not contain '.' or '|'")
    return rule


def load_rules(path: str | Path) -> tuple[ServiceRule, ...]:
    """Return the rules of a service_rules.json, failing with RulesError on the first bad one."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RulesError(f"{path}: cannot read: {exc}") from None
    items = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise RulesError(f"{path}: expected {{\"rules\": [...]}}")
    rules = tuple(_rule(path, r, i) for i, r in enumerate(items))
    codes = [r.code for r in rules]
    if len(set(codes)) != len(codes):
        raise RulesError(f"{path}: duplicate rule codes")
    return rules


def birthday(birth: np.ndarray, age: int) -> np.ndarray:
    """Return the age-th birthday of datetime64[D] birth dates (29 Feb -> 28 Feb)."""
    b = birth.astype("datetime64[D]")
    month_start = b.astype("datetime64[M]")
    day = (b - month_start).astype("int64")
    target = (month_start.astype("datetime64[Y]") + age).astype("datetime64[M]") + (
        month_start - month_start.astype("datetime64[Y]").astype("datetime64[M]"))
    last = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        "int64") - 1
    return target.astype("datetime64[D]") + np.minimum(day, last).astype("timedelta64[D]")


def _occasions(df: pd.DataFrame, rule: ServiceRule, day: np.datetime64) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """Return (mask, occasion dates) of one rule over the registry."""
    if rule.kind == "turning_age":
        occ = birthday(df["birth"].to_numpy(), rule.age)
    elif rule.kind == "date_window":
        occ = df[rule.column].to_numpy().astype("datetime64[D]")
    else:  # never visited (no date): due from today
        last = df["last_visit"].to_numpy().astype("datetime64[D]")
        occ = np.where(np.isnat(last), day, last + np.timedelta64(rule.every_days, "D"))
    delta = (occ - day).astype("timedelta64[D]").astype("float64")  # NaT -> nan
    delta[np.isnat(occ)] = np.nan
    if rule.kind == "not_visited":
        mask = delta <= 0
    else:
        mask = delta <= rule.ahead_days
        if rule.past_days is not None:
            mask &= delta >= -rule.past_days
    return mask, occ


def candidates(df: pd.DataFrame, rules: tuple[ServiceRule, ...],
               day: str | np.datetime64) -> pd.DataFrame:
    """Return the (rule, rid, grid, occasion, due) rows due on a day, in rule order."""
    day = np.datetime64(pd.Timestamp(day).date(), "D") if isinstance(day, str) else (
        np.datetime64(day, "D"))
    frames = []
    ages = None
    for rule in rules:
        mask, occ = _occasions(df, rule, day)
        for col, value in rule.where.items():
            mask &= (df[col] == value).to_numpy()
        if rule.min_age:
            ages = age_on(df["birth"].to_numpy(), day) if ages is None else ages
            mask &= ages >= rule.min_age
        idx = np.flatnonzero(mask)
        if not idx.size:
            continue
        o = occ[idx]
        due = np.maximum(o + np.timedelta64(rule.due_days, "D"),
                         day + np.timedelta64(rule.min_lead_days, "D"))
        frames.append(pd.DataFrame({"rule": rule.code, "rid": df["rid"].to_numpy()[idx],
                                    "grid": df["grid"].to_numpy()[idx], "occasion": o,
                                    "due": due}))
    if not frames:
        return pd.DataFrame({c: [] for c in CANDIDATE_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def task_ids(c: pd.DataFrame) -> pd.Series:
    """Return the task id of candidate rows: rule.rid.YYYYMMDD (one per resident and occasion)."""
    occ = pd.DatetimeIndex(c["occasion"]).strftime("%Y%m%d")
    return c["rule"].astype(str) + "." + c["rid"].astype(str) + "." + pd.Series(
        occ, index=c.index)
