"""The change stream: thread-safe publish, bounded per-client queues, replay, and SSE."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import orjson
import pytest
from live_server import serve

from foreshock.api.app import create_app
from foreshock.api.settings import Settings
from foreshock.api.stream import RESYNC, Broadcaster


def test_publish_from_threads_reaches_every_subscriber_in_order():
    async def main():
        b = Broadcaster(queue_size=1000)
        subs = [b.subscribe(), b.subscribe()]
        threads = [
            threading.Thread(
                target=lambda k=k: [b.publish("t", {"k": k, "i": i}) for i in range(100)]
            )
            for k in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        await asyncio.sleep(0.05)  # let call_soon_threadsafe deliveries run
        got = [[sub.queue.get_nowait() for _ in range(sub.queue.qsize())] for sub in subs]
        return b, got

    b, got = asyncio.run(main())
    assert b.published == 400
    for changes in got:
        assert len(changes) == 400
        ids = [c.id for c in changes]
        assert ids == sorted(ids)  # one loop, delivered in publication order
        for k in range(4):
            assert [c.data["i"] for c in changes if c.data["k"] == k] == list(range(100))


def test_a_slow_client_is_bounded_and_told_to_resync():
    async def main():
        b = Broadcaster(queue_size=8)
        slow = b.subscribe()
        for i in range(100):
            b.publish("t", {"i": i})
        await asyncio.sleep(0.01)
        queued = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        return b, slow, queued

    b, slow, queued = asyncio.run(main())
    assert len(queued) <= 8
    assert RESYNC in [c.kind for c in queued]
    assert queued[-1].data == {"i": 99}  # the newest is kept
    assert slow.dropped > 0
    assert b.dropped() == slow.dropped


def test_reconnecting_with_last_event_id_replays_what_was_missed():
    async def main():
        b = Broadcaster(queue_size=16, replay=4)
        for i in range(3):
            b.publish("t", {"i": i})
        caught_up = b.subscribe(last_id=1)
        too_old = None
        for i in range(3, 10):
            b.publish("t", {"i": i})
        too_old = b.subscribe(last_id=2)
        await asyncio.sleep(0.01)
        first = [caught_up.queue.get_nowait() for _ in range(caught_up.queue.qsize())]
        second = [too_old.queue.get_nowait() for _ in range(too_old.queue.qsize())]
        return first, second

    first, second = asyncio.run(main())
    assert [c.data["i"] for c in first] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert second[0].kind == RESYNC  # history no longer holds id 3
    assert [c.data["i"] for c in second[1:]] == [6, 7, 8, 9]


def test_unsubscribed_clients_get_nothing_and_queue_size_is_checked():
    with pytest.raises(ValueError, match="at least two"):
        Broadcaster(queue_size=1)

    async def main():
        b = Broadcaster()
        sub = b.subscribe()
        b.unsubscribe(sub)
        b.publish("t", {})
        await asyncio.sleep(0.01)
        return b, sub

    b, sub = asyncio.run(main())
    assert sub.queue.empty()
    assert b.subscribers == 0


def test_sse_endpoint_streams_published_changes(make_service):
    svc = make_service()
    app = svc.client.app
    with serve(app) as base:
        headers = svc.auth("viewer")
        with httpx.Client(base_url=base, timeout=10) as client:
            with client.stream("GET", "/api/v1/stream", headers=headers) as r:
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/event-stream")
                lines = r.iter_lines()
                assert next(lines) == "retry: 2000"
                deadline = time.monotonic() + 10
                while svc.state.broadcaster.subscribers == 0 and time.monotonic() < deadline:
                    time.sleep(0.01)
                threading.Thread(
                    target=svc.state.broadcaster.publish, args=("incident", {"id": 7})
                ).start()
                data = next(line for line in lines if line.startswith("data: "))
                change = orjson.loads(data[len("data: ") :])
                assert change["kind"] == "incident"
                assert change["data"] == {"id": 7}
            metrics = client.get("/metrics", headers=headers).text
            assert "foreshock_stream_published_total 1" in metrics


def test_sse_endpoint_needs_a_viewer(tmp_path):
    app = create_app(Settings(data_dir=str(tmp_path)))
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        assert client.get("/api/v1/stream").status_code == 401
