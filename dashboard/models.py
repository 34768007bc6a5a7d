"""Frozen domain records of the district and of the live streams."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Street:
    """A street (街道), the level under the district."""

    code: str
    name: str
    name_en: str = ""


@dataclass(frozen=True)
class Station:
    """A grid station (网格站), led by a community committee secretary."""

    code: str
    name: str
    street: str
    leader: str = ""


@dataclass(frozen=True)
class Grid:
    """A small grid of 300–500 households, one worker each; ring is a closed lon/lat ring."""

    code: str
    name: str
    street: str
    station: str
    households: int
    ring: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Worker:
    """An all-round grid worker (全科网格员) responsible for one grid."""

    id: str
    name: str
    grid: str
    party_member: bool
    phone: str

    @property
    def phone_masked(self) -> str:
        """Return the phone number with its middle four digits hidden."""
        p = self.phone
        return p[:3] + "****" + p[7:] if len(p) >= 11 else "****"


@dataclass(frozen=True)
class Department:
    """One of the 40 units: a district department or a street office."""

    code: str
    name: str
    kind: str  # "department" or "street"
    name_en: str = ""
    street: str = ""  # for street offices: the street they govern


@dataclass(frozen=True)
class District:
    """The whole district model, as loaded from a district folder."""

    code: str
    name: str
    center: tuple[float, float]  # (lat, lon)
    streets: tuple[Street, ...]
    stations: tuple[Station, ...]
    grids: tuple[Grid, ...]
    workers: tuple[Worker, ...]
    departments: tuple[Department, ...]
    path: str = ""
    name_en: str = ""
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        idx = self._index
        idx["street"] = {s.code: s for s in self.streets}
        idx["station"] = {s.code: s for s in self.stations}
        idx["grid"] = {g.code: g for g in self.grids}
        idx["worker"] = {w.id: w for w in self.workers}
        idx["dept"] = {d.code: d for d in self.departments}
        idx["worker_of_grid"] = {w.grid: w for w in self.workers}
        grids = idx["grid"]
        idx["street_of_worker"] = tuple(  # (worker id, street code), for the wall's panels
            (w.id, grids[w.grid].street if w.grid in grids else "") for w in self.workers)

    def workers_by_street(self) -> tuple[tuple[str, str], ...]:
        """Return (worker id, street code) of every worker ('' for a worker without a grid)."""
        return self._index["street_of_worker"]

    def street(self, code: str) -> Street | None:
        """Return the street with this code."""
        return self._index["street"].get(code)

    def station(self, code: str) -> Station | None:
        """Return the grid station with this code."""
        return self._index["station"].get(code)

    def grid(self, code: str) -> Grid | None:
        """Return the grid with this code."""
        return self._index["grid"].get(code)

    def worker(self, wid: str) -> Worker | None:
        """Return the worker with this id."""
        return self._index["worker"].get(wid)

    def department(self, code: str) -> Department | None:
        """Return the department or street office with this code."""
        return self._index["dept"].get(code)

    def worker_of_grid(self, grid: str) -> Worker | None:
        """Return the worker responsible for this grid."""
        return self._index["worker_of_grid"].get(grid)


@dataclass(frozen=True)
class Place:
    """Where a point falls: grid, station and street codes."""

    grid: str
    station: str
    street: str


@dataclass(frozen=True)
class Fix:
    """One GPS fix from a worker's phone, parsed and validated at the edge."""

    worker: str
    ts: float  # Unix seconds, UTC
    lat: float
    lon: float
    speed: float | None = None  # m/s
    bearing: float | None = None  # degrees
    altitude: float | None = None  # m
    accuracy: float | None = None  # m
    battery: float | None = None  # percent 0–100
