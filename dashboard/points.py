"""Party-member points: the rules file (points_rules.csv) and the award ledger in Redis.

Every award is kept (hash award id -> who, why, which case or task, when, by whom) and
feeds the all-time and monthly boards of the district, the member's street and station in
the same Lua call; the award id is the rule plus what it is for (``task_done:<task id>``),
so an award is made once however often its event is seen.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import orjson
import redis

from dashboard.keys import Keys

FILE = "points_rules.csv"

# KEYS: awards, member zset, by-rule (all), by-rule (month), boards...
# ARGV: award id, JSON, points, at, member, rule
AWARD_LUA = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[6], ARGV[3])
redis.call('HINCRBY', KEYS[4], ARGV[6], ARGV[3])
for i = 5, #KEYS do redis.call('ZINCRBY', KEYS[i], ARGV[3], ARGV[5]) end
return 1
"""


class PointsError(ValueError):
    """The points rules file is malformed or an award is not allowed; the message says why."""


@dataclass(frozen=True)
class PointRule:
    """Points for one kind of community service."""

    code: str
    points: int  # points of one award
    max_points: int  # most points one award may carry (volunteer awards choose up to this)
    party_only: bool  # only party members earn it
    name: str
    name_en: str = ""


def load_point_rules(path: str | Path) -> dict[str, PointRule]:
    """Return the rules of a points_rules.csv by code."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise PointsError(f"{path}: cannot read: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    need = ("code", "points", "max_points", "party_only", "name")
    missing = [c for c in need if c not in (reader.fieldnames or [])]
    if missing:
        raise PointsError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
    rules: dict[str, PointRule] = {}
    for row in reader:
        where = f"{path}: line {reader.line_num}"
        try:
            rule = PointRule(row["code"].strip(), int(row["points"]), int(row["max_points"]),
                             row["party_only"].strip() == "1", row["name"].strip(),
                             (row.get("name_en") or "").strip())
        except (TypeError, ValueError) as exc:
            raise PointsError(f"{where}: {exc}") from None
        if not rule.code or rule.code in rules:
            raise PointsError(f"{where}: empty or duplicate code {rule.code!r}")
        if not 0 < rule.points <= rule.max_points:
            raise PointsError(f"{where}: need 0 < points <= max_points")
        rules[rule.code] = rule
    return rules


@dataclass(frozen=True)
class Member:
    """Someone who can earn points: a worker or a resident, with where they belong."""

    id: str
    kind: str  # worker or resident
    name: str  # full name; mask residents' names before showing them
    party_member: bool
    grid: str
    station: str
    street: str


def award_id(rule: str, ref: str) -> str:
    """Return the id of the award of a rule for a thing (case, task, day, activity)."""
    return f"{rule}:{ref}"


class Ledger:
    """Writes awards; reads are in dashboard.people_queries."""

    def __init__(self, r: redis.Redis, keys: Keys, rules: dict[str, PointRule]) -> None:
        self.r, self.keys, self.rules = r, keys, rules
        self._award = r.register_script(AWARD_LUA)

    def award(self, member: Member, rule_code: str, ref: str, at: float, month: str,
              points: int | None = None, note: str = "", by: str = "") -> bool:
        """Award a rule's points for ref (once); False if already awarded, not eligible, or the
        district has no such rule."""
        rule = self.rules.get(rule_code)
        if rule is None:
            return False
        if rule.party_only and not member.party_member:
            return False
        pts = rule.points if points is None else int(points)
        if not 0 < pts <= rule.max_points:
            raise PointsError(f"{rule_code} awards 1 to {rule.max_points} points, not {pts}")
        aid = award_id(rule_code, ref)
        doc = {"id": aid, "member": member.id, "rule": rule_code, "points": pts, "ref": ref,
               "at": round(at), "note": note[:200], "by": by[:64]}
        keys = [self.keys.points_awards(), self.keys.points_member(member.id),
                self.keys.points_by_rule("all"), self.keys.points_by_rule(month)]
        for period in ("all", month):
            keys += [self.keys.points_board(period, "all"),
                     self.keys.points_board(period, f"street.{member.street}"),
                     self.keys.points_board(period, f"station.{member.station}")]
        return bool(self._award(keys=keys, args=[aid, orjson.dumps(doc), pts, round(at),
                                                 member.id, rule_code]))
