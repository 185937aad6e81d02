"""The state store passes the same tests on SQLite (a temporary file) and on PostgreSQL.

Every test here takes `url`, parametrized over both backends; the PostgreSQL half is marked
`integration` and uses the `postgres` fixture (a fresh database per test), so it skips, or
fails under FORESHOCK_REQUIRE_INTEGRATION=1, when no server is running.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from foreshock.model import Alert, Event, fingerprint
from foreshock.store.state import InvalidTransition, NotFound, SchemaError, StateStore
from foreshock.store.state.engine import create_state_engine
from foreshock.store.state.migrate import VERSION_TABLE, alembic_config, head_revision
from foreshock.store.state.models import Base

T = TypeVar("T")
TABLES = {
    "alerts",
    "alert_history",
    "events",
    "incidents",
    "incident_alerts",
    "incident_comments",
    "actions",
    "findings",
    "audit",
}


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)],
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    handle = request.getfixturevalue("postgres")
    assert isinstance(handle.url, str)
    return handle.url


@pytest.fixture
def store(url: str) -> Iterator[StateStore]:
    with StateStore.open(url) as opened:
        yield opened


def alert(
    n: int = 0,
    *,
    status: str = "firing",
    starts: float = 100.0,
    ends_at: float | None = None,
    annotations: dict[str, str] | None = None,
) -> Alert:
    labels = {"alertname": "GpuXid", "gpu": str(n)}
    return Alert(
        fingerprint(labels),
        labels,
        {"summary": "xid 79"} if annotations is None else annotations,
        starts_at=starts,
        ends_at=ends_at,
        status=status,
        entity=f"n1/gpu{n}",
    )


def race(n: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0..n-1) on n threads released together; re-raise the first failure."""
    barrier = threading.Barrier(n)
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    assert not any(t.is_alive() for t in threads), "racing threads still blocked after 60 s"
    return [r for r in results if r is not None]


# --- alerts and events -----------------------------------------------------------------------


def test_new_duplicate_and_resolved(store: StateStore) -> None:
    a, b = alert(0), alert(1)
    assert store.upsert_alerts([a, b, a], now=1000).new == [a.fingerprint, b.fingerprint]
    again = store.upsert_alerts([a], now=1010)
    assert (again.new, again.changed, again.duplicate) == ([], [], [a.fingerprint])
    row = store.alert(a.fingerprint)
    assert row is not None
    assert (row.receive_count, row.first_received, row.last_received) == (3, 1000, 1010)
    assert row.labels == dict(a.labels)
    assert row.to_alert() == a

    done = alert(0, status="resolved", ends_at=1500.0)
    assert store.upsert_alerts([done], now=1600).changed == [a.fingerprint]
    row = store.alert(a.fingerprint)
    assert row is not None
    assert (row.status, row.starts_at, row.ends_at, row.changed_at) == ("resolved", 100, 1500, 1600)
    assert [h.change for h in store.alert_history(a.fingerprint)] == ["new", "resolved"]
    assert [r.fingerprint for r in store.alerts(status="firing")] == [b.fingerprint]


def test_late_copies_do_not_rewind_and_refiring_is_a_new_episode(store: StateStore) -> None:
    fp = alert(0).fingerprint
    store.upsert_alerts([alert(0), alert(0, status="resolved", ends_at=500.0)], now=1)
    late = store.upsert_alerts([alert(0)], now=2)  # a firing copy sent before the resolution
    assert late.stale == [fp]
    assert store.upsert_alerts([alert(0, starts=900.0)], now=3).changed == [fp]
    row = store.alert(fp)
    assert row is not None
    assert (row.status, row.starts_at, row.ends_at, row.receive_count) == ("firing", 900, None, 4)
    old = alert(0, status="resolved", starts=100.0, ends_at=500.0)  # the first episode's end
    assert store.upsert_alerts([old], now=4).stale == [fp]
    changes = store.upsert_alerts([alert(0, starts=900.0, annotations={"summary": "v2"})], now=5)
    assert changes.changed == [fp]
    history = [(h.change, h.status, h.starts_at) for h in store.alert_history(fp)]
    assert history == [
        ("new", "firing", 100),
        ("resolved", "resolved", 100),
        ("refired", "firing", 900),
        ("updated", "firing", 900),
    ]


def test_expected_ends_expire_and_queries_filter(store: StateStore) -> None:
    store.upsert_alerts([alert(0, ends_at=300.0), alert(1), alert(2)], now=100)
    store.upsert_alerts([alert(2)], now=200)
    assert store.resolve_expired(now=299) == []
    assert store.resolve_expired(now=300) == [alert(0).fingerprint]
    firing = {r.fingerprint for r in store.alerts(status="firing")}
    assert firing == {alert(1).fingerprint, alert(2).fingerprint}
    assert [r.entity for r in store.alerts(entity="n1/gpu1")] == ["n1/gpu1"]
    assert len(store.alerts(entity=["n1/gpu0", "n1/gpu2", "nope"])) == 2
    assert [r.fingerprint for r in store.alerts(since=150)] == [alert(2).fingerprint]
    assert len(store.alerts(limit=2)) == 2


def test_large_batches_cross_statement_chunks(store: StateStore) -> None:
    batch = [alert(i) for i in range(1234)]
    assert len(store.upsert_alerts(batch, now=1).new) == 1234
    assert len(store.upsert_alerts(batch[::-1], now=2).duplicate) == 1234
    assert len(store.alerts(status="firing")) == 1234


def test_events_round_trip_and_filter(store: StateStore) -> None:
    events = [
        Event(10.5, "n1", "xid", 79, "0000:3b:00", "GPU has fallen off the bus", None, "n1/gpu0"),
        Event(None, None, "xid", 48, "0000:5e:00", "DBE", None, None),
        Event(5.0, "sw1", "sxid", 12028, "0000:07:00", "link fault", "Non-fatal", "sw1/nvs0"),
    ]
    assert store.add_events(events, now=99) == 3
    assert store.add_events([]) == 0
    got = store.events()
    assert [r.to_event() for r in got] == [events[2], events[0], events[1]]
    assert {r.received_at for r in got} == {99}
    assert [r.code for r in store.events(since=6)] == [79]
    assert [r.code for r in store.events(until=6)] == [12028]
    assert [r.code for r in store.events(entity="n1/gpu0", kind="xid", host="n1")] == [79]


# --- incidents -------------------------------------------------------------------------------


def test_incident_lifecycle(store: StateStore) -> None:
    a, b = alert(0), alert(1)
    store.upsert_alerts([a, b], now=1)
    inc = store.create_incident(
        "GPU fell off the bus", started_at=100, fingerprints=[a.fingerprint], now=10
    )
    assert (inc.status, inc.created_at, [x.fingerprint for x in inc.alerts]) == (
        "open",
        10,
        [a.fingerprint],
    )
    assert store.add_incident_alerts(inc.id, [a.fingerprint, b.fingerprint], now=11) == [
        b.fingerprint
    ]
    with pytest.raises(NotFound):
        store.add_incident_alerts(inc.id, ["ffffffffffffffff"])
    causes = [{"entity": "n1/gpu0", "score": 0.9}]
    inc = store.update_incident(
        inc.id, root_causes=causes, blast_radius={"gpus": 8}, suppressed=[b.fingerprint], now=12
    )
    assert (inc.root_causes, inc.blast_radius, inc.suppressed) == (
        causes,
        {"gpus": 8},
        [b.fingerprint],
    )

    inc = store.set_incident_status(inc.id, "acknowledged", by="alice", now=20)
    assert (inc.acknowledged_by, inc.acknowledged_at) == ("alice", 20)
    assert store.set_incident_status(inc.id, "acknowledged", by="bob").acknowledged_by == "alice"
    store.comment_incident(inc.id, "alice", "draining n1", now=21)
    inc = store.set_incident_status(inc.id, "resolved", now=30)
    assert (inc.status, inc.resolved_at, inc.updated_at) == ("resolved", 30, 30)
    with pytest.raises(InvalidTransition):
        store.set_incident_status(inc.id, "acknowledged")
    inc = store.set_incident_status(inc.id, "open", now=40)
    assert (inc.resolved_at, inc.acknowledged_by) == (None, None)
    got = store.incident(inc.id)
    assert got is not None
    assert [(c.author, c.text) for c in got.comments] == [("alice", "draining n1")]
    assert {x.fingerprint for x in got.alerts} == {a.fingerprint, b.fingerprint}
    assert store.incident(inc.id + 1000) is None
    with pytest.raises(NotFound):
        store.comment_incident(inc.id + 1000, "x", "y")


def test_a_failed_write_leaves_nothing_behind(store: StateStore) -> None:
    store.upsert_alerts([alert(0)], now=1)
    with pytest.raises(NotFound, match="ffff"):
        store.create_incident("x", started_at=0, fingerprints=[alert(0).fingerprint, "ffff"])
    assert store.incidents() == []  # the incident row went with the failed link


def test_incident_listing_filters_and_pages(store: StateStore) -> None:
    store.upsert_alerts([alert(0)], now=1)
    ids = [store.create_incident(f"i{i}", started_at=i, now=100 + i).id for i in range(7)]
    store.add_incident_alerts(ids[2], [alert(0).fingerprint], now=200)
    store.set_incident_status(ids[3], "resolved", now=201)
    pages, before = [], None
    while page := store.incidents(limit=3, before=before):
        pages.append([i.id for i in page])
        before = page[-1].id
    assert pages == [ids[6:3:-1], ids[3:0:-1], ids[:1]]
    assert [i.id for i in store.incidents(status="resolved")] == [ids[3]]
    assert len(store.incidents(status=["open", "acknowledged"])) == 6
    assert [i.id for i in store.incidents(fingerprint=alert(0).fingerprint)] == [ids[2]]
    assert [i.id for i in store.incidents(since=200)] == [ids[3], ids[2]]


# --- actions and audit -----------------------------------------------------------------------


def test_action_keys_are_idempotent(store: StateStore) -> None:
    inc = store.create_incident("x", started_at=0)
    first, created = store.create_action(
        "reset:n1/gpu0:1",
        policy="xid79",
        step="reset",
        target="n1/gpu0",
        mode="shadow",
        incident_id=inc.id,
        data={"xid": 79},
        now=5,
    )
    again, created_again = store.create_action(
        "reset:n1/gpu0:1", policy="other", step="reboot", target="n9", mode="enforce"
    )
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert (again.policy, again.mode, again.data) == ("xid79", "shadow", {"xid": 79})
    with pytest.raises(ValueError, match="mode"):
        store.create_action("k2", policy="p", step="s", target="t", mode="yolo")

    row = store.update_action(
        "reset:n1/gpu0:1", status="failed", attempt=True, retryable=True, error="timeout", now=9
    )
    assert (row.status, row.attempts, row.retryable, row.error) == ("failed", 1, True, "timeout")
    assert row.updated_at == 9
    row = store.update_action("reset:n1/gpu0:1", status="succeeded", attempt=True, error=None)
    assert (row.attempts, row.error, row.retryable) == (2, None, True)
    with pytest.raises(NotFound):
        store.update_action("nope", status="x")
    assert [a.key for a in store.actions(incident_id=inc.id, status="succeeded")] == [row.key]
    assert store.actions(target="elsewhere") == []


def test_racing_creates_of_one_key_make_one_action(url: str) -> None:
    stores = [StateStore.open(url) for _ in range(6)]
    try:
        for rnd in range(5):
            results = race(
                len(stores),
                lambda i, rnd=rnd: stores[i].create_action(  # type: ignore[misc]
                    f"drain:n1:{rnd}", policy="p", step="drain", target="n1", mode="enforce"
                ),
            )
            assert len({row.id for row, _ in results}) == 1
            assert sum(created for _, created in results) == 1
        assert len(stores[0].actions()) == 5
    finally:
        for s in stores:
            s.close()


def test_racing_upserts_lose_no_receive_counts(url: str) -> None:
    stores = [StateStore.open(url) for _ in range(4)]
    batch = [alert(i) for i in range(30)]

    def work(i: int) -> int:
        new = 0
        for _ in range(8):
            shuffled = random.Random(i).sample(batch, len(batch))  # lock order must not matter
            new += len(stores[i].upsert_alerts(shuffled).new)
        return new

    try:
        assert sum(race(len(stores), work)) == len(batch)
        assert {r.receive_count for r in stores[0].alerts()} == {len(stores) * 8}
        assert all(len(stores[0].alert_history(a.fingerprint)) == 1 for a in batch)
    finally:
        for s in stores:
            s.close()


def test_audit_is_append_only(store: StateStore) -> None:
    first = store.append_audit(
        actor="act",
        action="drain",
        subject="n1",
        decision="refused",
        reason="circuit breaker open",
        data={"fraction": 0.3},
        at=1,
    )
    store.append_audit(actor="act", action="drain", subject="n2", decision="called", at=2)
    assert [(e.id, e.reason, e.data) for e in store.audit_log(subject="n1")] == [
        (first.id, "circuit breaker open", {"fraction": 0.3})
    ]
    assert [e.subject for e in store.audit_log(after=first.id)] == ["n2"]
    assert [e.subject for e in store.audit_log(since=2, actor="act")] == ["n2"]
    statements = ["UPDATE audit SET reason = 'nothing to see'", "DELETE FROM audit"]
    if store.postgres:
        statements.append("TRUNCATE audit")
    for statement in statements:
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), store.engine.begin() as c:
            c.execute(sa.text(statement))
    assert len(store.audit_log()) == 2
    mutators = [n for n in dir(StateStore) if "audit" in n and not n.startswith("_")]
    assert mutators == ["append_audit", "audit_log"]


# --- schema ----------------------------------------------------------------------------------


def test_migrations_go_down_and_up_and_match_the_models(url: str) -> None:
    engine = create_state_engine(url)
    try:
        for target, tables in [("head", TABLES), ("base", set()), ("head", TABLES)]:
            with engine.begin() as connection:
                upgrade_or_downgrade = command.upgrade if target == "head" else command.downgrade
                upgrade_or_downgrade(alembic_config(connection), target)
            assert set(sa.inspect(engine).get_table_names()) == tables | {VERSION_TABLE}
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
    with StateStore.open(url) as store:  # the triggers came back with the second upgrade
        store.append_audit(actor="a", action="b", subject="c", decision="d")
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as c:
            c.execute(sa.text("DELETE FROM audit"))


def test_processes_opening_at_once_migrate_once(url: str) -> None:
    with pytest.raises(SchemaError):
        StateStore.open(url, migrate_schema=False)
    stores = race(6, lambda _: StateStore.open(url))
    for s in stores:
        s.close()
    engine = create_state_engine(url)
    try:
        with engine.connect() as c:
            versions = c.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        assert versions == [(head_revision(),)]
        with engine.begin() as c:
            c.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(SchemaError, match="newer version"):
        StateStore.open(url)


# --- durability ------------------------------------------------------------------------------

WRITER = """
import sys
from foreshock.model import Alert, Event
from foreshock.store.state import StateStore

store = StateStore.open(sys.argv[1])
for batch in range(100_000):
    alerts = [Alert(f"{batch:08x}{i:08x}", {"b": str(batch), "i": str(i)}, {}, float(batch))
              for i in range(50)]
    store.upsert_alerts(alerts)
    store.add_events([Event(float(batch), "n1", "xid", 79, "0000:3b:00", f"{batch}")] * 20)
    print("committed", batch, flush=True)
"""


def test_committed_writes_survive_sigkill(url: str, tmp_path: Path) -> None:
    StateStore.open(url).close()  # migrate first, so the writer starts writing at once
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert child.stdout is not None
        committed = [int(line.split()[1]) for line, _ in zip(child.stdout, range(5), strict=False)]
        child.send_signal(signal.SIGKILL)  # mid-way through the next batch, most likely
        child.wait(timeout=30)
    finally:
        child.kill()
    assert committed == [0, 1, 2, 3, 4]
    if url.startswith("sqlite"):
        database = url.removeprefix("sqlite:///")
        assert Path(database + "-wal").exists()  # not checkpointed: recovery has work to do
    with StateStore.open(url) as store:
        heard = {r.fingerprint[:8] for r in store.alerts()}
        assert {f"{b:08x}" for b in committed} <= heard
        assert len(store.alerts()) == 50 * len(heard)
        for b in committed:
            assert len(store.events(since=b, until=b + 1)) == 20
        if not store.postgres:
            with store.engine.connect() as c:
                assert c.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"
