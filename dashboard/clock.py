"""Injectable clocks: time-based logic asks a Clock, tests move a FakeClock."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo


class Clock:
    """The system clock, in Unix seconds."""

    def now(self) -> float:
        """Return the current Unix time in seconds."""
        return time.time()


class FakeClock(Clock):
    """A clock that only moves when told to; safe to share between threads."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        """Return the fake time."""
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new time."""
        with self._lock:
            self._t += seconds
            return self._t

    def set(self, t: float) -> None:
        """Jump to an absolute Unix time."""
        with self._lock:
            self._t = float(t)


class ScaledClock(Clock):
    """A clock running `speed` times faster than real time since the real Unix time `epoch`.

    Every process given the same epoch and speed agrees on the time, so a whole demo can
    run compressed (--speed) across web, consumers and simulator.
    """

    def __init__(self, speed: float = 1.0, epoch: float | None = None) -> None:
        self.speed = speed
        self.epoch = time.time() if epoch is None else epoch

    def now(self) -> float:
        """Return the scaled time."""
        return self.epoch + (time.time() - self.epoch) * self.speed


class Days:
    """Local calendar days (YYYYMMDD) of Unix times in the district time zone, cached."""

    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        self.tz = ZoneInfo(tz)
        self._cache: dict[int, tuple[str, int]] = {}

    def day(self, ts: float) -> str:
        """Return the local day of a Unix time as YYYYMMDD."""
        hour = int(ts // 900)
        hit = self._cache.get(hour)
        if hit is None:
            dt = datetime.fromtimestamp(hour * 900, self.tz)
            hit = (dt.strftime("%Y%m%d"), 0)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[hour] = hit
        return hit[0]

    def start_of_day(self, ts: float) -> float:
        """Return the Unix time of local midnight of the day containing ts."""
        dt = datetime.fromtimestamp(ts, self.tz)
        return dt.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def make_clock(speed: float = 1.0, start: float = 0.0) -> Clock:
    """Return the system clock, or a scaled one when time is compressed (--speed)."""
    if speed == 1.0:
        return Clock()
    return ScaledClock(speed, start or None)
