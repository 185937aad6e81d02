"""What correlation and diagnosis give: incidents, their ranked causes and what to do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foreshock.model.blast import BlastRadius


@dataclass(frozen=True, slots=True)
class RootCause:
    """One candidate cause of an incident, with the reasons it was ranked where it is."""

    entity: str
    kind: str
    score: float  # 0..1, the candidates' scores of one incident sum to at most 1
    metric: str | None = None
    evidence: tuple[str, ...] = ()
    fault: str | None = None  # the fault kind it most likely is (gpu_memory, pdu_loss, ...)
    alternatives: tuple[str, ...] = ()  # entities nothing can tell apart from this one

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "entity": self.entity,
            "metric": self.metric,
            "score": round(self.score, 4),
            "evidence": list(self.evidence),
        }
        if self.alternatives:
            out["alternatives"] = list(self.alternatives)
        return out


@dataclass(frozen=True, slots=True)
class Suppression:
    """An alert kept in its incident but hidden as a symptom of the incident's cause."""

    alert: str  # fingerprint
    because: str  # "symptom of cdu-2 (cools dc1/h1/r07)"
    cause: str  # the entity it is a symptom of

    def to_json(self) -> dict[str, Any]:
        return {"alert": self.alert, "because": self.because}


@dataclass(frozen=True, slots=True)
class Action:
    """A recommended next step, in words, ready to become a remediation policy's step."""

    step: str  # notify, cordon, drain, gpu_reset, reboot, repave, rma, silence, inspect, ...
    target: str  # the entity it applies to
    why: str  # the reason, citing the fault kind or the XID table

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "target": self.target, "why": self.why}


@dataclass(frozen=True, slots=True)
class Incident:
    """Alerts, findings and events that one cause explains.

    `alerts` holds every member fingerprint, suppressed ones included (the spec: each input
    alert is in exactly one incident). `end` is set once every member has resolved.
    """

    id: str
    start: float
    alerts: tuple[str, ...]
    entities: tuple[str, ...]  # the symptomatic entities
    suppressed: tuple[Suppression, ...] = ()
    findings: int = 0
    events: int = 0
    root_causes: tuple[RootCause, ...] = ()
    blast_radius: BlastRadius | None = None
    actions: tuple[Action, ...] = ()
    end: float | None = None
    title: str = ""
    updated: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def status(self) -> str:
        return "open" if self.end is None else "resolved"

    def to_json(self) -> dict[str, Any]:
        from foreshock.sim.timefmt import rfc3339

        out: dict[str, Any] = {
            "id": self.id,
            "start": rfc3339(self.start),
            "alerts": list(self.alerts),
            "suppressed": [s.to_json() for s in self.suppressed],
            "root_causes": [c.to_json() for c in self.root_causes],
        }
        if self.blast_radius is not None:
            br = self.blast_radius
            out["blast_radius"] = {"entities": br.entities, "gpus": br.gpus, "jobs": list(br.jobs)}
        else:
            out["blast_radius"] = {"entities": 0, "gpus": 0, "jobs": []}
        out["status"] = self.status
        if self.end is not None:
            out["end"] = rfc3339(self.end)
        out["title"] = self.title
        out["entities"] = len(self.entities)
        out["actions"] = [a.to_json() for a in self.actions]
        return out
