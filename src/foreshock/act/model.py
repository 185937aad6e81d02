"""What the remediation loop works on: triggers, planned steps, refusals.

A trigger is what happened (an incident's cause or a finding), reduced to the fields policies
match on. A plan is one step of one policy's ladder for one node; its key is the idempotency
key of the state store's action row, so a restarted loop finds the work it had already done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from foreshock.model import Finding, Incident

EMPTY: MappingProxyType[str, str] = MappingProxyType({})

# Steps that take capacity away or change a node: they count against the breaker and limits.
DISRUPTIVE = frozenset({"cordon", "drain", "gpu_reset", "reboot", "repave", "maintenance"})
# Steps that put a node back in service: only ever on nodes Foreshock itself took out.
RETURNING = frozenset({"resume", "uncordon"})
STEP_ACTIONS = frozenset(
    {"notify", "silence", "unsilence", "rma", *DISRUPTIVE, *RETURNING, "condition", "taint"}
)


@dataclass(frozen=True, slots=True)
class Trigger:
    """One thing a policy may act on. `id` is stable across restarts (it is part of keys)."""

    id: str
    kind: str  # "incident", "prediction", "anomaly"
    entity: str  # the entity the cause or finding names
    entity_kind: str = ""
    node: str = ""  # the node that holds the entity, the unit actions apply to
    xid: int | None = None
    predicts: str | None = None
    fault: str | None = None
    job: str | None = None  # the synchronous job running on the node, if any
    labels: MappingProxyType[str, str] = field(default_factory=lambda: EMPTY)
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "entity": self.entity}
        for name in ("entity_kind", "node", "xid", "predicts", "fault", "job"):
            value = getattr(self, name)
            if value not in ("", None):
                out[name] = value
        if self.labels:
            out["labels"] = dict(self.labels)
        out["at"] = self.at
        return out


def trigger_from_finding(
    finding: Finding,
    *,
    id: str,
    node: str = "",
    entity_kind: str = "",
    job: str | None = None,
    labels: dict[str, str] | None = None,
) -> Trigger:
    return Trigger(
        id=id,
        kind=finding.kind,
        entity=finding.entity or "",
        entity_kind=entity_kind,
        node=node or (finding.entity or ""),
        predicts=finding.predicts,
        job=job,
        labels=MappingProxyType(dict(labels or {})),
        at=finding.raised_at,
    )


def trigger_from_incident(
    incident: Incident,
    *,
    node: str = "",
    entity_kind: str = "",
    xid: int | None = None,
    job: str | None = None,
    labels: dict[str, str] | None = None,
) -> Trigger:
    """The incident's top-ranked cause as a trigger (an incident without one has no target)."""
    if not incident.root_causes:
        raise ValueError(f"incident {incident.id} has no root cause to act on")
    cause = incident.root_causes[0]
    return Trigger(
        id=f"incident-{incident.id}",
        kind="incident",
        entity=cause.entity,
        entity_kind=entity_kind or cause.kind,
        node=node or cause.entity,
        xid=xid,
        fault=cause.fault,
        job=job,
        labels=MappingProxyType(dict(labels or {})),
        at=incident.start,
    )


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a guard will not let a step run now. `defer` means ask again later; otherwise the
    ladder stops. `escalate` names a step to run instead (repeat offenders go to RMA)."""

    guard: str
    reason: str
    defer: bool = False
    escalate: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """One step of a policy's ladder for one node, ready for the guards."""

    key: str  # idempotency key of the action row
    ladder: str  # key of the ladder this step belongs to
    policy: str
    mode: str
    index: int
    action: str
    node: str
    trigger: Trigger
    params: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def disruptive(self) -> bool:
        return self.action in DISRUPTIVE

    @property
    def returning(self) -> bool:
        return self.action in RETURNING


def trigger_from_json(data: dict[str, Any]) -> Trigger:
    """The inverse of Trigger.to_json (ladders keep their trigger in the action row)."""
    return Trigger(
        id=str(data["id"]),
        kind=str(data["kind"]),
        entity=str(data["entity"]),
        entity_kind=str(data.get("entity_kind", "")),
        node=str(data.get("node", "")),
        xid=data.get("xid"),
        predicts=data.get("predicts"),
        fault=data.get("fault"),
        job=data.get("job"),
        labels=MappingProxyType(dict(data.get("labels", {}))),
        at=float(data.get("at", 0.0)),
    )
