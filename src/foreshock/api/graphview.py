"""Where to draw each node of a causal graph: columns by distance from the root cause.

The UI draws the graph as inline SVG from this layout, so the page needs no graph library:
the root cause (and the other candidates) in the first column, each relation one column to the
right, symptoms at the end of their chain.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from foreshock.api.schemas import CausalGraph

COL_W, ROW_H, PAD, NODE_W, NODE_H = 290, 46, 16, 200, 30


@dataclass(frozen=True, slots=True)
class DrawnNode:
    id: str
    kind: str
    role: str
    x: float
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class DrawnEdge:
    x1: float
    y1: float
    x2: float
    y2: float
    type: str


@dataclass(frozen=True, slots=True)
class Drawing:
    width: float
    height: float
    nodes: tuple[DrawnNode, ...]
    edges: tuple[DrawnEdge, ...]
    node_w: float = NODE_W
    node_h: float = NODE_H


def _label(entity: str) -> str:
    # Ids are paths (dc1/h1/r001/n1/gpu0): the tail says most; the full id is in the tooltip.
    parts = entity.split("/")
    text = "/".join(parts[-2:]) if len(parts) > 2 else entity
    return text if len(text) <= 26 else "…" + text[-25:]


def layout_graph(graph: CausalGraph) -> Drawing:
    columns: dict[int, list[str]] = defaultdict(list)
    by_id = {n.id: n for n in graph.nodes}
    for n in graph.nodes:
        columns[n.depth].append(n.id)
    place: dict[str, tuple[float, float]] = {}
    for depth, ids in sorted(columns.items()):
        for row, entity in enumerate(sorted(ids, key=lambda e: (by_id[e].role != "root", e))):
            place[entity] = (PAD + depth * COL_W, PAD + row * ROW_H)
    nodes = tuple(
        DrawnNode(n.id, n.kind, n.role, *place[n.id], label=_label(n.id)) for n in graph.nodes
    )
    edges = tuple(
        DrawnEdge(
            place[e.source][0] + NODE_W,
            place[e.source][1] + NODE_H / 2,
            place[e.target][0],
            place[e.target][1] + NODE_H / 2,
            e.type,
        )
        for e in graph.edges
        if e.source in place and e.target in place
    )
    width = PAD * 2 + (max(columns, default=0) + 1) * COL_W
    height = PAD * 2 + max((len(v) for v in columns.values()), default=1) * ROW_H
    return Drawing(width, height, nodes, edges)
