"""Running the loop: take triggers in, tick while leader, sleep, repeat.

A replica that is not the leader only waits; it takes no triggers in either, so that two
replicas never race to start ladders (the leader will read the same incidents).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from foreshock.act.leader import Leader
from foreshock.act.loop import ControlLoop
from foreshock.act.model import Trigger


def run(
    loop: ControlLoop,
    leader: Leader,
    *,
    intake: Callable[[], Iterable[Trigger]] = lambda: (),
    interval_s: float = 10.0,
    stop: threading.Event | None = None,
    max_passes: int | None = None,
    on_pass: Callable[[bool], None] = lambda leading: None,
) -> int:
    """Loop until `stop` is set or `max_passes` ran; the number of passes led."""
    stop = stop or threading.Event()
    passes = led = 0
    try:
        while not stop.is_set() and (max_passes is None or passes < max_passes):
            passes += 1
            leading = leader.acquire()
            if leading:
                led += 1
                for trigger in intake():
                    loop.submit(trigger)
                loop.tick()
            on_pass(leading)
            stop.wait(interval_s)
    finally:
        leader.release()
    return led
