"""The cyclic garbage collector, paused where many acyclic objects are made at once, and
told which objects live for the whole process.

CPython's collector runs every few hundred new containers, and now and then rescans every
long-lived object (a large fleet's topology and series table: millions of them). Code that
makes tens of thousands of objects none of which form cycles (parsed topology documents,
findings of an alert storm) gains nothing from those scans: reference counting frees them.
What a service loads at start-up (its topology, its tables) lives until it stops: `settle`
takes it out of every later scan.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (it stays off if it was already off)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def settle() -> int:
    """Collect what start-up left behind, then take every object still alive out of the
    collector's later scans (`gc.freeze`); returns how many objects that was. Call it once
    the long-lived state is loaded: objects frozen are never scanned again, so a cycle made
    garbage later among them would not be freed."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
