"""Push to browsers: relay Redis pub/sub deltas and periodic panel payloads over socket.io.

Every web process relays the pub/sub deltas (GPS, cases, ...) to its own browsers.  With
several web processes (WEB_WORKERS > 1) the periodic panels are computed by one of them only,
the holder of a short Redis lease, and reach every process's browsers through socket.io's
message queue on Redis (RedisQueue); another process takes the lease over within seconds if
that one dies.  A process that loses Redis closes its browsers' connections: they show
"reconnecting" until Redis is back and then reconnect to a fresh snapshot.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import orjson
import redis
import socketio as pysocketio
from flask_socketio import SocketIO

from dashboard.mirror import GpsMirror
from dashboard.services import Services
from dashboard.store import connect

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
    at: float = 0.0  # monotonic time `last` was computed


class Relay:
    """One per web process: Redis pub/sub -> throttled socket.io events, plus periodic panels."""

    def __init__(self, svc: Services, socketio: SocketIO, shared: bool = False) -> None:
        self.svc, self.sio = svc, socketio
        self.shared = shared  # several web processes: panels by the lease holder, via the queue
        self.leader = not shared
        self.up = threading.Event()  # set while Redis pub/sub is connected
        self.process = f"{socket.gethostname()}-{os.getpid()}"
        self._token = secrets.token_hex(8)
        self._lease = svc.r.register_script(LEASE_LUA)
        self._reported = 0.0
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
        """Start the listener, the GPS ticker and the panel background tasks."""
        self.sio.start_background_task(self._listen)
        self.sio.start_background_task(self._tick)
        self.sio.start_background_task(self._panels)

    def cached(self) -> list[tuple[str, object]]:
        """Return the last payload of every periodic panel, for a client that just connected.

        A process that does not compute the panels computes stale ones now; the one that does
        answers at once and its loop (which waits at most a second) brings fresh ones.
        """
        if not self.leader:
            now = time.monotonic()
            for p in self.periodic:
                if p.last is None or now - p.at > p.interval_s:
                    try:
                        p.last, p.at = p.producer(self.svc), now
                    except Exception:  # noqa: BLE001 - the next periodic push brings it
                        log.debug("panel %s not ready for a new client", p.event)
        return [(p.event, p.last) for p in self.periodic if p.last is not None]

    def emit_local(self, event: str, payload: object, to: str = WALL_ROOM) -> None:
        """Emit to this process's browsers only (every process relays pub/sub deltas itself)."""
        self.sio.emit(event, payload, to=to, ignore_queue=True)

    @property
    def local(self) -> SimpleNamespace:
        """Return a socketio-like emitter that reaches this process's browsers only."""
        return SimpleNamespace(
            emit=lambda event, payload, to=WALL_ROOM, **_: self.emit_local(event, payload, to))

    def wait_up(self, timeout_s: float) -> bool:
        """Wait until Redis pub/sub is connected; return whether it is."""
        return self.up.wait(timeout_s)

    def clients(self) -> int:
        """Return how many browsers of this process are in the wall room."""
        try:
            return sum(1 for _ in self.sio.server.manager.get_participants("/", WALL_ROOM))
        except (AttributeError, KeyError):
            return 0

    def _drop_clients(self) -> None:
        """Close this process's wall connections: browsers show "reconnecting" and come back."""
        try:
            eio_sids = [e for _, e in self.sio.server.manager.get_participants("/", WALL_ROOM)]
        except (AttributeError, KeyError):
            return
        for eio_sid in eio_sids:
            # engine.io's disconnect waits for the socket's send queue to drain, forever if its
            # writer is gone: one thread per browser, so the relay itself never waits on it.
            self.sio.start_background_task(self._drop_one, eio_sid)

    def _drop_one(self, eio_sid: str) -> None:
        """Close one browser's engine.io connection."""
        try:
            self.sio.server.eio.disconnect(eio_sid)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def _hold_lease(self) -> bool:
        """Take or keep the lease of the process that computes the panels; False on errors."""
        ttl_ms = int(max(3.0, 5 * self.svc.settings.push_interval_s) * 1000)
        try:
            return bool(self._lease(keys=[self.svc.keys.push_leader()],
                                    args=[self._token, ttl_ms]))
        except redis.RedisError:
            return False

    def _audience(self) -> int:
        """Return how many wall browsers are connected: to this process, or (shared) to any
        web process that reported in the last 10 s."""
        if not self.shared:
            return self.clients()
        try:
            docs = self.svc.r.hgetall(self.svc.keys.web_processes())
        except redis.RedisError:
            return 1  # unknown: go on computing, the panels show the outage themselves
        now = time.time()
        others = [orjson.loads(v) for k, v in docs.items() if k.decode() != self.process]
        # this process's own count is fresher than its last report
        return self.clients() + sum(d["clients"] for d in others if now - d["at"] < 10)

    def _report(self) -> None:
        """Record this process's browser count (the push-clients metric), every few seconds."""
        now = time.time()
        if now - self._reported < 2.0:
            return
        self._reported = now
        doc = orjson.dumps({"clients": self.clients(), "at": now, "leader": self.leader})
        try:
            self.svc.r.hset(self.svc.keys.web_processes(), self.process, doc)
        except redis.RedisError:
            pass

    def _listen(self) -> None:
        backoff = 0.2
        ps = None
        while not self.stop.is_set():
            _close(ps)  # a subscription left by an error before this round
            try:
                ps = self.svc.r.pubsub(ignore_subscribe_messages=True)
                ps.psubscribe(self.svc.keys.channel("*"))
                self.mirror.load(self.svc)  # after subscribing, so no delta falls in between
                self.connected, backoff = True, 0.2
                self.up.set()
                prefix = len(self.svc.keys.channel(""))
                while not self.stop.is_set():
                    if self.mirror.stale():
                        self.mirror.load(self.svc)
                    msg = ps.get_message(timeout=1.0)
                    if msg and msg["type"] == "pmessage":
                        self._dispatch(msg["channel"][prefix:].decode(), msg["data"])
            except (redis.RedisError, OSError, ValueError) as exc:
                was, self.connected = self.connected, False
                self.up.clear()
                if was:
                    self._drop_clients()
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
            self.emit_local(topic, payload)

    def _tick(self) -> None:
        """Flush GPS deltas every PUSH_INTERVAL_S (never behind a slow panel), keep the lease."""
        while not self.stop.is_set():
            start = time.monotonic()
            self._flush_gps()
            if self.shared:
                self.leader = self._hold_lease()
            self._report()
            self.stop.wait(
                max(0.05, self.svc.settings.push_interval_s - (time.monotonic() - start))
            )

    def _panels(self) -> None:
        """Compute and push every periodic panel when due (the lease holder only, if shared),
        while some wall is connected: with nobody watching, the CPU is the phones'."""
        while not self.stop.is_set():
            start = time.monotonic()
            watched = self.leader and self._audience() > 0
            for p in self.periodic:
                if start >= p.due and watched:
                    p.due = start + p.interval_s
                    try:
                        p.last, p.at = p.producer(self.svc), start
                        self.sio.emit(p.event, p.last, to=WALL_ROOM)  # via the queue if shared
                    except redis.RedisError:
                        pass  # shown as "reconnecting" by the health panel; try next time
                    except Exception:  # noqa: BLE001
                        log.exception("periodic %s failed", p.event)
            due = min((p.due for p in self.periodic), default=start + 1.0)
            self.stop.wait(min(1.0, max(0.05, due - time.monotonic())))

    def _flush_gps(self) -> None:
        with self._lock:
            batch, self._gps = self._gps, {}
        if not batch:
            return
        ids = list(batch)
        vals = [batch[i] for i in ids]
        self.emit_local(
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
        )


def _close(ps) -> None:  # noqa: ANN001 - a PubSub or None
    """Close a pub/sub connection, whatever state it is in."""
    if ps is not None:
        try:
            ps.close()
        except Exception:  # noqa: BLE001 - it is being thrown away
            pass


# Take the lease if free, keep it if ours (KEYS: lease; ARGV: token, ttl ms); 1 if held.
LEASE_LUA = """
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class FastJson:
    """socket.io's packet encoder on orjson: the wall's 20,000-worker snapshot encodes ~10x
    faster than with the standard json module."""

    OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

    @staticmethod
    def dumps(obj: object, **_: object) -> str:
        """Return obj as compact JSON text."""
        return orjson.dumps(obj, option=FastJson.OPTIONS).decode()

    @staticmethod
    def loads(text: str | bytes) -> object:
        """Return the value of JSON text."""
        return orjson.loads(text)


class FastPacket(pysocketio.packet.Packet):
    """socket.io packets encoded with orjson, and a binary check that scans a long list of
    numbers once instead of recursing into every element (a 20,000-worker snapshot holds
    120,000 of them; the library's check took longer than encoding it)."""

    json = FastJson

    @classmethod
    def data_is_binary(cls, data: object) -> bool:
        """Tell whether data holds bytes anywhere."""
        if isinstance(data, (bytes, bytearray)):
            return True
        if isinstance(data, dict):
            data = list(data.values())
        elif not isinstance(data, (list, tuple)):
            return False
        if not {type(x) for x in data} & _NESTED:
            return False
        return any(cls.data_is_binary(x) for x in data if type(x) in _NESTED)


_NESTED = {bytes, bytearray, list, tuple, dict}


class RedisQueue(pysocketio.PubSubManager):
    """socket.io's message queue over Gridwall's own Redis client (one server or a cluster).

    python-socketio's RedisManager takes redis:// URLs only and backs off up to a minute after
    an outage; this one uses store.connect (unix sockets, redis+cluster://) and is back within
    two seconds of Redis.
    """

    name = "gridwall-redis"

    def __init__(self, settings, channel: str) -> None:  # noqa: ANN001 - Settings
        super().__init__(channel=channel)
        self.settings = settings
        self._r = None

    def _redis(self):  # noqa: ANN202
        if self._r is None:
            self._r = connect(self.settings)
        return self._r

    def _publish(self, data: dict) -> None:
        try:
            self._redis().publish(self.channel, self.json.dumps(data))
        except redis.RedisError as exc:  # the browsers get the next periodic push
            log.warning("push queue: publish failed (%s)", exc)

    def _listen(self):  # noqa: ANN202 - a generator of queue messages
        backoff = 0.2
        while True:
            try:
                ps = self._redis().pubsub(ignore_subscribe_messages=True)
                ps.subscribe(self.channel)
                backoff = 0.2
                while True:
                    msg = ps.get_message(timeout=1.0)
                    if msg and msg["type"] == "message":
                        yield msg["data"]
            except (redis.RedisError, OSError) as exc:
                log.warning("push queue: redis unavailable (%s), retrying", exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
