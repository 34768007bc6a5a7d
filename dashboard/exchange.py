"""The data-sharing exchange registry: catalogs, interfaces, approvals and the audit rule; pure.

A district folder may carry catalogs.csv, interfaces.csv and approvals.csv (see
scripts/gen_exchange.py for the columns).  Units are the district's departments and
street offices (departments.csv).  A call is a violation when it reads a not-shared
catalog, or a conditional one without an approval of the calling unit valid at the
call's time; a unit reading its own catalogs never is.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dashboard.district import DistrictError
from dashboard.models import Department, District

UNCONDITIONAL, CONDITIONAL, NOT_SHARED = "unconditional", "conditional", "not_shared"
SHARING = (UNCONDITIONAL, CONDITIONAL, NOT_SHARED)
SHARING_ALIASES = {"无条件共享": UNCONDITIONAL, "有条件共享": CONDITIONAL, "不予共享": NOT_SHARED,
                   "unconditional": UNCONDITIONAL, "conditional": CONDITIONAL,
                   "not_shared": NOT_SHARED, "not shared": NOT_SHARED}
NO_APPROVAL = "no_approval"  # violation kind besides NOT_SHARED
# Latency histogram bins of the call counters: upper bounds in ms; the last bin is open.
LATENCY_BOUNDS_MS = (10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000,
                     5000, 10000)


@dataclass(frozen=True)
class Interface:
    """An exchange interface (接口) of one providing unit."""

    code: str
    name: str
    provider: str
    name_en: str = ""


@dataclass(frozen=True)
class Catalog:
    """A data catalog (数据目录) mounted by a unit, with its information items and sharing class."""

    id: str
    name: str
    unit: str
    items: int
    sharing: str
    interfaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class Approval:
    """An approved application of a unit to read a conditional catalog, from since until until."""

    catalog: str
    unit: str
    since: float  # Unix s
    until: float | None = None  # Unix s, exclusive; None = open-ended
    by: str = ""

    def valid_at(self, ts: float) -> bool:
        """Tell whether the approval covers a call at ts."""
        return self.since <= ts and (self.until is None or ts < self.until)

    def to_json(self) -> str:
        """Return the JSON an approval granted through the API is stored as."""
        return json.dumps({"catalog": self.catalog, "unit": self.unit, "since": self.since,
                           "until": self.until, "by": self.by}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Approval:
        """Return the approval stored as JSON."""
        d = json.loads(raw)
        return cls(d["catalog"], d["unit"], float(d["since"]),
                   None if d.get("until") is None else float(d["until"]), d.get("by", ""))


@dataclass(frozen=True)
class Call:
    """One interface call through the exchange, as the gateway logged it."""

    ts: float  # Unix s
    caller: str  # calling unit
    provider: str  # providing unit
    interface: str
    catalog: str
    ok: bool
    latency_ms: int


@dataclass
class Registry:
    """Units, catalogs, interfaces and file approvals of one district."""

    units: dict[str, Department]
    catalogs: dict[str, Catalog] = field(default_factory=dict)
    interfaces: dict[str, Interface] = field(default_factory=dict)
    approvals: dict[tuple[str, str], tuple[Approval, ...]] = field(default_factory=dict)

    def problem(self, call: Call) -> str | None:
        """Return why a call cannot be counted (unknown codes, wrong provider), or None."""
        cat = self.catalogs.get(call.catalog)
        if call.caller not in self.units:
            return f"unknown calling unit: {call.caller[:64]}"
        if cat is None:
            return f"unknown catalog: {call.catalog[:64]}"
        if call.interface not in self.interfaces:
            return f"unknown interface: {call.interface[:64]}"
        if call.provider != cat.unit:
            return f"catalog {cat.id} is provided by {cat.unit}, not {call.provider[:64]}"
        if call.interface not in cat.interfaces:
            return f"interface {call.interface} does not serve catalog {cat.id}"
        return None

    def violation(self, call: Call, granted: dict[tuple[str, str], tuple[Approval, ...]]
                  | None = None) -> str | None:
        """Return NOT_SHARED or NO_APPROVAL when a (valid) call breaks the sharing rules."""
        cat = self.catalogs[call.catalog]
        if call.caller == cat.unit or cat.sharing == UNCONDITIONAL:
            return None
        if cat.sharing == NOT_SHARED:
            return NOT_SHARED
        key = (cat.id, call.caller)
        for a in self.approvals.get(key, ()) + (granted or {}).get(key, ()):
            if a.valid_at(call.ts):
                return None
        return NO_APPROVAL

    def approval_problem(self, catalog: str, unit: str) -> str | None:
        """Return why an approval cannot be granted, or None."""
        cat = self.catalogs.get(catalog)
        if cat is None:
            return f"unknown catalog: {catalog[:64]}"
        if unit not in self.units:
            return f"unknown unit: {unit[:64]}"
        if cat.sharing != CONDITIONAL:
            return f"catalog {cat.id} is {cat.sharing}: only conditional catalogs take approvals"
        if cat.unit == unit:
            return f"unit {unit} owns catalog {cat.id}"
        return None

    @property
    def items(self) -> int:
        """Return the information items of every catalog."""
        return sum(c.items for c in self.catalogs.values())

    def sharing_counts(self) -> dict[str, int]:
        """Return the number of catalogs per sharing class."""
        out = dict.fromkeys(SHARING, 0)
        for c in self.catalogs.values():
            out[c.sharing] += 1
        return out

    def mounted(self) -> list[dict]:
        """Return every unit with its mounted catalogs and items, most catalogs first."""
        rows = {u: {"unit": u, "name": d.name, "catalogs": 0, "items": 0}
                for u, d in self.units.items()}
        for c in self.catalogs.values():
            rows[c.unit]["catalogs"] += 1
            rows[c.unit]["items"] += c.items
        return sorted(rows.values(), key=lambda r: (-r["catalogs"], -r["items"], r["unit"]))

    def unit_name(self, code: str, lang: str = "zh") -> str:
        """Return a unit's display name (the code only if unknown)."""
        d = self.units.get(code)
        return code if d is None else (d.name_en if lang == "en" and d.name_en else d.name)

    def interface_name(self, code: str, lang: str = "zh") -> str:
        """Return an interface's display name (the code only if unknown)."""
        i = self.interfaces.get(code)
        return code if i is None else (i.name_en if lang == "en" and i.name_en else i.name)


# ---- loading -------------------------------------------------------------------------------
def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[str, dict[str, str]]]:
    """Return (where, row) per CSV row, failing with DistrictError on missing columns."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DistrictError(f"{path}: file: cannot read: {exc}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise DistrictError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
    out = []
    for row in reader:
        where = f"line {reader.line_num}"
        if None in row or None in row.values():
            raise DistrictError(f"{path}: {where}: expected {len(reader.fieldnames)} fields")
        out.append((where, {k: v.strip() for k, v in row.items()}))
    return out


def _local_day(path: Path, where: str, text: str, tz: ZoneInfo, end: bool = False) -> float:
    """Return the Unix time a local YYYY-MM-DD day starts (or, with end, ends)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DistrictError(f"{path}: {where}: {text!r} is not a YYYY-MM-DD date") from None
    day += timedelta(days=1) if end else timedelta()
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def _interfaces(path: Path, units: dict) -> dict[str, Interface]:
    out: dict[str, Interface] = {}
    for where, row in _rows(path, ("code", "name", "provider")):
        if not row["code"] or row["code"] in out:
            raise DistrictError(f"{path}: {where}: empty or duplicate code {row['code']!r}")
        if row["provider"] not in units:
            raise DistrictError(f"{path}: {where}: unknown provider unit {row['provider']!r}")
        out[row["code"]] = Interface(row["code"], row["name"], row["provider"],
                                     row.get("name_en", ""))
    return out


def _catalogs(path: Path, units: dict, interfaces: dict) -> dict[str, Catalog]:
    out: dict[str, Catalog] = {}
    for where, row in _rows(path, ("id", "name", "unit", "items", "sharing")):
        cid = row["id"]
        if not cid or cid in out:
            raise DistrictError(f"{path}: {where}: empty or duplicate id {cid!r}")
        if row["unit"] not in units:
            raise DistrictError(f"{path}: {where}: unknown unit {row['unit']!r}")
        sharing = SHARING_ALIASES.get(row["sharing"].lower())
        if sharing is None:
            raise DistrictError(f"{path}: {where}: sharing must be one of {', '.join(SHARING)}")
        if not row["items"].isdigit():
            raise DistrictError(f"{path}: {where}: items must be a whole number")
        served = tuple(x for x in row.get("interfaces", "").replace(",", ";").split(";") if x)
        for code in served:
            if code not in interfaces:
                raise DistrictError(f"{path}: {where}: unknown interface {code!r}")
            if interfaces[code].provider != row["unit"]:
                raise DistrictError(f"{path}: {where}: interface {code} is provided by "
                                    f"{interfaces[code].provider}, not {row['unit']}")
        out[cid] = Catalog(cid, row["name"], row["unit"], int(row["items"]), sharing, served)
    return out


def _approvals(path: Path, reg: Registry, tz: ZoneInfo) -> dict:
    out: dict[tuple[str, str], tuple[Approval, ...]] = {}
    for where, row in _rows(path, ("catalog", "unit", "since")):
        reason = reg.approval_problem(row["catalog"], row["unit"])
        if reason:
            raise DistrictError(f"{path}: {where}: {reason}")
        until = row.get("until", "")
        a = Approval(row["catalog"], row["unit"], _local_day(path, where, row["since"], tz),
                     _local_day(path, where, until, tz, end=True) if until else None,
                     row.get("by", ""))
        out[(a.catalog, a.unit)] = out.get((a.catalog, a.unit), ()) + (a,)
    return out


def load_registry(folder: str | Path, district: District, tz: str = "Asia/Shanghai") -> Registry:
    """Load the exchange files of a district folder; an empty registry if it has none."""
    folder = Path(folder)
    units = {d.code: d for d in district.departments}
    if not (folder / "catalogs.csv").exists():
        return Registry(units)
    if not (folder / "interfaces.csv").exists():
        raise DistrictError(f"{folder / 'interfaces.csv'}: file: missing (catalogs.csv needs it)")
    interfaces = _interfaces(folder / "interfaces.csv", units)
    reg = Registry(units, _catalogs(folder / "catalogs.csv", units, interfaces), interfaces)
    if (folder / "approvals.csv").exists():
        reg.approvals = _approvals(folder / "approvals.csv", reg, ZoneInfo(tz))
    return reg
