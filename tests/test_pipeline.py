"""The stages behind ingest: alerts, samples and kernel-log events posted as the service
receives them end as diagnosed incidents in the state store and on the change stream."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from foreshock.api.ingest import IngestPipeline
from foreshock.ingest.alertmanager import parse_any
from foreshock.pipeline import Pipeline
from foreshock.sim.fleet import FleetShape
from foreshock.sim.scenario import Scenario, simulate
from foreshock.sim.timefmt import parse_time
from foreshock.store.state import StateStore
from foreshock.topology import load_topology


@pytest.fixture(scope="module")
def pdu_loss(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pdu")
    scenario = Scenario(FleetShape(gpus=128, seed=9), hours=1.0, faults=("pdu_loss",), seed=7009)
    simulate(scenario, out)
    return out


def test_webhooks_become_one_diagnosed_incident_in_the_store(
    pdu_loss: Path, tmp_path: Path
) -> None:
    topo = load_topology([pdu_loss / "topology.json"])
    truth = json.loads((pdu_loss / "truth.json").read_text())["faults"][0]
    raw = json.loads((pdu_loss / "alerts.json").read_text())
    alerts = parse_any(raw, topo.map_labels)
    published: list[tuple[str, dict[str, Any]]] = []
    with StateStore.open(tmp_path / "state.db") as store:
        ingest = IngestPipeline(topo, store)
        stages = Pipeline(ingest, lambda kind, data: published.append((kind, data)))
        # Alerts arrive as they start (POST /api/v2/alerts); the worker runs here, in order.
        for at in sorted({a["startsAt"] for a in raw}):
            batch = [a for a in raw if a["startsAt"] == at]
            ingest.ingest_alerts(json.dumps(batch).encode(), "application/json", "api-v2")
        assert stages.process_pending(), "the alerts changed incidents"
        assert stages.depth == 0
        rows = store.incidents()
        assert rows, "no incident stored"
        biggest = max(rows, key=lambda r: len(_members(store, r.id)))
        assert biggest.root_causes[0]["entity"] == truth["root"]
        assert biggest.root_causes[0]["actions"], "the top cause carries what to do"
        reasons = [s["because"] for s in biggest.suppressed]
        assert any(r.startswith(f"symptom of {truth['root']}") for r in reasons)
        kinds = {k for k, _ in published}
        assert "incident" in kinds
        # Every alert the service took is in exactly one stored incident per firing: one
        # that fired again after it had resolved may have had another cause.
        linked = Counter(fp for r in rows for fp in _members(store, r.id))
        assert set(linked) == {a.fingerprint for a in alerts}
        firings = Counter(fp for fp, _ in {(a.fingerprint, a.starts_at) for a in alerts})
        assert all(n <= firings[fp] for fp, n in linked.items())


def test_the_worker_thread_processes_in_the_background(pdu_loss: Path, tmp_path: Path) -> None:
    topo = load_topology([pdu_loss / "topology.json"])
    raw = json.loads((pdu_loss / "alerts.json").read_text())
    with StateStore.open(tmp_path / "state.db") as store:
        ingest = IngestPipeline(topo, store)
        stages = Pipeline(ingest).start()
        try:
            for n in range(0, len(raw), 10):
                body = json.dumps(raw[n : n + 10]).encode()
                ingest.ingest_alerts(body, "application/json", "api-v2")
            assert stages.drain(30.0)
        finally:
            stages.stop()
        assert stages.stats.errors == 0
        assert stages.stats.alerts == len(raw)
        assert store.incidents()


def _members(store: StateStore, incident_id: int) -> list[str]:
    row = store.incident(incident_id)
    assert row is not None
    return [link.fingerprint for link in row.alerts]


def test_the_service_lets_go_of_incidents_nothing_can_join(pdu_loss: Path, tmp_path: Path) -> None:
    """An XID resolved hours ago can take no alert any more: the worker keeps the incident in
    the state store only, so months of service do not pile up in memory."""
    topo = load_topology([pdu_loss / "topology.json"])
    gpu = next(topo.entities("gpu"))
    labels = {**gpu.labels, "alertname": "GPUXidError", "severity": "critical", "xid": "48"}
    old = {"labels": labels, "startsAt": "2026-05-01T00:00:00Z", "endsAt": "2026-05-01T00:05:00Z"}
    new = {"labels": {**labels, "xid": "79"}, "startsAt": "2026-05-01T06:00:00Z"}
    with StateStore.open(tmp_path / "state.db") as store:
        ingest = IngestPipeline(topo, store)
        stages = Pipeline(ingest)
        for doc in (old, new):
            ingest.ingest_alerts(json.dumps([doc]).encode(), "application/json", "api-v2")
            assert stages.process_pending()
        assert len(store.incidents()) == 2  # both stay on record
        held = stages.correlator.incidents()
        assert len(held) == 1
        assert held[0].start == parse_time("2026-05-01T06:00:00Z")
        assert len(stages.rows) == 1
