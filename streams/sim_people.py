"""Simulator actor of the proactive services and party-member points (streams.simulate's
Actor protocol: step(now) -> [Post]).

TaskDoers: grid workers complete most of their service tasks some hours after they are
pushed (a share never, so they go overdue), through ``POST /api/v1/tasks/<id>/done`` with
their phones' Open311 API key (or, lacking one, the PEOPLE_ADMIN_KEYS key); with a
PEOPLE_ADMIN_KEYS key, station leaders also record volunteer activities of resident party
members through ``POST /api/v1/points/volunteer``.  It reads the open tasks from Redis, as
the case desks read their queues.  Wire it with
``sim.actors += people_actors(svc, open311_key)``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random

from dashboard.people import people
from dashboard.services import Services
from streams.simulate import Post

LOOK_EVERY_S = 60.0  # simulated seconds between looks at the open tasks
DONE_SHARE = 0.9  # share of tasks that get done at all (the rest go overdue)
MEAN_DELAY_H = 5.0  # mean hours from a task's push to its completion
MAX_POSTS = 40  # completions per look (the simulator's outbox keeps at most 100 requests)
RETRY_S = 600.0  # simulated seconds before a completion that got lost is posted again
VOLUNTEERS_PER_DAY = 40.0  # volunteer activities recorded per simulated day
ACTIVE_PER_STATION = 3  # resident party members per station who volunteer regularly
ACTIVITIES = ("社区环境清扫", "独居老人陪护", "文明劝导", "垃圾分类宣传", "防汛巡查", "义务理发",
              "法律咨询进社区", "关爱留守儿童", "献血志愿服务", "反诈宣传")
log = logging.getLogger("gridwall.sim")
NOTES = ("已上门服务", "已电话联系并上门", "已协助办理", "居民不在家,已约定时间再访后完成")


def _u(*parts: object) -> float:
    """Return a deterministic uniform number in [0, 1) for the given parts."""
    h = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2 ** 64


class TaskDoers:
    """Workers completing service tasks, and leaders recording volunteer activity."""

    def __init__(self, svc: Services, seed: int = 1, admin_key: str = "",
                 done_share: float = DONE_SHARE, mean_delay_h: float = MEAN_DELAY_H,
                 volunteers_per_day: float = VOLUNTEERS_PER_DAY, phone_key: str = "") -> None:
        self.svc, self.seed, self.key = svc, seed, admin_key
        self.phone_key = phone_key or admin_key  # what completes tasks; none: no completions
        self.done_share, self.mean_delay_s = done_share, mean_delay_h * 3600
        self.vol_rate = volunteers_per_day / 86400.0
        self.rng = random.Random(f"people-{seed}")
        self.posted: dict[str, float] = {}
        self.last: float | None = None
        self.members: list[str] | None = None
        self.n = 0

    def step(self, now: float) -> list[Post]:
        """Return the completions and volunteer records due since the last look."""
        if self.last is not None and now - self.last < LOOK_EVERY_S:
            return []
        since, self.last = self.last, now
        out = self._completions(now) if self.phone_key else []
        if self.key and since is not None:
            out += self._volunteers(now - since)
        return out

    def _completions(self, now: float) -> list[Post]:
        k = self.svc.keys
        ids = [i.decode() for i in self.svc.r.zrange(k.tasks_open(), 0, 4999)]
        ids = [i for i in ids if _u(self.seed, i) < self.done_share]
        pipe = self.svc.r.pipeline(transaction=False)
        for i in ids:
            pipe.hmget(k.task(i), "worker", "created")
        out: list[Post] = []
        for tid, (worker, created) in zip(ids, pipe.execute(), strict=True):
            if worker is None:
                continue
            delay = -math.log(1.0 - _u(tid, "delay")) * self.mean_delay_s
            if now < float(created) + delay or now - self.posted.get(tid, -1e18) <= RETRY_S:
                continue
            self.posted[tid] = now
            note = NOTES[int(_u(tid, "note") * len(NOTES))]
            out.append(Post(f"/api/v1/tasks/{tid}/done", {
                "api_key": self.phone_key, "worker": worker.decode(), "note": note}))
            if len(out) >= MAX_POSTS:
                break
        if len(self.posted) > 100000:
            self.posted = {t: at for t, at in self.posted.items() if now - at <= RETRY_S}
        return out

    def _volunteers(self, elapsed_s: float) -> list[Post]:
        if self.members is None:
            df = people(self.svc).residents
            party = df[df["party_member"].to_numpy()]
            station = party["grid"].map({g.code: g.station for g in self.svc.district.grids})
            self.members = sorted(party.groupby(station.to_numpy())["rid"].head(
                ACTIVE_PER_STATION).tolist())
        if not self.members:
            return []
        lam = self.vol_rate * elapsed_s
        count = sum(1 for _ in range(20) if self.rng.random() < lam / 20)
        out = []
        for _ in range(count):
            self.n += 1
            member = self.rng.choice(self.members)
            out.append(Post("/api/v1/points/volunteer", {
                "api_key": self.key, "member": member, "activity": self.rng.choice(ACTIVITIES),
                "points": self.rng.randint(2, 6), "by": "网格站",
                "ref": f"sim{self.seed}-{self.n}"}))
        return out


def people_actors(svc: Services, open311_key: str = "", seed: int = 1) -> list:
    """Return the people actors for a simulator: tasks are completed with the phones' Open311
    key (else the PEOPLE_ADMIN_KEYS key), volunteers recorded only with a PEOPLE_ADMIN_KEYS
    key."""
    keys = [k.strip() for k in svc.settings.people_admin_keys.split(",") if k.strip()]
    admin = keys[0] if keys else ""
    if not (open311_key or admin):
        log.warning("no OPEN311_API_KEYS or PEOPLE_ADMIN_KEYS key: simulated workers will not "
                    "complete service tasks")
    return [TaskDoers(svc, seed, admin, phone_key=open311_key)]
