"""What the API and the UI show, assembled from the topology, the store and the hot window.

Each function answers one question (an incident with its timeline, its causal graph, an
entity, its series, a what-if) and returns the wire models of `schemas`; routes and pages
only call them. They block (store queries, graph searches): call them in the thread pool.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select

from foreshock.api.health import LEVELS, Health
from foreshock.api.schemas import (
    CausalGraph,
    EntityDetail,
    EntityRef,
    EntitySeries,
    GraphEdge,
    GraphNode,
    IncidentDetail,
    SeriesOut,
    SymptomPath,
    TimelineEntry,
    WhatIfOut,
    action_out,
    alert_out,
    blast_out,
    comment_out,
    finding_out,
    finite,
    incident_summary,
)
from foreshock.model import Relation
from foreshock.store.state import StateStore
from foreshock.store.state.models import AlertRow, IncidentRow
from foreshock.topology import Topology

MAX_SYMPTOMS = 40  # paths drawn in a causal graph; the rest are counted
MAX_CHILDREN = 200
MAX_ALERTS = 500


def entity_ref(topology: Topology, health: Health, entity_id: str) -> EntityRef:
    i = topology.index(entity_id)
    return EntityRef(
        id=entity_id,
        kind=topology.kind_of(entity_id),
        health=LEVELS[int(health.rolled[i])],  # type: ignore[arg-type]
    )


def incident_alerts(store: StateStore, fingerprints: list[str]) -> list[AlertRow]:
    wanted = fingerprints[:MAX_ALERTS]
    if not wanted:
        return []
    stmt = select(AlertRow).where(AlertRow.fingerprint.in_(wanted)).order_by(AlertRow.starts_at)
    return store.all(stmt)


def incident_detail(store: StateStore, row: IncidentRow) -> IncidentDetail:
    alerts = incident_alerts(store, [a.fingerprint for a in row.alerts])
    actions = store.actions(incident_id=row.id, limit=200)
    timeline = [TimelineEntry(at=row.started_at, what="started", detail=row.title)]
    timeline.append(TimelineEntry(at=row.created_at, what="incident opened"))
    for a in alerts:
        name = a.labels.get("alertname", a.fingerprint)
        timeline.append(TimelineEntry(at=a.starts_at, what="alert firing", detail=_on(name, a)))
        if a.status == "resolved" and a.ends_at is not None:
            timeline.append(TimelineEntry(at=a.ends_at, what="alert resolved", detail=name))
    for c in row.comments:
        timeline.append(TimelineEntry(at=c.at, what=f"comment by {c.author}", detail=c.text))
    if row.acknowledged_at is not None:
        who = row.acknowledged_by or "someone"
        timeline.append(TimelineEntry(at=row.acknowledged_at, what=f"acknowledged by {who}"))
    for act in actions:
        detail = f"{act.step} {act.target} ({act.mode}, {act.status})"
        timeline.append(TimelineEntry(at=act.created_at, what="action", detail=detail))
    if row.resolved_at is not None:
        timeline.append(TimelineEntry(at=row.resolved_at, what="resolved"))
    timeline.sort(key=lambda e: e.at)
    s = incident_summary(row)
    return IncidentDetail(
        **s.model_dump(),
        acknowledged_at=row.acknowledged_at,
        resolved_at=row.resolved_at,
        created_at=row.created_at,
        root_causes=[c if isinstance(c, dict) else {"value": c} for c in row.root_causes],
        blast_radius=dict(row.blast_radius),
        suppressed=[x if isinstance(x, dict) else {"value": x} for x in row.suppressed],
        alerts=[alert_out(a) for a in alerts],
        comments=[comment_out(c) for c in row.comments],
        actions=[action_out(a) for a in actions],
        timeline=timeline,
    )


def _on(name: str, alert: AlertRow) -> str:
    return f"{name} on {alert.entity}" if alert.entity else name


def causal_graph(topology: Topology, store: StateStore, row: IncidentRow) -> CausalGraph:
    """The root cause, the other candidates, and the chain of relations to each symptom."""
    root = row.root_entity if row.root_entity in topology else None
    alerts = incident_alerts(store, [a.fingerprint for a in row.alerts])
    symptoms = sorted(
        {a.entity for a in alerts if a.entity is not None and a.entity in topology} - {root}
    )
    shown, omitted = symptoms[:MAX_SYMPTOMS], max(0, len(symptoms) - MAX_SYMPTOMS)
    nodes: dict[str, GraphNode] = {}
    edges: dict[tuple[str, str, str], GraphEdge] = {}

    def node(entity: str, role: str, depth: int) -> None:
        old = nodes.get(entity)
        if old is not None:
            # A candidate cause met on a path keeps its role but takes the path's column.
            if old.role != "root" and depth > old.depth:
                nodes[entity] = old.model_copy(update={"depth": depth})
            if old.role == "path" and role == "symptom":
                nodes[entity] = nodes[entity].model_copy(update={"role": role})
            return
        kind = topology.kind_of(entity)
        nodes[entity] = GraphNode(id=entity, kind=kind, role=role, depth=depth)  # type: ignore[arg-type]

    paths: list[SymptomPath] = []
    if root is not None:
        node(root, "root", 0)
        for cause in row.root_causes[1:]:
            other = cause.get("entity") if isinstance(cause, dict) else None
            if isinstance(other, str) and other in topology and other != root:
                node(other, "cause", 0)
    for symptom in shown:
        chain = topology.explain(root, symptom) if root is not None else None
        if chain is None:
            node(symptom, "symptom", 1)
            paths.append(SymptomPath(symptom=symptom, relations=None))
            continue
        for depth, r in enumerate(chain, start=1):
            node(r.target, "symptom" if r.target == symptom else "path", depth)
            edges[(r.source, r.target, r.type)] = _edge(r)
        paths.append(SymptomPath(symptom=symptom, relations=[_edge(r) for r in chain]))
    return CausalGraph(
        root=root,
        nodes=list(nodes.values()),
        edges=list(edges.values()),
        paths=paths,
        omitted_symptoms=omitted,
    )


def _edge(r: Relation) -> GraphEdge:
    return GraphEdge(source=r.source, target=r.target, type=r.type)


def entity_detail(
    topology: Topology, store: StateStore, health: Health, entity_id: str
) -> EntityDetail:
    e = topology.entity(entity_id)
    i = topology.index(entity_id)
    children = topology.children(entity_id)
    alerts = store.alerts(entity=entity_id)
    alerts.sort(key=lambda a: (a.status != "firing", -a.starts_at))
    return EntityDetail(
        id=e.id,
        kind=e.kind,
        labels=dict(e.labels),
        health=LEVELS[int(health.rolled[i])],  # type: ignore[arg-type]
        own_health=LEVELS[int(health.own[i])],  # type: ignore[arg-type]
        parents=[entity_ref(topology, health, p.id) for p in topology.parents(entity_id)],
        children=[entity_ref(topology, health, c.id) for c in children[:MAX_CHILDREN]],
        children_total=len(children),
        alerts=[alert_out(a) for a in alerts[:100]],
        findings=[finding_out(f) for f in store.findings(entity=entity_id, limit=100)],
        incidents=[incident_summary(r) for r in store.incidents(entity=entity_id, limit=50)],
    )


def entity_series(pipeline: Any, topology: Topology, entity_id: str) -> EntitySeries:
    """The hot window's samples of every series mapped to the entity; none without one."""
    table = getattr(pipeline, "table", None)
    hot = getattr(pipeline, "hot", None)
    if table is None or hot is None:
        return EntitySeries(entity=entity_id, source="none", series=[])
    if not len(table):
        return EntitySeries(entity=entity_id, source="hot_window", series=[])
    i = topology.index(entity_id)
    with pipeline.lock:  # the table and the window change under ingest
        mapped = table.entity_of(np.arange(len(table), dtype=np.int64))
        ids = np.flatnonzero(mapped == i)[:64]
        t, v = hot.window(ids)
        meta = [table[int(s)] for s in ids]
    series = []
    for k, s in enumerate(meta):
        keep = np.isfinite(t[k])
        series.append(
            SeriesOut(
                metric=s.metric,
                labels=dict(s.labels),
                t=t[k][keep].tolist(),
                v=[finite(x) for x in v[k][keep].tolist()],
            )
        )
    return EntitySeries(entity=entity_id, source="hot_window", series=series)


def what_if(topology: Topology, entities: list[str]) -> WhatIfOut:
    items = [blast_out(topology.blast_radius(e)) for e in dict.fromkeys(entities)]
    reached: set[int] = set()
    jobs: set[str] = set()
    for e in dict.fromkeys(entities):
        reached.add(topology.index(e))
        reached.update(topology.downstream_indices(e).tolist())
    gpu = topology.kind_mask("gpu") if "gpu" in topology.kind_counts() else None
    idx = np.fromiter(reached, dtype=np.int64, count=len(reached))
    for item in items:
        jobs.update(item.jobs)
    return WhatIfOut(
        items=items,
        entities=len(reached),
        gpus=int(gpu[idx].sum()) if gpu is not None and len(idx) else 0,
        jobs=sorted(jobs),
    )


def health_counts(health: Health) -> dict[str, int]:
    counts = np.bincount(health.rolled, minlength=len(LEVELS))
    return {name: int(counts[k]) for k, name in enumerate(LEVELS)}
