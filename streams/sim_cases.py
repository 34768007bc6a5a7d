"""Simulator actors of the case loop (streams.simulate's Actor protocol: step(now) -> [Post]).

CaseReporters: workers report problems in their grids at realistic rates by category,
through Open311 (now and then two reports of the same thing, which dispatch links).
CaseDesks: departments accept and handle their cases with department-specific delays
(some slow enough to go overdue, a few return cases as not theirs); workers verify
handled cases on site and the supervision centre closes verified ones, all through the
case API.  Wire them with ``sim.actors += case_actors(svc, open311_key)``.
"""

from __future__ import annotations

import hashlib
import math
import random

from shapely.geometry import Point, Polygon

from dashboard import apikeys
from dashboard.catalog import catalog_for
from dashboard.services import Services
from streams.simulate import Post

REPORTS_PER_WORKER_H = 0.15  # reports per worker per hour on duty
CATEGORY_SHARE = {"city": 0.45, "safety": 0.2, "environment": 0.15, "security": 0.1,
                  "dispute": 0.1}
DUPLICATE_SHARE = 0.06  # reports that repeat a recent report nearby
DESK_EVERY_S = 30.0  # simulated seconds between looks at the queues
MAX_POSTS = 60  # actions per look (the simulator's outbox keeps at most 100 requests)
RETRY_S = 600.0  # simulated seconds before an action that got lost is posted again
# department -> (mean minutes to accept, handling time as a share of the limit (at most
# 12 h), return rate): a share near or above 1 makes a department miss deadlines
SLOW = {"zhujian": (40, 1.05, 0.03), "guihua": (60, 1.2, 0.05), "renshe": (45, 0.95, 0.02),
        "gongan": (5, 0.35, 0.01), "xiaofang": (3, 0.3, 0.0), "shuiwu": (15, 0.6, 0.04)}
DEFAULT_DESK = (20, 0.7, 0.03)
DESCRIPTIONS = ("巡查发现", "居民反映", "现场核实", "第二次巡查仍存在")


def _u(*parts: object) -> float:
    """Return a deterministic uniform number in [0, 1) for the given parts."""
    h = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2 ** 64


class CaseReporters:
    """Workers reporting problems in their own grids through Open311."""

    def __init__(self, svc: Services, api_key: str, seed: int = 1,
                 per_worker_h: float = REPORTS_PER_WORKER_H) -> None:
        self.svc, self.key, self.rng = svc, api_key, random.Random(f"reports-{seed}")
        self.rate = per_worker_h * len(svc.district.workers) / 3600.0  # reports per second
        items = catalog_for(svc).items
        self.items = {c: [i for i in items if i.category == c] for c in CATEGORY_SHARE}
        self.polys = {g.code: Polygon(g.ring) for g in svc.district.grids}
        self.last: float | None = None
        self.recent: list[dict] = []

    def step(self, now: float) -> list[Post]:
        """Return the reports made since the last step (a Poisson process)."""
        if self.last is None or now - self.last > 3600:
            self.last = now
            return []
        dt, self.last = now - self.last, now
        n = _poisson(self.rng, self.rate * dt)
        return [Post("/open311/v2/requests.json", self._report()) for _ in range(n)]

    def _report(self) -> dict:
        rng = self.rng
        if self.recent and rng.random() < DUPLICATE_SHARE:
            body = dict(rng.choice(self.recent))
            body["description"] = "同一问题再次上报"
            return body
        w = rng.choice(self.svc.district.workers)
        cat = rng.choices(list(CATEGORY_SHARE), weights=list(CATEGORY_SHARE.values()))[0]
        item = rng.choice(self.items[cat])
        lon, lat = _point_in(rng, self.polys[w.grid])
        body = {"api_key": self.key, "service_code": item.code, "lat": round(lat, 6),
                "long": round(lon, 6), "device_id": w.id,
                "description": f"{rng.choice(DESCRIPTIONS)}：{item.name}"}
        self.recent = (self.recent + [body])[-50:]
        return body


class CaseDesks:
    """Departments, workers and the supervision centre acting on cases through the case API."""

    def __init__(self, svc: Services, keys: dict[str, str], open311_key: str,
                 seed: int = 1) -> None:
        self.svc, self.keys, self.open311, self.seed = svc, keys, open311_key, seed
        self.catalog = catalog_for(svc)
        self.done: dict[tuple[str, str], float] = {}  # (case, action path) -> when posted
        self.last = 0.0

    def step(self, now: float) -> list[Post]:
        """Return the actions due since the last look at the open cases."""
        if now - self.last < DESK_EVERY_S:
            return []
        self.last = now
        k = self.svc.keys
        ids = [i.decode() for i in self.svc.r.zrange(k.cases_open(), 0, 4999)]
        pipe = self.svc.r.pipeline(transaction=False)
        for i in ids:
            pipe.hmget(k.case(i), "s", "d", "da", "dl", "w", "ha", "va", "it")
        out: list[Post] = []
        for cid, vals in zip(ids, pipe.execute(), strict=True):
            if vals[0] is None:
                continue
            s, d, da, dl, w, ha, va, _it = (v.decode() if v else "" for v in vals)
            post = self._action(now, cid, s, d, float(da or 0), float(dl or 0), w,
                                float(ha or 0), float(va or 0))
            if post and now - self.done.get((cid, post.path), -1e18) > RETRY_S:
                self.done[(cid, post.path)] = now
                out.append(post)
            if len(out) >= MAX_POSTS:
                break
        if len(self.done) > 200000:
            self.done = {k: t for k, t in self.done.items() if now - t <= RETRY_S}
        return out

    def _action(self, now: float, cid: str, state: str, dept: str, da: float, dl: float,
                worker: str, ha: float, va: float) -> Post | None:
        accept_min, share, ret = SLOW.get(dept, DEFAULT_DESK)
        limit = max(600.0, dl - da)
        if share < 1:  # a good department does not use a long limit up
            limit = min(limit, 12 * 3600.0)
        u = _u(self.seed, cid, dept, da)
        base = f"/api/v1/cases/{cid}/"
        if state == "returned":
            if now - da > 900 and "@district" in self.keys:
                to = self._other(cid)
                return Post(base + "redispatch", {"api_key": self.keys["@district"], "to": to,
                                                   "note": "监督中心改派"})
            return None
        key = self.keys.get(dept)
        if key is None:
            return None
        if state == "dispatched" and u < ret and now - da > 300:
            return Post(base + "return", {"api_key": key, "reason": "非本单位职责"})
        accept_at = da + accept_min * 60 * (0.3 + 1.4 * _u(cid, "a"))
        handle_at = da + limit * share * (0.4 + 1.2 * _u(cid, "h"))
        if state == "dispatched" and now >= accept_at:
            return Post(base + "accept", {"api_key": key})
        if state in ("dispatched", "accepted") and now >= max(handle_at, accept_at):
            return Post(base + "handle", {"api_key": key, "note": "已到场处置完毕"})
        if state == "handled" and now >= ha + 1800 * (0.5 + _u(cid, "v")):
            return Post(base + "verify", {"api_key": self.open311, "worker": worker})
        if state == "verified" and now >= va + 600 and "@district" in self.keys:
            return Post(base + "close", {"api_key": self.keys["@district"]})
        return None

    def _other(self, cid: str) -> str:
        depts = [d.code for d in self.svc.district.departments if d.kind == "department"]
        return depts[int(_u(cid, "to") * len(depts))]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    n, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


def _point_in(rng: random.Random, poly: Polygon) -> tuple[float, float]:
    minx, miny, maxx, maxy = poly.bounds
    inner = poly.buffer(-0.0002) if poly.buffer(-0.0002).area > 0 else poly
    for _ in range(50):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if inner.contains(Point(x, y)):
            return x, y
    p = poly.representative_point()
    return p.x, p.y


def desk_keys(svc: Services) -> dict[str, str]:
    """Issue fresh simulator keys: one per department (name 'sim:<code>') and the supervisor."""
    out = {}
    for d in svc.district.departments:
        apikeys.revoke(svc, f"sim:{d.code}")
        out[d.code] = apikeys.create(svc, f"sim:{d.code}", "dept", d.code)
    apikeys.revoke(svc, "sim:supervisor")
    out["@district"] = apikeys.create(svc, "sim:supervisor", "supervisor")
    return out


def case_actors(svc: Services, open311_key: str, seed: int = 1) -> list:
    """Return the reporting and desk actors for a simulator."""
    return [CaseReporters(svc, open311_key, seed), CaseDesks(svc, desk_keys(svc), open311_key,
                                                            seed)]
