"""Incidents, alerts and findings as correlation and detection would store them, for the API
and UI tests: a PDU loses power, the GPUs of the rack it powers alert."""

from __future__ import annotations

from dataclasses import dataclass

from foreshock.model import Alert, Finding, RootCause, Suppression, fingerprint
from foreshock.store.state import StateStore
from foreshock.topology import Topology

PDU = "dc1/h1/pdu-001"
RACK = "dc1/h1/r001"
T0 = 1_700_000_000.0


@dataclass(frozen=True)
class Seeded:
    incident: int
    alerts: list[str]
    symptoms: list[str]
    finding: int


def gpu_alert(entity: str, name: str = "GpuDown", at: float = T0) -> Alert:
    labels = {"alertname": name, "entity": entity}
    return Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        annotations={"summary": f"{name} on {entity}"},
        starts_at=at,
        entity=entity,
        source="test",
    )


def seed_power_incident(store: StateStore, topology: Topology, gpus: int = 3) -> Seeded:
    symptoms = [e.id for e in topology.entities("gpu") if e.id.startswith(RACK + "/")][:gpus]
    alerts = [gpu_alert(s, at=T0 + i) for i, s in enumerate(symptoms)]
    store.upsert_alerts(alerts, now=T0 + 5)
    cause = RootCause(
        entity=PDU, kind="pdu", score=0.82, evidence=("all GPUs of r001 dropped at once",)
    )
    other = RootCause(entity=RACK, kind="rack", score=0.1, evidence=("rack inlet normal",))
    suppressed = Suppression(
        alert=alerts[-1].fingerprint, because=f"symptom of {PDU} (powers {RACK})", cause=PDU
    )
    row = store.create_incident(
        "Power lost on dc1/h1/pdu-001",
        started_at=T0,
        fingerprints=[a.fingerprint for a in alerts],
        root_causes=[{**cause.to_json(), "fault": "pdu_loss"}, other.to_json()],
        blast_radius=topology.blast_radius(PDU).to_json(),
        suppressed=[suppressed.to_json()],
        now=T0 + 6,
    )
    finding = Finding(
        kind="anomaly",
        entity=symptoms[0],
        metric="DCGM_FI_DEV_POWER_USAGE",
        raised_at=T0 - 30,
        score=0.9,
        detector="zscore",
        evidence="power fell to 0",
    )
    (fid,) = store.add_findings([finding], now=T0)
    return Seeded(row.id, [a.fingerprint for a in alerts], symptoms, fid)


def seed_many_incidents(store: StateStore, n: int, entity: str = RACK) -> None:
    """`n` small incidents without alerts, every tenth resolved (for paging and filters)."""
    for i in range(n):
        row = store.create_incident(
            f"Incident {i} on {entity}",
            started_at=T0 + i,
            root_causes=[{"entity": entity, "score": 0.5, "evidence": []}],
            now=T0 + i,
        )
        if i % 10 == 0:
            store.set_incident_status(row.id, "resolved", now=T0 + i)
