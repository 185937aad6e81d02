"""An incident as the rest of Foreshock sees it: members, suppressed symptoms and why, causes,
blast radius and what to do."""

from __future__ import annotations

from foreshock.correlate.group import Group
from foreshock.diagnose.actions import recommend
from foreshock.diagnose.rank import Cause
from foreshock.model import Action, Incident, Relation, RootCause, Suppression
from foreshock.topology import Topology

# Below this score the top cause is a guess: its symptoms stay visible.
SUPPRESS_FROM = 0.3


def render(topo: Topology, g: Group, ranked: list[Cause]) -> Incident:
    alerts = tuple(sorted({m.ident for m in g.members.values() if m.is_alert}))
    findings = sum(1 for m in g.members.values() if not m.is_alert)
    causes = tuple(RootCause(c.entity, c.kind, c.score, c.metric, c.evidence) for c in ranked)
    suppressed: list[Suppression] = []
    blast = None
    actions: tuple[Action, ...] = ()
    title = _title(g)
    if ranked:
        top = ranked[0]
        blast = topo.blast_radius(top.entity)
        xids = [
            m.xid
            for m in g.members.values()
            if m.xid is not None and _near(topo, top.entity, m.entity)
        ]
        actions = recommend(top.kind, top.entity, xids)
        title = f"{top.entity} ({top.kind}): {len(g.entities)} entities, {len(alerts)} alerts"
        if top.score >= SUPPRESS_FROM:
            said: set[str] = set()
            shown = [
                m
                for m in sorted(g.members.values(), key=lambda m: m.key)
                if m.is_alert and m.entity is not None and m.entity != top.entity
            ]
            mapped = {m.entity for m in shown if m.entity is not None and m.entity in topo}
            chains = topo.explain_all(top.entity, mapped)
            for m in shown:
                if m.ident not in said and m.entity is not None:
                    said.add(m.ident)
                    why = because(topo, top.entity, m.entity, chains.get(m.entity, ()))
                    suppressed.append(Suppression(m.ident, why, top.entity))
    return Incident(
        id=f"inc-{g.number}",
        start=g.start,
        alerts=alerts,
        entities=tuple(sorted(g.entities)),
        suppressed=tuple(suppressed),
        findings=findings,
        root_causes=causes,
        blast_radius=blast,
        actions=actions,
        end=g.end,
        title=title,
        updated=g.last,
    )


def because(topo: Topology, cause: str, entity: str, chain: tuple[Relation, ...] | None) -> str:
    """`symptom of cdu-2 (cools dc1/h1/r07)`: the first step of the way the fault travelled
    (`chain`, from `Topology.explain`)."""
    if entity not in topo:
        return f"symptom of {cause}"
    if chain:
        first = chain[0]
        via = f"{first.type} {first.target}"
        if len(chain) > 1:
            via += f", {len(chain) - 1} more step{'s' if len(chain) > 2 else ''} to {entity}"
        return f"symptom of {cause} ({via})"
    if chain is None:
        for p in topo.parents(cause, "contains"):
            if p.id == entity:
                return f"symptom of {cause} (reported by its container {entity})"
        return f"symptom of {cause} (stalls a synchronous job that {entity} runs)"
    return f"symptom of {cause}"


def _near(topo: Topology, cause: str, entity: str | None) -> bool:
    """The entity is the cause, contains it, or is contained by it (XIDs of a GPU are logged
    by its node)."""
    if entity is None or entity not in topo:
        return False
    if entity == cause:
        return True
    return any(p.id == entity for p in topo.parents(cause, "contains")) or any(
        p.id == cause for p in topo.parents(entity, "contains")
    )


def _title(g: Group) -> str:
    if g.entities:
        return f"{len(g.entities)} entities, {len(g.members)} alerts"
    return f"unmapped: {g.extra_name}"
