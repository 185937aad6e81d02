"""Where triggers come from: open incidents in the state store, findings in a JSON-lines file,
and the topology that turns an entity (a GPU) into the node to act on and its job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

from foreshock.act.model import Trigger
from foreshock.sim.timefmt import parse_time
from foreshock.store.state import StateStore
from foreshock.topology import Topology


def locate(topology: Topology | None, entity: str) -> tuple[str, str, str | None, dict[str, str]]:
    """(node, entity kind, synchronous job, labels) for an entity. The node is named as its
    scheduler knows it: its `hostname` label when it has one, else its id. Without a topology,
    or for an entity it does not know, the entity is taken to be the node itself."""
    if topology is None or entity not in topology:
        return entity, "", None, {}
    kind = topology.kind_of(entity)
    node, seen = entity, {entity}
    frontier = [entity]
    while frontier and topology.kind_of(node) != "node":
        parents = [p.id for p in topology.parents(frontier.pop()) if p.id not in seen]
        seen.update(parents)
        hit = next((p for p in parents if topology.kind_of(p) == "node"), None)
        if hit is not None:
            node = hit
            break
        frontier.extend(parents)
    job = None
    for holder in {entity, node}:
        for child in topology.children(holder):
            if child.kind == "job" and child.labels.get("sync") == "true":
                job = child.id
    labels = dict(topology.entity(node).labels)
    return scheduler_name(topology, node), kind, job, labels


def scheduler_name(topology: Topology, node: str) -> str:
    return topology.entity(node).labels.get("hostname", node)


def incident_triggers(store: StateStore, topology: Topology | None = None) -> Iterator[Trigger]:
    """One trigger per open incident with a root cause: its top-ranked cause."""
    for row in store.incidents(status="open", limit=1000):
        if not row.root_causes:
            continue
        cause = row.root_causes[0]
        entity = str(cause.get("entity", ""))
        node, kind, job, labels = locate(topology, entity)
        yield Trigger(
            id=f"incident-{row.id}",
            kind="incident",
            entity=entity,
            entity_kind=kind or str(cause.get("kind", "")),
            node=node,
            xid=cause.get("xid"),
            fault=cause.get("fault"),
            job=job,
            labels=MappingProxyType(labels),
            at=row.started_at,
        )


def finding_triggers(path: Path, topology: Topology | None = None) -> Iterator[Trigger]:
    """Findings as `foreshock detect` writes them (one JSON object a line); anomalies and
    predictions on an entity. A finding's id is its entity, metric and time, stable on
    every read of the file."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            f = json.loads(line)
            entity = f.get("entity")
            if not entity:
                continue
            node, kind, job, labels = locate(topology, entity)
            raised = parse_time(str(f["raised_at"]))
            yield Trigger(
                id=f"{f['kind']}-{entity}-{f.get('metric', '')}-{raised:.0f}".replace("/", "_"),
                kind=str(f["kind"]),
                entity=entity,
                entity_kind=kind,
                node=node,
                predicts=f.get("predicts"),
                job=job,
                labels=MappingProxyType(labels),
                at=raised,
            )
