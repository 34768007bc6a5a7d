"""Redis connections: the single place that turns settings into a client."""

from __future__ import annotations

from functools import partial

import redis
from redis.cluster import ClusterNode, RedisCluster

from dashboard.config import Settings

RedisClient = redis.Redis | RedisCluster


class ClusterClient(RedisCluster):
    """redis-py's cluster client whose pipelines may also PUBLISH.

    redis-py refuses PUBLISH in a cluster pipeline because it has no key to route by; classic
    pub/sub messages reach every node of a cluster, so any node will do.
    """

    def pipeline(self, transaction=None, shard_hint=None):  # noqa: ANN001, ANN201 - as redis-py
        """Return a cluster pipeline that also accepts publish()."""
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        pipe.publish = partial(pipe.execute_command, "PUBLISH")
        return pipe


def connect(settings: Settings, url: str | None = None) -> RedisClient:
    """Return a client for REDIS_URL, a redis+cluster:// URL or REDIS_CLUSTER_NODES."""
    url = url or settings.redis_url
    opts = dict(
        socket_timeout=10, socket_connect_timeout=5, health_check_interval=15, retry_on_timeout=True
    )
    if settings.redis_cluster_nodes:
        nodes = [ClusterNode(*hp.rsplit(":", 1)) for hp in settings.redis_cluster_nodes.split(",")]
        return ClusterClient(startup_nodes=nodes, **opts)
    if url.startswith("redis+cluster://"):
        return ClusterClient.from_url("redis://" + url[len("redis+cluster://") :], **opts)
    if not url:
        raise ValueError("no Redis URL: start the embedded server first (python app.py run)")
    return redis.Redis.from_url(url, **opts)
