"""The collector's pause and settle: what they promise about CPython's cyclic collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from foreshock.collector import paused, settle


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Leave the test process as it was: nothing frozen, the collector on."""
    was = gc.isenabled()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if was:
        gc.enable()


def test_paused_stops_the_collector_for_the_block_and_restores_it(unfrozen: None) -> None:
    gc.enable()
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with paused():
        pass
    assert not gc.isenabled()  # it was off before: it stays off


def test_settle_frees_start_up_cycles_and_freezes_what_lives(unfrozen: None) -> None:
    class Node:
        peer: Node | None = None

    kept = [Node() for _ in range(1000)]
    garbage = Node()
    garbage.peer = Node()
    garbage.peer.peer = garbage  # a cycle that only the collector frees
    gc.disable()  # so that it is still there when settle runs
    del garbage
    frozen = settle()
    assert frozen == gc.get_freeze_count() >= len(kept)
    gc.unfreeze()
    # The cycle was freed; the survivors are back in the collector's care.
    assert sum(isinstance(o, Node) for o in gc.get_objects()) == len(kept)
