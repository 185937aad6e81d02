"""The fleet map as one grid: every hall a block of cells, every cell a rack, node or GPU.

A hall's block has one column per rack. Its first row is the racks themselves; then, per node
slot, one row for the node and one per GPU slot. Blocks sit side by side in a grid of halls.
The UI draws the whole grid as one plotly heatmap, which a browser renders at 100,000 GPUs
in a fraction of a second where 100,000 SVG shapes would not.

The layout depends on the topology only and is built once; health fills it per request with
one NumPy gather. Entities are found by kind (hall, rack, node, gpu) along `contains`, at any
depth (racks may sit in rows in halls); racks with no hall go in a block of their own.
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from foreshock.api.health import Health, contains_edges
from foreshock.topology import Topology

Indices = npt.NDArray[np.int64]
NO_HALL = "(no hall)"
GAP_ROWS, GAP_COLS = 4, 2  # empty cells between hall blocks; the rows above hold its name


def natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts h2 before h10."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


@dataclass(frozen=True, slots=True)
class FleetLayout:
    width: int
    height: int
    cells: Indices  # flat cell position of each placed entity
    entities: Indices  # topology index of the entity in each of those cells
    halls: tuple[tuple[str, int, int], ...]  # hall id and its block's top-left (row, col)
    block: tuple[int, int]  # block height and width, in cells
    gpus: int

    def grid(self, health: Health) -> list[int | None]:
        """Rolled-up health level per cell, row-major; None where no entity is."""
        z = np.full(self.width * self.height, -1, dtype=np.int8)
        z[self.cells] = health.rolled[self.entities]
        return [None if v < 0 else int(v) for v in z.tolist()]

    def ids(self, topology: Topology) -> list[str | None]:
        out: list[str | None] = [None] * (self.width * self.height)
        for cell, idx in zip(self.cells.tolist(), self.entities.tolist(), strict=True):
            out[cell] = topology.id_at(idx)
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "block": list(self.block),
            "halls": [{"id": h, "row": r, "col": c} for h, r, c in self.halls],
            "gpus": self.gpus,
        }


def _nearest(topology: Topology, parent: Indices, kind: str) -> Indices:
    """For each entity, the index of its nearest container of `kind` (itself if it is one),
    or -1."""
    is_kind = topology.kind_mask(kind) if kind in topology.kind_counts() else None
    n = len(topology)
    if is_kind is None:
        return np.full(n, -1, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    found = np.where(is_kind, idx, -1)
    cur = parent.copy()
    for _ in range(64):
        todo = (found < 0) & (cur >= 0)
        if not todo.any():
            break
        hit = todo & is_kind[np.maximum(cur, 0)]
        found[hit] = cur[hit]
        cur = np.where(todo & ~hit, parent[np.maximum(cur, 0)], -1)
    return found


def build_layout(topology: Topology) -> FleetLayout:
    n = len(topology)
    parent = np.full(n, -1, dtype=np.int64)
    src, dst = contains_edges(topology)
    parent[dst] = src  # containment is a tree in practice; a second container is ignored
    # The container of kind K of each entity, found from its parent up (not itself).
    above = np.where(parent >= 0, parent, 0)

    def container(kind: str) -> Indices:
        near = _nearest(topology, parent, kind)
        return np.where(parent >= 0, near[above], -1)

    hall_of, rack_of, node_of = container("hall"), container("rack"), container("node")
    racks: list[int] = []
    if "rack" in topology.kind_counts():
        racks = np.flatnonzero(topology.kind_mask("rack")).tolist()
    by_hall: dict[int, list[int]] = defaultdict(list)
    for r in racks:
        by_hall[int(hall_of[r])].append(int(r))
    nodes_of: dict[int, list[int]] = defaultdict(list)
    gpus_of: dict[int, list[int]] = defaultdict(list)
    for kind, owner, into in (("node", rack_of, nodes_of), ("gpu", node_of, gpus_of)):
        if kind in topology.kind_counts():
            for e in np.flatnonzero(topology.kind_mask(kind)).tolist():
                if owner[e] >= 0:
                    into[int(owner[e])].append(e)
    ids = topology.ids_at
    halls = sorted(by_hall, key=lambda h: (h < 0, natural(ids([h])[0]) if h >= 0 else ()))
    for h in halls:
        by_hall[h].sort(key=lambda r: natural(ids([r])[0]))
    max_racks = max((len(v) for v in by_hall.values()), default=0)
    max_nodes = max((len(v) for v in nodes_of.values()), default=0)
    max_gpus = max((len(v) for v in gpus_of.values()), default=0)
    bh, bw = 1 + max_nodes * (1 + max_gpus), max(max_racks, 1)
    # Blocks per grid row so the whole map is about twice as wide as high.
    step_y, step_x = bh + GAP_ROWS, bw + GAP_COLS
    ideal = math.sqrt(max(len(halls), 1) * 2 * step_y / step_x)
    per_row = max(1, min(len(halls), round(ideal)))
    rows_of_blocks = max(1, math.ceil(len(halls) / per_row))
    width, height = per_row * step_x - GAP_COLS, rows_of_blocks * step_y - GAP_ROWS
    cells: list[int] = []
    entities: list[int] = []
    placed: list[tuple[str, int, int]] = []
    gpu_count = 0
    for b, h in enumerate(halls):
        top, left = (b // per_row) * step_y, (b % per_row) * step_x
        placed.append((ids([h])[0] if h >= 0 else NO_HALL, top, left))
        for c, rack in enumerate(by_hall[h]):
            col = left + c
            cells.append(top * width + col)
            entities.append(rack)
            for k, node in enumerate(nodes_of.get(rack, ())):
                row = top + 1 + k * (1 + max_gpus)
                cells.append(row * width + col)
                entities.append(node)
                for g, gpu in enumerate(gpus_of.get(node, ())):
                    cells.append((row + 1 + g) * width + col)
                    entities.append(gpu)
                    gpu_count += 1
    return FleetLayout(
        width=max(width, 1),
        height=max(height, 1),
        cells=np.array(cells, dtype=np.int64),
        entities=np.array(entities, dtype=np.int64),
        halls=tuple(placed),
        block=(bh, bw),
        gpus=gpu_count,
    )


class LayoutCache:
    """One layout per topology object (a topology never changes once built)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[int, FleetLayout] | None = None

    def get(self, topology: Topology) -> FleetLayout:
        with self._lock:
            if self._cached is not None and self._cached[0] == id(topology):
                return self._cached[1]
            layout = build_layout(topology)
            self._cached = (id(topology), layout)
            return layout
