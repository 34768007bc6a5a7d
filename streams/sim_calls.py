"""The exchange gateway, simulated: interface calls with a business-hours peak, posted as batches.

`CallActor.step(now)` returns the calls made since the previous step as POSTs to
/api/v1/calls (a streams.simulate actor).  Every minute's calls are drawn from a random
stream seeded by (seed, minute), so the load is the same for a seed however time is sliced
into steps.  Personal identity query dominates; about 0.7 % of calls fail (more during a
daily 20-minute incident on one interface) and about 0.5 % break the sharing rules.
"""

from __future__ import annotations

import math
import random
from datetime import datetime
from zoneinfo import ZoneInfo

from dashboard.exchange import CONDITIONAL, NOT_SHARED, UNCONDITIONAL, Registry

CALLS_PATH = "/api/v1/calls"
MAX_POST = 2000  # calls per POST
# Relative load per local hour of a workday (peaks 9–11 and 14–17) and of the demo schedule.
WORKDAY = (0.2, 0.15, 0.1, 0.1, 0.1, 0.2, 0.4, 1.0, 4.0, 9.0, 9.5, 7.0, 2.5, 4.5, 8.5, 9.0,
           8.0, 4.0, 1.2, 0.8, 0.6, 0.5, 0.4, 0.3)
DEMO = tuple(max(w, 2.0) for w in WORKDAY)
WEEKEND_SHARE = 0.15  # weekend load relative to a workday (realistic schedule)
MIX = {"identity": 0.42, "household": 0.14, "social_insurance": 0.11, "enterprise": 0.10,
       "subsistence": 0.08, "real_estate": 0.06, "marriage": 0.05, "vehicle": 0.04}
MEDIAN_MS = {"identity": 35, "household": 45, "marriage": 80, "social_insurance": 120,
             "enterprise": 60, "real_estate": 220, "vehicle": 90, "subsistence": 70}
ERROR_RATE = 0.007
INCIDENT_ERROR_RATE = 0.18  # one interface, 20 minutes of a business day
NOT_SHARED_RATE = 0.001  # calls reaching for a not-shared catalog of the interface
UNAPPROVED_RATE = 0.004  # calls of a unit without an approval


class CallActor:
    """The exchange gateway's call log: one batch of calls per simulator step."""

    def __init__(self, registry: Registry, seed: int = 1, calls_per_day: int = 2000,
                 schedule: str = "demo", tz: str = "Asia/Shanghai", api_key: str = "") -> None:
        self.reg, self.seed, self.per_day, self.api_key = registry, seed, calls_per_day, api_key
        self.profile = DEMO if schedule == "demo" else WORKDAY
        self.weekends = schedule != "demo"
        self.tz = ZoneInfo(tz)
        self.last: float | None = None
        self.calls: list[dict] = []  # the calls of the last step, by time
        self._plan = self._plan_calls(registry)

    @staticmethod
    def _plan_calls(reg: Registry) -> dict[str, list]:
        """Return per interface its catalogs with weights and the units allowed to call them."""
        plan: dict[str, list] = {}
        for code in reg.interfaces:
            served = [c for c in reg.catalogs.values() if code in c.interfaces]
            rows = []
            for rank, c in enumerate(served):
                if c.sharing == NOT_SHARED:
                    continue
                if c.sharing == UNCONDITIONAL:
                    callers = sorted(u for u in reg.units if u != c.unit)
                else:
                    callers = sorted({u for (cat, u), found in reg.approvals.items()
                                      if cat == c.id and any(a.until is None for a in found)})
                if callers:
                    rows.append((c, 1.0 / (rank + 1), callers))
            secret = [c for c in served if c.sharing == NOT_SHARED]
            if rows:
                plan[code] = [rows, secret]
        return plan

    def rate_per_minute(self, minute: int) -> float:
        """Return the expected number of calls in a Unix minute."""
        local = datetime.fromtimestamp(minute * 60, self.tz)
        share = self.profile[local.hour] / sum(self.profile)
        if self.weekends and local.weekday() >= 5:
            share *= WEEKEND_SHARE
        return self.per_day * share / 60

    def minute_calls(self, minute: int) -> list[dict]:
        """Return the calls of one Unix minute, the same every time for a seed."""
        if not self._plan:  # a district without an exchange registry
            return []
        rng = random.Random(f"{self.seed}:calls:{minute}")
        n = _poisson(rng, self.rate_per_minute(minute))
        incident = self._incident(minute)
        return [self.call_at(rng, ts, incident)
                for ts in sorted(minute * 60 + rng.random() * 60 for _ in range(n))]

    def call_at(self, rng: random.Random, ts: float, incident: str | None = None) -> dict:
        """Return one call at ts: an interface drawn by the mix, then catalog, caller, result."""
        codes = [c for c in MIX if c in self._plan]
        code = rng.choices(codes, [MIX[c] for c in codes])[0]
        return self._call(rng, ts, code, incident == code)

    def _incident(self, minute: int) -> str | None:
        """Return the interface failing during this minute's daily incident, if any."""
        day = datetime.fromtimestamp(minute * 60, self.tz).date()
        rng = random.Random(f"{self.seed}:incident:{day}")
        start = datetime(day.year, day.month, day.day, rng.randint(9, 16), rng.randint(0, 39),
                         tzinfo=self.tz).timestamp() // 60
        code = rng.choice(sorted(self._plan))
        return code if start <= minute < start + 20 else None

    def _call(self, rng: random.Random, ts: float, code: str, incident: bool) -> dict:
        rows, secret = self._plan[code]
        cat, _w, callers = rng.choices(rows, [w for _, w, _ in rows])[0]
        caller = rng.choice(callers)
        u = rng.random()
        if u < NOT_SHARED_RATE and secret:
            cat = rng.choice(secret)
            caller = rng.choice(sorted(x for x in self.reg.units if x != cat.unit))
        elif u < NOT_SHARED_RATE + UNAPPROVED_RATE and cat.sharing == CONDITIONAL:
            caller = rng.choice(sorted(x for x in self.reg.units
                                       if x not in callers and x != cat.unit))
        ok = rng.random() >= (INCIDENT_ERROR_RATE if incident else ERROR_RATE)
        ms = MEDIAN_MS.get(code, 60) * math.exp(rng.gauss(0, 0.5))
        if not ok:
            ms = rng.uniform(3000, 5000) if rng.random() < 0.5 else rng.uniform(5, 30)
        return {"time": round(ts, 3), "caller": caller, "provider": cat.unit, "interface": code,
                "catalog": cat.id, "result": "ok" if ok else "error", "latency_ms": round(ms)}

    def between(self, start: float, end: float) -> list[dict]:
        """Return the calls with start < time <= end, by time."""
        out = []
        for minute in range(int(start // 60), int(end // 60) + 1):
            out += [c for c in self.minute_calls(minute) if start < c["time"] <= end]
        return out

    def step(self, now: float) -> list:
        """Advance to now; return the calls since the last step as POSTs (none the first time)."""
        from streams.simulate import Post

        self.calls = [] if self.last is None else self.between(self.last, now)
        self.last = now
        headers = {"X-Api-Key": self.api_key} if self.api_key else None
        return [Post(CALLS_PATH, {"calls": self.calls[i:i + MAX_POST]}, headers)
                for i in range(0, len(self.calls), MAX_POST)]


def call_actor(svc: object) -> CallActor:
    """Return the call actor for a process's services (streams.simulate plugs it in)."""
    from dashboard.exchange_queries import registry

    s = svc.settings
    keys = [k.strip() for k in s.exchange_gateway_keys.split(",") if k.strip()]
    return CallActor(registry(svc), seed=int(getattr(s, "sim_seed", 1)),
                     calls_per_day=s.sim_calls_per_day, schedule=s.sim_schedule, tz=s.tz,
                     api_key=keys[0] if keys else "")


def _poisson(rng: random.Random, lam: float) -> int:
    """Return a Poisson draw (Knuth for small means, normal approximation for large)."""
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def post_calls(base_url: str, calls: list[dict], session=None, timeout: float = 30) -> dict:
    """POST calls to a running app's /api/v1/calls in batches; return the summed answers."""
    import requests

    http = session or requests.Session()
    total = {"accepted": 0, "rejected": 0}
    for i in range(0, len(calls), MAX_POST):
        resp = http.post(base_url.rstrip("/") + CALLS_PATH, json={"calls": calls[i:i + MAX_POST]},
                         timeout=timeout)
        resp.raise_for_status()
        body = resp.json()
        total["accepted"] += body["accepted"]
        total["rejected"] += len(body["rejected"])
    return total
