"""THE Redis key schema: every key, stream, group and channel name is built here.

Keys carry a Redis Cluster hash tag ({...}) so that every key one operation (a Lua
script, a MULTI, a multi-key command) touches lives in one slot.  GPS is sharded by
worker into ``gps_shards`` tags so a city can spread it over several masters.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key builder bound to one prefix (tests use their own prefix)."""

    prefix: str = "gw"
    gps_shards: int = 1

    # ---- generic stream plumbing -------------------------------------------------
    def group(self, stream: str) -> str:
        """Return the consumer group name of a logical stream ('gps', 'events', ...)."""
        return f"{self.prefix}-{stream}"

    def deadletter(self, stream: str) -> str:
        """Return the dead-letter stream of a logical stream."""
        return f"{self.prefix}:{{dl.{stream}}}:entries"

    def deadletter_reasons(self, stream: str) -> str:
        """Return the hash counting dead letters of a stream by reason."""
        return f"{self.prefix}:{{dl.{stream}}}:reasons"

    def channel(self, topic: str) -> str:
        """Return the pub/sub channel carrying deltas of a topic to the web tier."""
        return f"{self.prefix}:push:{topic}"

    def consumers_heartbeat(self) -> str:
        """Return the hash of live consumer processes -> last heartbeat (Unix s)."""
        return f"{self.prefix}:{{ops}}:consumers"

    def counter(self, name: str) -> str:
        """Return a plain counter key (ingest counts, reminders sent, ...)."""
        return f"{self.prefix}:{{ops}}:count:{name}"

    def rate(self, name: str, second: int) -> str:
        """Return the per-second bucket of a rate counter (expires after a minute)."""
        return f"{self.prefix}:{{ops}}:rate:{name}:{second}"

    def meta(self) -> str:
        """Return the hash of loaded-district metadata."""
        return f"{self.prefix}:{{ops}}:meta"

    def apikeys(self) -> str:
        """Return the hash of issued API keys: sha256(key) -> JSON {name, role, dept}."""
        return f"{self.prefix}:{{auth}}:apikeys"

    # ---- GPS -----------------------------------------------------------------------
    def gps_shard(self, worker: str) -> int:
        """Return the shard of a worker (stable across processes and restarts)."""
        if self.gps_shards <= 1:
            return 0
        return zlib.crc32(worker.encode()) % self.gps_shards

    def _gps(self, shard: int) -> str:
        return f"{self.prefix}:{{gps.{shard}}}"

    def gps_stream(self, shard: int = 0) -> str:
        """Return the raw fix stream of a shard."""
        return f"{self._gps(shard)}:fixes"

    def gps_streams(self) -> list[str]:
        """Return every GPS shard stream."""
        return [self.gps_stream(s) for s in range(max(1, self.gps_shards))]

    def gps_last(self, shard: int = 0) -> str:
        """Return the hash worker -> packed latest state of a shard."""
        return f"{self._gps(shard)}:last"

    def gps_track(self, shard: int, day: str, worker: str) -> str:
        """Return the packed track of one worker-day (day as YYYYMMDD)."""
        return f"{self._gps(shard)}:trk:{day}:{worker}"

    def gps_track_index(self, shard: int, day: str) -> str:
        """Return the set of workers that have a track on a day in a shard."""
        return f"{self._gps(shard)}:trkidx:{day}"

    def gps_days(self, shard: int = 0) -> str:
        """Return the set of days (YYYYMMDD) with tracks still in Redis for a shard."""
        return f"{self._gps(shard)}:days"


def keys_for(settings: object) -> Keys:
    """Return the key builder for a Settings object."""
    return Keys(prefix=settings.key_prefix, gps_shards=max(1, settings.gps_shards))


def logical_streams(keys: Keys) -> dict[str, list[str]]:
    """Return every logical stream of the system with its physical stream keys."""
    return {
        "gps": keys.gps_streams(),
    }
