"""The cyclic garbage collector, paused where many acyclic objects are made at once.

CPython's collector runs every few hundred new containers, and now and then rescans every
long-lived object (a large fleet's topology and series table: millions of them). Code that
makes tens of thousands of objects none of which form cycles (parsed topology documents,
findings of an alert storm) gains nothing from those scans: reference counting frees them.
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
