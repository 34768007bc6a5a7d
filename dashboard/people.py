"""The people feature's per-process context: its rule files, the registry, indexes and stores.

``people(svc)`` loads everything once per process (cached in ``svc.extra``); a malformed
file fails there, at start-up, with the file and the reason.  A district folder without
assessment.json, service_rules.json or points_rules.csv gets the defaults, no service
rules and no points respectively.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard import assessment, points, services_rules
from dashboard.patrols import CellIndex
from dashboard.points import Ledger, Member, PointRule
from dashboard.residents import registry
from dashboard.services import Services
from dashboard.tasks import TaskStore

_lock = threading.Lock()


@dataclass
class People:
    """Rules, stores and lookups of the people feature for one process."""

    svc: Services
    assess: assessment.AssessmentRules
    service_rules: tuple[services_rules.ServiceRule, ...]
    point_rules: dict[str, PointRule]
    tasks: TaskStore
    ledger: Ledger
    _cells: CellIndex | None = None

    @property
    def cells(self) -> CellIndex:
        """Return the coverage cells of every grid (built on first use)."""
        if self._cells is None:
            self._cells = CellIndex([g.ring for g in self.svc.district.grids],
                                    self.assess.track.cell_m)
        return self._cells

    @property
    def residents(self) -> pd.DataFrame:
        """Return the resident registry (loaded on first use)."""
        return registry(self.svc)

    def rule(self, code: str) -> services_rules.ServiceRule | None:
        """Return a service rule by code."""
        return next((r for r in self.service_rules if r.code == code), None)

    def member(self, member_id: str) -> Member | None:
        """Return a worker or a resident as a points member, None if unknown."""
        d = self.svc.district
        w = d.worker(member_id)
        if w is not None:
            g = d.grid(w.grid)
            return Member(w.id, "worker", w.name, w.party_member, g.code, g.station, g.street)
        df = self.residents
        if member_id in df.index:
            row = df.loc[member_id]
            g = d.grid(row["grid"])
            return Member(member_id, "resident", str(row["name"]), bool(row["party_member"]),
                          g.code, g.station, g.street)
        return None

    def month(self, ts: float) -> str:
        """Return the local month YYYYMM of a Unix time."""
        return self.svc.days.day(ts)[:6]

    def local_date(self, ts: float) -> np.datetime64:
        """Return the local calendar date of a Unix time."""
        return np.datetime64(datetime.fromtimestamp(ts, self.svc.days.tz).date(), "D")


def people(svc: Services) -> People:
    """Return the people context of a process, loading its files on first use."""
    ctx = svc.extra.get("people")
    if ctx is None:
        with _lock:
            ctx = svc.extra.get("people")
            if ctx is None:
                root = Path(svc.settings.district)
                have = lambda name: (root / name).exists()  # a district may leave any out
                prules = points.load_point_rules(root / points.FILE) if have(points.FILE) else {}
                arules = (assessment.load_rules(root / assessment.FILE)
                          if have(assessment.FILE) else assessment.AssessmentRules())
                srules = (services_rules.load_rules(root / services_rules.FILE)
                          if have(services_rules.FILE) else ())
                ctx = People(svc, arules, srules, prules, TaskStore(svc.r, svc.keys),
                             Ledger(svc.r, svc.keys, prules))
                svc.extra["people"] = ctx
    return ctx
