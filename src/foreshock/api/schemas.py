"""The JSON the REST API answers with, as pydantic models (the OpenAPI schema comes from
these), and the conversions from store rows and domain objects."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field

from foreshock.model import BlastRadius
from foreshock.store.state.models import (
    ActionRow,
    AlertRow,
    AuditRow,
    FindingRow,
    IncidentCommentRow,
    IncidentRow,
)

HealthLevel = Literal["ok", "warning", "degraded", "critical"]
IncidentStatus = Literal["open", "acknowledged", "resolved"]


class EntityRef(BaseModel):
    id: str
    kind: str
    health: HealthLevel


class TopologySummary(BaseModel):
    entities: int
    relations: int
    kinds: dict[str, int]
    relation_types: dict[str, int]
    health: dict[str, int] = Field(description="Entities per rolled-up health level.")


class EntityPage(BaseModel):
    items: list[EntityRef]
    total: int


class AlertOut(BaseModel):
    fingerprint: str
    name: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float
    ends_at: float | None
    entity: str | None
    source: str
    last_received: float


class AuditOut(BaseModel):
    """One entry of the append-only audit log: a decision, refusal or call."""

    id: int
    at: float
    actor: str
    action: str
    subject: str
    decision: str
    reason: str
    data: dict[str, Any]


class FindingOut(BaseModel):
    id: int
    kind: str
    entity: str | None
    metric: str
    raised_at: float
    score: float
    detector: str
    predicts: str | None
    onset: float | None
    evidence: str
    status: str


class IncidentSummary(BaseModel):
    id: int
    status: IncidentStatus
    title: str
    started_at: float
    ended_at: float | None
    root_entity: str | None
    acknowledged_by: str | None
    updated_at: float


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    total: int
    next_before: int | None = Field(description="Pass as `before` for the next page.")


class CommentOut(BaseModel):
    id: int
    at: float
    author: str
    text: str


class ActionOut(BaseModel):
    key: str
    policy: str
    step: str
    target: str
    mode: str
    status: str
    attempts: int
    error: str | None
    created_at: float
    updated_at: float


class TimelineEntry(BaseModel):
    at: float
    what: str
    detail: str = ""


class IncidentDetail(IncidentSummary):
    acknowledged_at: float | None
    resolved_at: float | None
    created_at: float
    root_causes: list[dict[str, Any]]
    blast_radius: dict[str, Any]
    suppressed: list[dict[str, Any]]
    alerts: list[AlertOut]
    comments: list[CommentOut]
    actions: list[ActionOut]
    timeline: list[TimelineEntry]


class GraphNode(BaseModel):
    id: str
    kind: str
    role: Literal["root", "cause", "path", "symptom"]
    depth: int


class GraphEdge(BaseModel):
    source: str
    target: str
    type: str


class SymptomPath(BaseModel):
    symptom: str
    relations: list[GraphEdge] | None = Field(description="null: the cause does not reach it.")


class CausalGraph(BaseModel):
    root: str | None
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    paths: list[SymptomPath]
    omitted_symptoms: int


class BlastRadiusOut(BaseModel):
    entity: str
    entities: int
    gpus: int
    jobs: list[str]
    gpu_hours_at_risk_per_hour: float
    by_kind: dict[str, int]


class WhatIfIn(BaseModel):
    entities: list[str] = Field(min_length=1, max_length=100)


class WhatIfOut(BaseModel):
    items: list[BlastRadiusOut]
    entities: int = Field(description="Entities reached by any of the faults, counted once.")
    gpus: int
    jobs: list[str]


class SeriesOut(BaseModel):
    metric: str
    labels: dict[str, str]
    t: list[float]
    v: list[float | None]


class EntitySeries(BaseModel):
    entity: str
    source: Literal["hot_window", "none"]
    series: list[SeriesOut]


class EntityDetail(BaseModel):
    id: str
    kind: str
    labels: dict[str, str]
    health: HealthLevel
    own_health: HealthLevel
    parents: list[EntityRef]
    children: list[EntityRef]
    children_total: int
    alerts: list[AlertOut]
    findings: list[FindingOut]
    incidents: list[IncidentSummary]


class FleetMap(BaseModel):
    width: int
    height: int
    block: list[int]
    halls: list[dict[str, Any]]
    gpus: int
    z: list[int | None] = Field(description="Health level per cell (0 ok .. 3 critical).")


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


def alert_out(row: AlertRow) -> AlertOut:
    return AlertOut(
        fingerprint=row.fingerprint,
        name=row.labels.get("alertname", ""),
        status=row.status,
        labels=dict(row.labels),
        annotations=dict(row.annotations),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        entity=row.entity,
        source=row.source,
        last_received=row.last_received,
    )


def audit_out(row: AuditRow) -> AuditOut:
    return AuditOut(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        decision=row.decision,
        reason=row.reason,
        data=dict(row.data or {}),
    )


def finding_out(row: FindingRow) -> FindingOut:
    return FindingOut(
        id=row.id,
        kind=row.kind,
        entity=row.entity,
        metric=row.metric,
        raised_at=row.raised_at,
        score=row.score,
        detector=row.detector,
        predicts=row.predicts,
        onset=row.onset,
        evidence=row.evidence,
        status=row.status,
    )


def incident_summary(row: IncidentRow) -> IncidentSummary:
    return IncidentSummary(
        id=row.id,
        status=row.status,  # type: ignore[arg-type]  # the CHECK constraint guarantees it
        title=row.title,
        started_at=row.started_at,
        ended_at=row.ended_at,
        root_entity=row.root_entity,
        acknowledged_by=row.acknowledged_by,
        updated_at=row.updated_at,
    )


def comment_out(row: IncidentCommentRow) -> CommentOut:
    return CommentOut(id=row.id, at=row.at, author=row.author, text=row.text)


def action_out(row: ActionRow) -> ActionOut:
    return ActionOut(
        key=row.key,
        policy=row.policy,
        step=row.step,
        target=row.target,
        mode=row.mode,
        status=row.status,
        attempts=row.attempts,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def blast_out(br: BlastRadius) -> BlastRadiusOut:
    return BlastRadiusOut(
        entity=br.entity,
        entities=br.entities,
        gpus=br.gpus,
        jobs=list(br.jobs),
        gpu_hours_at_risk_per_hour=br.gpu_hours_at_risk_per_hour,
        by_kind=dict(br.by_kind),
    )


def finite(x: float) -> float | None:
    """JSON has no NaN or infinity: such values go out as null."""
    return x if math.isfinite(x) else None
