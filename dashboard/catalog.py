"""The patrol item catalog (patrol_items.csv of the district folder): load and validate it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.district import DistrictError, _fail, _rows
from dashboard.models import District

FILE = "patrol_items.csv"
STREET_OFFICE = "@street"  # department column value: the street office of the place
URGENCIES = ("urgent", "normal", "routine")
# The five categories of the article, Open311 service groups: code -> (zh, en).
CATEGORIES = {
    "city": ("城管", "City management"),
    "safety": ("安全", "Safety"),
    "environment": ("环保", "Environment"),
    "security": ("社会治安", "Public security"),
    "dispute": ("矛盾纠纷", "Conflicts and disputes"),
}
CODE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
LIMIT = re.compile(r"(\d{1,4})(h|d|wd)")
COLUMNS = ("code", "name", "category", "specialty", "department", "urgency", *URGENCIES)


class CatalogError(DistrictError):
    """The catalog file is malformed; the message names the file, the line and why."""


@dataclass(frozen=True)
class Limit:
    """A time limit: `amount` hours (h), calendar days (d) or working days (wd)."""

    amount: int
    unit: str

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class PatrolItem:
    """One patrol item (巡查事项): what a worker can report and who handles it by when."""

    code: str
    name: str
    category: str
    specialty: str
    department: str  # a department code or STREET_OFFICE
    urgency: str  # default urgency
    limits: tuple[Limit, Limit, Limit]  # per URGENCIES
    name_en: str = ""

    def limit(self, urgency: str) -> Limit:
        """Return the time limit of an urgency."""
        return self.limits[URGENCIES.index(urgency)]


@dataclass(frozen=True)
class Catalog:
    """Every patrol item by code, in file order."""

    items: tuple[PatrolItem, ...]
    _by_code: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_code.update({i.code: i for i in self.items})

    def item(self, code: str) -> PatrolItem | None:
        """Return the item with this code."""
        return self._by_code.get(code)

    def __len__(self) -> int:
        return len(self.items)


def parse_limit(raw: str) -> Limit | None:
    """Return the Limit of '2h', '1d' or '3wd', None if malformed or zero."""
    m = LIMIT.fullmatch(raw.strip())
    if not m or int(m.group(1)) == 0:
        return None
    return Limit(int(m.group(1)), m.group(2))


def load_catalog(path: str | Path, district: District) -> Catalog:
    """Load and validate a catalog file, failing with CatalogError on the first bad row."""
    path = Path(path)
    if not path.exists():
        raise CatalogError(f"{path}: file: missing (the patrol item catalog of the district)")
    depts = {d.code for d in district.departments}
    items: dict[str, PatrolItem] = {}
    try:
        for where, row in _rows(path, COLUMNS, ("name_en",)):
            items_add(path, where, row, depts, items)
    except CatalogError:
        raise
    except DistrictError as exc:
        raise CatalogError(str(exc)) from None
    if not items:
        raise CatalogError(f"{path}: file: no patrol items")
    if any(i.department == STREET_OFFICE for i in items.values()):
        offices = {d.street for d in district.departments if d.kind == "street" and d.street}
        for street in {g.street for g in district.grids} - offices:
            raise CatalogError(f"{path}: file: items go to {STREET_OFFICE!r} but street "
                               f"{street!r} has no street office in departments.csv")
    return Catalog(tuple(items.values()))


def items_add(path: Path, where: str, row: dict[str, str], depts: set[str],
              items: dict[str, PatrolItem]) -> None:
    """Validate one CSV row and add its item."""
    def fail(reason: str) -> None:
        try:
            _fail(path, where, reason)
        except DistrictError as exc:
            raise CatalogError(str(exc)) from None

    code = row["code"]
    if not CODE.fullmatch(code):
        fail(f"code {code!r} must be 1–32 letters, digits, '_', '.' or '-'")
    if code in items:
        fail(f"duplicate code {code!r}")
    if row["category"] not in CATEGORIES:
        fail(f"category must be one of {', '.join(CATEGORIES)}, got {row['category']!r}")
    if row["department"] != STREET_OFFICE and row["department"] not in depts:
        fail(f"unknown department {row['department']!r} (a code of departments.csv "
             f"or {STREET_OFFICE})")
    if row["urgency"] not in URGENCIES:
        fail(f"urgency must be one of {', '.join(URGENCIES)}, got {row['urgency']!r}")
    limits = []
    for u in URGENCIES:
        limit = parse_limit(row[u])
        if limit is None:
            fail(f"{u} time limit must be like 2h, 1d or 3wd, got {row[u]!r}")
        limits.append(limit)
    items[code] = PatrolItem(code, row["name"], row["category"], row["specialty"],
                             row["department"], row["urgency"], tuple(limits), row["name_en"])


def catalog_for(svc) -> Catalog:  # noqa: ANN001 - Services, imported lazily to avoid a cycle
    """Return the catalog of the services' district, loaded once per process."""
    cat = svc.extra.get("catalog")
    if cat is None:
        cat = svc.extra["catalog"] = load_catalog(Path(svc.district.path) / FILE, svc.district)
    return cat
