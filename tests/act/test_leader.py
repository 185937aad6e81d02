"""One acting replica: an flock beside a SQLite file, an advisory lock on PostgreSQL."""

from __future__ import annotations

import pytest

from foreshock.act.leader import PostgresLeader, SingleProcessLeader, leader_for, lock_id
from foreshock.store.state import StateStore


def test_sqlite_allows_one_process(store: StateStore) -> None:
    first, second = SingleProcessLeader(store), SingleProcessLeader(store)
    assert isinstance(leader_for(store), SingleProcessLeader)
    assert first.acquire()
    assert first.acquire()  # re-entrant for its holder
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_lock_ids_are_stable() -> None:
    assert lock_id("foreshock-act") == lock_id("foreshock-act")
    assert lock_id("a") != lock_id("b")
    assert -(2**63) <= lock_id("foreshock-act") < 2**63


@pytest.mark.integration
def test_postgres_advisory_lock_fails_over(pg_url: str) -> None:
    with StateStore.open(pg_url) as a, StateStore.open(pg_url) as b:
        one, two = PostgresLeader(a), PostgresLeader(b)
        assert isinstance(leader_for(a), PostgresLeader)
        assert one.acquire()
        assert one.acquire()
        assert not two.acquire()
        one.release()  # or the process dies: PostgreSQL drops its session and the lock
        assert two.acquire()
        assert not one.acquire()
        two.release()


def test_postgres_leader_needs_postgres(store: StateStore) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        PostgresLeader(store)
