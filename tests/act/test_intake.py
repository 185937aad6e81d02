"""Triggers from incidents and findings; GPU → node and synchronous job via the topology."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foreshock.act.intake import finding_triggers, incident_triggers, locate
from foreshock.store.state import StateStore
from foreshock.topology import Topology, load_topology

TOPOLOGY = """
apiVersion: foreshock/v1
kind: Topology
entities:
  - {id: dc1/r07, kind: rack}
  - {id: dc1/r07/n03, kind: node, labels: {hostname: gpu033}}
  - {id: dc1/r07/n03/gpu5, kind: gpu}
  - {id: dc1/r07/n04, kind: node}
  - {id: job-8812, kind: job, labels: {sync: "true"}}
  - {id: job-1, kind: job}
relations:
  - {from: dc1/r07, to: dc1/r07/n03, type: contains}
  - {from: dc1/r07, to: dc1/r07/n04, type: contains}
  - {from: dc1/r07/n03, to: dc1/r07/n03/gpu5, type: contains}
  - {from: dc1/r07/n03/gpu5, to: job-8812, type: hosts}
  - {from: dc1/r07/n04, to: job-1, type: hosts}
"""


@pytest.fixture
def topo(tmp_path: Path) -> Topology:
    path = tmp_path / "t.yaml"
    path.write_text(TOPOLOGY)
    return load_topology(path)


def test_locate(topo: Topology) -> None:
    assert locate(topo, "dc1/r07/n03/gpu5") == ("gpu033", "gpu", "job-8812", {"hostname": "gpu033"})
    assert locate(topo, "dc1/r07/n04") == ("dc1/r07/n04", "node", None, {})  # job-1 not sync
    assert locate(topo, "elsewhere") == ("elsewhere", "", None, {})
    assert locate(None, "n1") == ("n1", "", None, {})


def test_findings_file(topo: Topology, tmp_path: Path) -> None:
    path = tmp_path / "findings.jsonl"
    rows = [
        {
            "kind": "prediction",
            "entity": "dc1/r07/n03/gpu5",
            "metric": "DCGM_FI_DEV_ECC_SBE",
            "raised_at": "2026-11-24T03:00:00Z",
            "predicts": "gpu_memory_failure",
            "score": 0.9,
            "detector": "x",
        },
        {"kind": "anomaly", "entity": None, "metric": "m", "raised_at": "2026-11-24T03:00:00Z"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    [t] = list(finding_triggers(path, topo))
    assert t.node == "gpu033"
    assert t.job == "job-8812"
    assert t.predicts == "gpu_memory_failure"
    [again] = finding_triggers(path, topo)
    assert t.id == again.id  # stable across reads


def test_open_incidents(topo: Topology, store: StateStore) -> None:
    store.create_incident(
        title="ECC", started_at=1.0, root_causes=[{"entity": "dc1/r07/n03/gpu5", "score": 0.8}]
    )
    store.create_incident(title="no cause", started_at=2.0, root_causes=[])
    [t] = list(incident_triggers(store, topo))
    assert t.kind == "incident"
    assert t.node == "gpu033"
    assert t.id.startswith("incident-")
