"""REST API under /api/v1: topology, entities, alerts, findings, incidents, what-ifs, stream.

Reads need `viewer`; changing an incident needs `operator`. Each handler validates its input
(422), maps a missing thing to 404 and a refused lifecycle step to 409, and runs store and
graph work in the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from foreshock.api import views
from foreshock.api.auth import Principal
from foreshock.api.schemas import (
    AlertOut,
    AuditOut,
    BlastRadiusOut,
    CausalGraph,
    CommentIn,
    CommentOut,
    EntityDetail,
    EntityPage,
    EntitySeries,
    FindingOut,
    FleetMap,
    IncidentDetail,
    IncidentPage,
    TopologySummary,
    WhatIfIn,
    WhatIfOut,
    alert_out,
    audit_out,
    blast_out,
    finding_out,
)
from foreshock.api.service import Service, service_dep
from foreshock.api.session import authorize
from foreshock.store.state import InvalidTransition, NotFound

MAX_ID = 2**63 - 1  # ids are 64-bit in the database; larger ones are bad input, not a 500


class Problem(BaseModel):
    detail: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem} for code in (401, 403, 503, *codes)}


IncidentId = Annotated[int, Path(ge=1, le=MAX_ID)]
Before = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Ids below this one.")]
Limit = Annotated[int, Query(ge=1, le=500)]
EntityParam = Annotated[str, Query(min_length=1, max_length=1000)]


def add_api_routes(app: FastAPI) -> None:
    viewer = Depends(authorize("viewer"))
    operator = Depends(authorize("operator"))
    ready = Depends(service_dep)
    r = APIRouter(prefix="/api/v1", tags=["foreshock"], responses=_errors())

    @r.get("/topology", dependencies=[viewer])
    async def topology(s: Service = ready) -> TopologySummary:
        """Entity and relation counts by kind and type, and entities per health level."""
        health = await run_in_threadpool(s.health)
        t = s.topology
        return TopologySummary(
            entities=len(t),
            relations=sum(t.relation_counts().values()),
            kinds=dict(sorted(t.kind_counts().items())),
            relation_types=dict(sorted(t.relation_counts().items())),
            health=views.health_counts(health),
        )

    @r.get("/entities", dependencies=[viewer])
    async def entities(
        s: Service = ready,
        kind: Annotated[str | None, Query(max_length=100)] = None,
        health: Literal["ok", "warning", "degraded", "critical"] | None = None,
        prefix: Annotated[str | None, Query(max_length=1000)] = None,
        limit: Limit = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> EntityPage:
        """Entities (by kind, health or id prefix), in topology order, with their health."""
        return await run_in_threadpool(s.entity_page, kind, health, prefix, limit, offset)

    @r.get("/entities/{entity_id:path}", dependencies=[viewer], responses=_errors(404))
    async def entity(entity_id: str, s: Service = ready) -> EntityDetail:
        """One entity: labels, health, neighbours, open alerts and findings, incidents."""
        s.known(entity_id)
        health = await run_in_threadpool(s.health)
        return await run_in_threadpool(views.entity_detail, s.topology, s.store, health, entity_id)

    @r.get("/series", dependencies=[viewer], responses=_errors(404))
    async def series(entity: EntityParam, s: Service = ready) -> EntitySeries:
        """The hot window's recent samples of the entity's series (source `none` if the
        service holds no hot window)."""
        s.known(entity)
        return await run_in_threadpool(views.entity_series, s.pipeline, s.topology, entity)

    @r.get("/fleet/map", dependencies=[viewer])
    async def fleet_map(s: Service = ready) -> FleetMap:
        """Halls, racks, nodes and GPUs as one grid of health levels (see the fleet map)."""
        return await run_in_threadpool(s.fleet_map)

    @r.get("/fleet/map/ids", dependencies=[viewer])
    async def fleet_map_ids(s: Service = ready) -> list[str | None]:
        """The entity id in each cell of the fleet map's grid (null where empty)."""
        return await run_in_threadpool(s.fleet_map_ids)

    @r.get("/alerts", dependencies=[viewer])
    async def alerts(
        s: Service = ready,
        status: Literal["firing", "resolved"] | None = None,
        entity: Annotated[str | None, Query(max_length=1000)] = None,
        limit: Limit = 100,
    ) -> list[AlertOut]:
        """Alerts, oldest first."""
        rows = await run_in_threadpool(s.store.alerts, status=status, entity=entity, limit=limit)
        return [alert_out(a) for a in rows]

    @r.get("/audit", dependencies=[viewer])
    async def audit(
        s: Service = ready,
        subject: Annotated[str | None, Query(max_length=1000)] = None,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        after: Annotated[
            int | None, Query(ge=0, le=MAX_ID, description="Ids above this one.")
        ] = None,
        limit: Limit = 100,
    ) -> list[AuditOut]:
        """The audit log, oldest first (every decision, refusal and call of the remediation
        loop, and every change people made); tail it by passing the last id as `after`."""
        rows = await run_in_threadpool(
            s.store.audit_log, subject=subject, actor=actor, after=after, limit=limit
        )
        return [audit_out(a) for a in rows]

    @r.get("/findings", dependencies=[viewer])
    async def findings(
        s: Service = ready,
        status: Literal["open", "closed"] | None = None,
        kind: Literal["anomaly", "prediction"] | None = None,
        entity: Annotated[str | None, Query(max_length=1000)] = None,
        limit: Limit = 100,
        before: Before = None,
    ) -> list[FindingOut]:
        """Anomalies and predictions, newest first."""
        rows = await run_in_threadpool(
            s.store.findings, status=status, kind=kind, entity=entity, limit=limit, before=before
        )
        return [finding_out(f) for f in rows]

    @r.get("/incidents", dependencies=[viewer])
    async def incidents(
        s: Service = ready,
        status: Annotated[list[Literal["open", "acknowledged", "resolved"]] | None, Query()] = None,
        entity: Annotated[str | None, Query(max_length=1000)] = None,
        q: Annotated[str | None, Query(max_length=200, description="Text in the title.")] = None,
        limit: Limit = 50,
        before: Before = None,
    ) -> IncidentPage:
        """Incidents, newest first, filtered by status, root-cause entity or title text."""
        return await run_in_threadpool(s.incident_page, status, entity, q, limit, before)

    @r.get("/incidents/{incident_id}", dependencies=[viewer], responses=_errors(404))
    async def incident(incident_id: IncidentId, s: Service = ready) -> IncidentDetail:
        """An incident with its causes, blast radius, suppressed alerts, alerts, comments,
        actions and timeline."""
        row = await run_in_threadpool(s.incident_row, incident_id)
        return await run_in_threadpool(views.incident_detail, s.store, row)

    @r.get("/incidents/{incident_id}/graph", dependencies=[viewer], responses=_errors(404))
    async def incident_graph(incident_id: IncidentId, s: Service = ready) -> CausalGraph:
        """The causal graph: the root cause and the chain of relations to each symptom."""
        row = await run_in_threadpool(s.incident_row, incident_id)
        return await run_in_threadpool(views.causal_graph, s.topology, s.store, row)

    async def transition(
        s: Service, request: Request, who: Principal, incident_id: int, status: str
    ) -> IncidentDetail:
        try:
            row = await run_in_threadpool(s.set_status, who, request, incident_id, status)
        except InvalidTransition as e:
            raise HTTPException(409, str(e)) from None
        return await run_in_threadpool(views.incident_detail, s.store, row)

    changes = _errors(404, 409)

    @r.post("/incidents/{incident_id}/acknowledge", responses=changes)
    async def acknowledge(
        incident_id: IncidentId,
        request: Request,
        who: Principal = operator,
        s: Service = ready,
    ) -> IncidentDetail:
        """Acknowledge: someone is on it (operator)."""
        return await transition(s, request, who, incident_id, "acknowledged")

    @r.post("/incidents/{incident_id}/resolve", responses=changes)
    async def resolve(
        incident_id: IncidentId,
        request: Request,
        who: Principal = operator,
        s: Service = ready,
    ) -> IncidentDetail:
        """Resolve (operator)."""
        return await transition(s, request, who, incident_id, "resolved")

    @r.post("/incidents/{incident_id}/reopen", responses=changes)
    async def reopen(
        incident_id: IncidentId,
        request: Request,
        who: Principal = operator,
        s: Service = ready,
    ) -> IncidentDetail:
        """Reopen, or withdraw an acknowledgement (operator)."""
        return await transition(s, request, who, incident_id, "open")

    @r.post("/incidents/{incident_id}/comments", status_code=201, responses=_errors(400, 404))
    async def comment(
        incident_id: IncidentId,
        body: CommentIn,
        request: Request,
        who: Principal = operator,
        s: Service = ready,
    ) -> CommentOut:
        """Add a comment to the incident's timeline (operator)."""
        return await run_in_threadpool(s.comment, who, request, incident_id, body.text)

    @r.get("/blast-radius", dependencies=[viewer], responses=_errors(404))
    async def blast_radius(entity: EntityParam, s: Service = ready) -> BlastRadiusOut:
        """What a fault of the entity would reach: entities, GPUs, jobs, GPU-hours at risk."""
        s.known(entity)
        return blast_out(await run_in_threadpool(s.topology.blast_radius, entity))

    @r.post("/blast-radius/what-if", dependencies=[viewer], responses=_errors(400, 404))
    async def what_if(body: WhatIfIn, s: Service = ready) -> WhatIfOut:
        """What several faults at once would reach, each and together."""
        for e in body.entities:
            s.known(e)
        return await run_in_threadpool(views.what_if, s.topology, body.entities)

    @r.get(
        "/stream",
        dependencies=[viewer],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(request: Request) -> StreamingResponse:
        """Server-sent events: one per change (incident, alerts, finding, ...), `resync` when
        the client fell behind; reconnect with Last-Event-ID to catch up."""
        broadcaster = request.app.state.service.broadcaster
        last = request.headers.get("last-event-id", "")
        sub = broadcaster.subscribe(int(last) if last.isdigit() and len(last) < 19 else None)
        return StreamingResponse(
            broadcaster.events(sub),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    app.include_router(r)


def not_found(what: str) -> HTTPException:
    return HTTPException(404, what)


__all__ = ["NotFound", "add_api_routes", "not_found"]
