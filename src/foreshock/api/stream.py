"""The in-process change stream: anything may publish, every SSE client gets a copy.

    broadcaster.publish("incident", {"id": 7, "status": "acknowledged"})   # from any thread

Publishers run in threads (the pipeline) or on the event loop (the routes); subscribers are
SSE responses on the event loop. `publish` never blocks and never waits for a client: each
subscriber has a bounded queue, and a client too slow to keep up loses its oldest events and
is told so with a `resync` event, on which the UI reloads what it shows. Memory is bounded by
clients × `queue_size`, however slow the clients are.

A short history (`replay` events) lets a client that reconnects with `Last-Event-ID` catch up.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Change:
    """One published change: a sequence number, its kind, when, and what it carries."""

    id: int
    kind: str
    at: float
    data: dict[str, Any]

    def sse(self) -> bytes:
        # No `event:` field: every change arrives as a plain message whatever its kind, so a
        # client need not know the kinds in advance; the kind is in the JSON.
        body = orjson.dumps({"id": self.id, "kind": self.kind, "at": self.at, "data": self.data})
        head = b"id: %d\n" % self.id if self.id else b""
        return head + b"data: " + body + b"\n\n"


RESYNC = "resync"


class Subscription:
    """One client's queue; filled by the broadcaster, drained by its SSE response."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def depth(self) -> int:
        return self.queue.qsize()


class Broadcaster:
    def __init__(self, queue_size: int = 256, replay: int = 256) -> None:
        if queue_size < 2:
            raise ValueError("a subscriber queue needs room for at least two events")
        self.queue_size = queue_size
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._subs: set[Subscription] = set()
        self._history: deque[Change] = deque(maxlen=replay)
        self.published = 0
        self._dropped_gone = 0  # events dropped for subscribers that have left
        self.version = 0  # bumped by every publish; caches of derived views key on it

    def publish(self, kind: str, data: dict[str, Any]) -> Change:
        """Send a change to every subscriber; safe from any thread, never blocks."""
        with self._lock:
            change = Change(next(self._ids), kind, time.time(), data)
            self._history.append(change)
            self.published += 1
            self.version += 1
            # Scheduled under the lock, so every subscriber sees changes in id order even
            # when several threads publish at once; scheduling does not wait for the loop.
            gone = []
            for sub in self._subs:
                try:
                    sub.loop.call_soon_threadsafe(_deliver, sub, change)
                except RuntimeError:  # the subscriber's loop is closed: it is gone
                    gone.append(sub)
        for sub in gone:
            self.unsubscribe(sub)
        return change

    def subscribe(self, last_id: int | None = None) -> Subscription:
        """A new subscription on the running loop, primed with the changes after `last_id`."""
        sub = Subscription(asyncio.get_running_loop(), self.queue_size)
        with self._lock:
            self._subs.add(sub)
            missed = [c for c in self._history if last_id is not None and c.id > last_id]
            oldest = self._history[0].id if self._history else None
        if last_id is not None and oldest is not None and last_id < oldest - 1:
            _deliver(sub, Change(0, RESYNC, time.time(), {"reason": "history too short"}))
        for change in missed:
            _deliver(sub, change)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.discard(sub)
                self._dropped_gone += sub.dropped

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def depths(self) -> list[int]:
        """Events waiting in each subscriber's queue."""
        with self._lock:
            subs = list(self._subs)
        return [s.depth() for s in subs]

    def dropped(self) -> int:
        """Events dropped so far for clients too slow to keep up (a counter)."""
        with self._lock:
            return self._dropped_gone + sum(s.dropped for s in self._subs)

    async def events(self, sub: Subscription, keepalive: float = 15.0) -> AsyncIterator[bytes]:
        """SSE bytes for one subscription: changes as they come, a comment when idle (so a
        dead connection is noticed), until the client goes away."""
        try:
            yield b"retry: 2000\n: connected\n\n"
            while True:
                try:
                    change = await asyncio.wait_for(sub.queue.get(), keepalive)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                yield change.sse()
        finally:
            self.unsubscribe(sub)


def _deliver(sub: Subscription, change: Change) -> None:
    if sub.queue.full():
        # Too slow: drop what it has not read and tell it to reload instead of replaying.
        while not sub.queue.empty():
            sub.queue.get_nowait()
            sub.dropped += 1
        sub.queue.put_nowait(Change(0, RESYNC, time.time(), {"reason": "client too slow"}))
        if change.kind == RESYNC:
            return
    sub.queue.put_nowait(change)
