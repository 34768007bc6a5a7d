"""Push to browsers: relay Redis pub/sub deltas and periodic panel payloads over socket.io."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import redis
from flask_socketio import SocketIO

from dashboard.mirror import GpsMirror
from dashboard.services import Services

log = logging.getLogger("gridwall.push")

WALL_ROOM = "wall"
Producer = Callable[[Services], object]


@dataclass
class Periodic:
    """A panel payload recomputed every interval and pushed as a socket.io event."""

    event: str
    interval_s: float
    producer: Producer
    last: object = None
    due: float = 0.0


class Relay:
    """One per web process: Redis pub/sub -> throttled socket.io events, plus periodic panels."""

    def __init__(self, svc: Services, socketio: SocketIO) -> None:
        self.svc, self.sio = svc, socketio
        self.periodic: list[Periodic] = []
        self.topics: dict[str, Callable[[dict], None]] = {}
        self._gps: dict[str, tuple] = {}
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.connected = False
        self.mirror = GpsMirror()

    def every(self, event: str, interval_s: float, producer: Producer) -> None:
        """Push producer(svc) as `event` every interval_s seconds (and to each new client)."""
        self.periodic.append(Periodic(event, interval_s, producer))

    def on_topic(self, topic: str, fn: Callable[[dict], None]) -> None:
        """Handle deltas published on a topic channel (default: re-emit them as they are)."""
        self.topics[topic] = fn

    def start(self) -> None:
        """Start the listener and ticker background tasks."""
        self.sio.start_background_task(self._listen)
        self.sio.start_background_task(self._tick)

    def cached(self) -> list[tuple[str, object]]:
        """Return the last payload of every periodic panel, for a client that just connected."""
        return [(p.event, p.last) for p in self.periodic if p.last is not None]

    def _listen(self) -> None:
        backoff = 0.2
        while not self.stop.is_set():
            try:
                ps = self.svc.r.pubsub(ignore_subscribe_messages=True)
                ps.psubscribe(self.svc.keys.channel("*"))
                self.mirror.load(self.svc)  # after subscribing, so no delta falls in between
                self.connected, backoff = True, 0.2
                prefix = len(self.svc.keys.channel(""))
                while not self.stop.is_set():
                    if self.mirror.stale():
                        self.mirror.load(self.svc)
                    msg = ps.get_message(timeout=1.0)
                    if msg and msg["type"] == "pmessage":
                        self._dispatch(msg["channel"][prefix:].decode(), msg["data"])
            except (redis.RedisError, OSError, ValueError) as exc:
                self.connected = False
                if self.stop.is_set():
                    return
                log.warning("relay: redis unavailable (%s), retrying", exc)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:  # noqa: BLE001 - the relay must outlive a bad message
                log.exception("relay: unexpected error")
                self.stop.wait(1.0)

    def _dispatch(self, topic: str, data: bytes) -> None:
        payload = orjson.loads(data)
        if topic == "gps":
            self.mirror.apply(payload)
            with self._lock:
                for i, wid in enumerate(payload["ids"]):
                    self._gps[wid] = (
                        payload["lat"][i],
                        payload["lon"][i],
                        payload["st"][i],
                        payload["g"][i],
                        payload["ts"][i],
                    )
        elif topic in self.topics:
            self.topics[topic](payload)
        else:
            self.sio.emit(topic, payload, to=WALL_ROOM)

    def _tick(self) -> None:
        import time

        while not self.stop.is_set():
            start = time.monotonic()
            self._flush_gps()
            for p in self.periodic:
                if start >= p.due:
                    p.due = start + p.interval_s
                    try:
                        p.last = p.producer(self.svc)
                        self.sio.emit(p.event, p.last, to=WALL_ROOM)
                    except redis.RedisError:
                        pass  # shown as "reconnecting" by the health panel; try next time
                    except Exception:  # noqa: BLE001
                        log.exception("periodic %s failed", p.event)
            self.stop.wait(
                max(0.05, self.svc.settings.push_interval_s - (time.monotonic() - start))
            )

    def _flush_gps(self) -> None:
        with self._lock:
            batch, self._gps = self._gps, {}
        if not batch:
            return
        ids = list(batch)
        vals = [batch[i] for i in ids]
        self.sio.emit(
            "gps",
            {
                "ids": ids,
                "lat": [v[0] for v in vals],
                "lon": [v[1] for v in vals],
                "st": [v[2] for v in vals],
                "g": [v[3] for v in vals],
                "ts": [v[4] for v in vals],
                "full": False,
                "now": self.svc.clock.now(),
            },
            to=WALL_ROOM,
        )
