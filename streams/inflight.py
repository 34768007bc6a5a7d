"""Commands sent on one connection without waiting, their replies read later in order.

The dispatcher sends a batch's scripts this way, and begins the next batch before the last
one's replies are read (streams.consumer: `begin`), so Redis always has the next call queued.
All of them go on one connection, so Redis runs them in the order they were sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import redis


class InFlight:
    """Send commands and collect their replies by ticket, in any order; one thread uses it.

    It holds a pooled connection while replies are owed and gives it back once all are read.
    A lost connection fails every reply still owed on it (redis.ConnectionError).
    """

    def __init__(self, pool: Callable[[], redis.ConnectionPool]) -> None:
        self._pool = pool  # asked again for each new connection: a cluster slot may move
        self._conn: redis.connection.AbstractConnection | None = None
        self._conn_pool: redis.ConnectionPool | None = None
        self._sent = self._read = 0  # the replies of tickets [_read, _sent) are owed on _conn
        self._held: dict[int, object] = {}  # replies read, not yet asked for
        self._dropped: set[int] = set()

    def owed(self) -> int:
        """Return how many replies are still to be read from Redis."""
        return self._sent - self._read

    def send(self, *args: object) -> int:
        """Send one command now; return the ticket its reply is read with."""
        first = self._conn is None
        if first:
            self._conn_pool = self._pool()
            self._conn = self._conn_pool.get_connection()
        try:
            # a health-check PING now would read a reply owed to an earlier command
            self._conn.send_command(*args, check_health=first)
        except BaseException:
            self._lose()
            raise
        self._sent += 1
        return self._sent - 1

    def reply(self, ticket: int) -> object:
        """Return a command's reply, or the redis.ResponseError it was (not raised)."""
        if ticket not in self._held:
            if ticket < self._read:
                raise redis.ConnectionError("the connection this reply was owed on was lost")
            self._read_through(ticket)
        return self._held.pop(ticket)

    def wait(self, owed: int) -> None:
        """Read replies (kept for their tickets) until at most `owed` are still owed."""
        if self.owed() > owed:
            self._read_through(self._sent - owed - 1)

    def forget(self, tickets: Iterable[int]) -> None:
        """Drop the replies of commands nobody waits for, when they come."""
        for t in tickets:
            if self._held.pop(t, None) is None and t >= self._read:
                self._dropped.add(t)

    def abandon(self, tickets: Iterable[int]) -> None:
        """Read and drop the replies of commands whose sender gave up on them."""
        tickets = list(tickets)
        self.forget(tickets)
        if tickets and max(tickets) >= self._read:
            self._read_through(max(tickets))

    def _read_through(self, ticket: int) -> None:
        while self._read <= ticket:
            try:
                res: object = self._conn.read_response()
            except redis.ResponseError as exc:  # the replies after it are still to be read
                res = exc
            except BaseException:
                self._lose()
                raise
            if self._read in self._dropped:
                self._dropped.discard(self._read)
            else:
                self._held[self._read] = res
            self._read += 1
        if self._read == self._sent:
            self._give_back()

    def _give_back(self) -> None:
        if self._conn is not None:
            self._conn_pool.release(self._conn)
            self._conn = self._conn_pool = None

    def _lose(self) -> None:
        """Drop the connection (replies may be left unread on it) and what is owed on it."""
        if self._conn is not None:
            self._conn.disconnect()
        self._give_back()
        self._read = self._sent
        self._dropped.clear()
