"""What API routes and UI pages do with the open pipeline, in one place.

`Service` pairs the open `IngestPipeline` (topology, state store, hot window) with the shared
service state (change stream, caches). Reads return wire models; changes to an incident are
audited and published on the change stream. Methods block: call them in the thread pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import HTTPException, Request

from foreshock.api.auth import Principal
from foreshock.api.health import LEVELS, Health
from foreshock.api.schemas import (
    CommentOut,
    EntityPage,
    EntityRef,
    FleetMap,
    IncidentPage,
    comment_out,
    incident_summary,
)
from foreshock.store.state import NotFound, StateStore
from foreshock.store.state.models import IncidentRow
from foreshock.topology import Topology

if TYPE_CHECKING:
    from foreshock.api.app import ServiceState


class NotReady(Exception):
    """The topology and state store are not open yet (503)."""


class Service:
    def __init__(self, state: ServiceState, pipeline: Any) -> None:
        self.state = state
        self.pipeline = pipeline
        self.topology: Topology = pipeline.topology
        self.store: StateStore = pipeline.store

    def health(self) -> Health:
        return self.state.health_cache.get(self.topology, self.store)

    def known(self, entity_id: str) -> None:
        if entity_id not in self.topology:
            raise HTTPException(404, f"no entity {entity_id!r} in the topology")

    def entity_page(
        self, kind: str | None, health: str | None, prefix: str | None, limit: int, offset: int
    ) -> EntityPage:
        t = self.topology
        keep = np.ones(len(t), dtype=bool)
        if kind is not None:
            keep &= t.kind_mask(kind) if kind in t.kind_counts() else False
        levels = self.health().rolled
        if health is not None:
            keep &= levels == LEVELS.index(health)
        idx = np.flatnonzero(keep)
        if prefix:
            idx = np.array([i for i in idx.tolist() if t.id_at(i).startswith(prefix)], np.int64)
        page = idx[offset : offset + limit].tolist()
        items = [
            EntityRef(id=t.id_at(i), kind=t.entity_at(i).kind, health=LEVELS[int(levels[i])])  # type: ignore[arg-type]
            for i in page
        ]
        return EntityPage(items=items, total=len(idx))

    def fleet_map(self) -> FleetMap:
        layout = self.state.layouts.get(self.topology)
        return FleetMap(**layout.describe(), z=layout.grid(self.health()))

    def fleet_map_ids(self) -> list[str | None]:
        return self.state.layouts.get(self.topology).ids(self.topology)

    def incident_page(
        self,
        status: Sequence[str] | None,
        entity: str | None,
        text: str | None,
        limit: int,
        before: int | None,
    ) -> IncidentPage:
        filters: dict[str, Any] = {"status": list(status) if status else None, "entity": entity}
        filters["text"] = text or None
        rows = self.store.incidents(**filters, limit=limit, before=before)
        total = self.store.count_incidents(**filters)
        more = len(rows) == limit and rows[-1].id > 1
        return IncidentPage(
            items=[incident_summary(r) for r in rows],
            total=total,
            next_before=rows[-1].id if more else None,
        )

    def incident_row(self, incident_id: int) -> IncidentRow:
        row = self.store.incident(incident_id)
        if row is None:
            raise HTTPException(404, f"no incident {incident_id}")
        return row

    def set_status(
        self, who: Principal, request: Request, incident_id: int, status: str
    ) -> IncidentRow:
        try:
            row = self.store.set_incident_status(incident_id, status, by=who.name)
        except NotFound:
            raise HTTPException(404, f"no incident {incident_id}") from None
        self._audit(who, request, f"incident/{incident_id}", {"status": status})
        self.state.broadcaster.publish(
            "incident", {"id": incident_id, "status": row.status, "by": who.name}
        )
        return row

    def comment(self, who: Principal, request: Request, incident_id: int, text: str) -> CommentOut:
        try:
            row = self.store.comment_incident(incident_id, who.name, text)
        except NotFound:
            raise HTTPException(404, f"no incident {incident_id}") from None
        self._audit(who, request, f"incident/{incident_id}", {"comment": row.id})
        self.state.broadcaster.publish(
            "incident", {"id": incident_id, "comment": row.id, "by": who.name}
        )
        return comment_out(row)

    def _audit(self, who: Principal, request: Request, subject: str, data: dict[str, Any]) -> None:
        self.store.append_audit(
            actor=who.name,
            action=f"{request.method} {request.url.path}",
            subject=subject,
            decision="accepted",
            data=data,
        )


def service_dep(request: Request) -> Service:
    state: ServiceState = request.app.state.service
    if state.pipeline is None:
        raise NotReady()
    return Service(state, state.pipeline)
