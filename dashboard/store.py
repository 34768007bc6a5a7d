"""Redis connections: the single place that turns settings into a client."""

from __future__ import annotations

import redis
from redis.cluster import ClusterNode, RedisCluster

from dashboard.config import Settings

RedisClient = redis.Redis | RedisCluster


def connect(settings: Settings, url: str | None = None) -> RedisClient:
    """Return a client for REDIS_URL, a redis+cluster:// URL or REDIS_CLUSTER_NODES."""
    url = url or settings.redis_url
    opts = dict(
        socket_timeout=10, socket_connect_timeout=5, health_check_interval=15, retry_on_timeout=True
    )
    if settings.redis_cluster_nodes:
        nodes = [ClusterNode(*hp.rsplit(":", 1)) for hp in settings.redis_cluster_nodes.split(",")]
        return RedisCluster(startup_nodes=nodes, **opts)
    if url.startswith("redis+cluster://"):
        return RedisCluster.from_url("redis://" + url[len("redis+cluster://") :], **opts)
    if not url:
        raise ValueError("no Redis URL: start the embedded server first (python app.py run)")
    return redis.Redis.from_url(url, **opts)
