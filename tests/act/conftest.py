"""Shared pieces for the act tests: a fresh SQLite store, a clock tests move by hand."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from act_support import Clock

from foreshock.store.state import StateStore


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[StateStore]:
    with StateStore.open(tmp_path / "state.db", clock=clock) as s:
        yield s


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import servers  # noqa: E402  (the integration launchers: PostgreSQL, skip-or-fail)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (skips, or fails under FORESHOCK_REQUIRE_INTEGRATION=1)."""
    with contextlib.ExitStack() as stack:
        yield servers.start_or_skip(stack, servers.postgres_database()).url
