"""Findings in the state store, and the incident queries the API needs (root entity, text,
counts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from foreshock.model import Finding
from foreshock.store.state import StateStore


@pytest.fixture
def store(tmp_path: Path):
    with StateStore.open(tmp_path / "state.db") as s:
        yield s


def finding(entity: str | None, score: float = 0.5, kind: str = "anomaly") -> Finding:
    return Finding(
        kind=kind,
        entity=entity,
        metric="DCGM_FI_DEV_GPU_TEMP",
        raised_at=100.0,
        score=score,
        detector="zscore",
        predicts="gpu_memory_failure" if kind == "prediction" else None,
        onset=90.0,
        evidence="temperature climbing",
    )


def test_findings_round_trip_close_and_filter(store: StateStore) -> None:
    a, b, c = store.add_findings(
        [finding("g1", 0.4), finding("g1", 0.9, "prediction"), finding(None)], now=1
    )
    assert a < b < c
    row = store.finding(b)
    assert row is not None
    assert row.status == "open"
    assert row.closed_at is None
    assert row.to_finding() == finding("g1", 0.9, "prediction")
    assert [f.id for f in store.findings()] == [c, b, a]  # newest first
    assert [f.id for f in store.findings(entity="g1", kind="prediction")] == [b]
    assert [f.id for f in store.findings(limit=1, before=c)] == [b]
    assert store.open_finding_entities() == {"g1": 0.9}
    assert store.close_findings([b, b, 999], now=5) == 1
    assert store.close_findings([b], now=6) == 0  # already closed
    closed = store.finding(b)
    assert closed is not None
    assert closed.status == "closed"
    assert closed.closed_at == 5
    assert store.open_finding_entities() == {"g1": 0.4}
    assert [f.id for f in store.findings(status="open")] == [c, a]
    assert store.add_findings([]) == []


def test_incidents_filter_by_root_entity_and_title_and_count(store: StateStore) -> None:
    first = store.create_incident(
        "PDU 50% lost", started_at=1, root_causes=[{"entity": "pdu-1", "score": 0.8}]
    )
    second = store.create_incident("GPU_hot r2", started_at=2, root_causes=[])
    assert first.root_entity == "pdu-1"
    assert second.root_entity is None
    store.update_incident(second.id, root_causes=[{"entity": "gpu-9", "score": 0.5}])
    store.set_incident_status(first.id, "acknowledged", by="alice")
    assert [i.id for i in store.incidents(entity="gpu-9")] == [second.id]
    assert [i.id for i in store.incidents(entity=["gpu-9", "pdu-1"])] == [second.id, first.id]
    # LIKE wildcards in the text are matched literally, case-insensitively.
    assert [i.id for i in store.incidents(text="50%")] == [first.id]
    assert [i.id for i in store.incidents(text="gpu_hot")] == [second.id]
    assert store.incidents(text="gpu%hot") == []
    assert store.count_incidents() == 2
    assert store.count_incidents(status="acknowledged", entity="pdu-1") == 1
    assert store.count_incidents(text="nothing like it") == 0
    assert store.incident_status_counts() == {"open": 1, "acknowledged": 1, "resolved": 0}
