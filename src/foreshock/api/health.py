"""Health of every entity: the worst open alert, finding or incident on it or below it.

Levels, worst last: ok, warning (an open finding), degraded (a firing alert), critical (the
root cause of an open or acknowledged incident). An entity's own level is rolled up along
`contains`, so a rack is as unhealthy as its worst node and a hall as its worst rack.

Computing it is three small queries (distinct entities only) and a few NumPy passes over the
fleet; `HealthCache` keeps the result until something is published on the change stream or a
couple of seconds pass (ingested alerts are published too, but a writer in another process is
not), so a page load at 100,000 GPUs does not recompute it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import select

from foreshock.store.state import StateStore
from foreshock.store.state.models import AlertRow, IncidentRow
from foreshock.topology import Topology

LEVELS = ("ok", "warning", "degraded", "critical")
OK, WARNING, DEGRADED, CRITICAL = range(4)
Levels = npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class Health:
    """Own and rolled-up level per entity index, and what made each entity's own level."""

    own: Levels
    rolled: Levels
    alerts: frozenset[str]  # entities with a firing alert
    findings: frozenset[str]  # entities with an open finding
    causes: frozenset[str]  # root entities of open or acknowledged incidents

    def of(self, topology: Topology, entity_id: str) -> str:
        return LEVELS[int(self.rolled[topology.index(entity_id)])]


def open_entities(store: StateStore) -> tuple[set[str], set[str], set[str]]:
    """Entities with a firing alert, with an open finding, and root causes of open incidents."""
    alerts = select(AlertRow.entity).where(
        AlertRow.status == "firing", AlertRow.entity.is_not(None)
    )
    causes = select(IncidentRow.root_entity).where(
        IncidentRow.status.in_(("open", "acknowledged")), IncidentRow.root_entity.is_not(None)
    )
    with store.reader() as session:
        firing = {str(e) for e in session.scalars(alerts.distinct())}
        rooted = {str(e) for e in session.scalars(causes.distinct())}
    return firing, set(store.open_finding_entities()), rooted


def contains_edges(topology: Topology) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    if "contains" not in topology.relation_types:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return topology.relation_indices("contains")


def compute(topology: Topology, store: StateStore) -> Health:
    firing, finding, rooted = open_entities(store)
    own = np.zeros(len(topology), dtype=np.int8)
    for entities, level in ((finding, WARNING), (firing, DEGRADED), (rooted, CRITICAL)):
        idx = [topology.index(e) for e in entities if e in topology]
        if idx:
            own[np.array(idx)] = np.maximum(own[np.array(idx)], level)
    rolled = own.copy()
    src, dst = contains_edges(topology)
    if len(src) and own.any():
        for _ in range(64):  # one pass per level of containment; the graph is acyclic
            before = rolled.copy()
            np.maximum.at(rolled, src, rolled[dst])
            if np.array_equal(before, rolled):
                break
    return Health(own, rolled, frozenset(firing), frozenset(finding), frozenset(rooted))


class HealthCache:
    """The last `Health`, recomputed when the stream's version moves or it is `ttl` old."""

    def __init__(
        self,
        version: Callable[[], int],
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._version = version
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[int, float, int, Health] | None = None  # topology id, at, version

    def get(self, topology: Topology, store: StateStore) -> Health:
        version, now = self._version(), self.clock()
        with self._lock:
            c = self._cached
            if c and c[0] == id(topology) and c[2] == version and now - c[1] < self.ttl:
                return c[3]
        health = compute(topology, store)
        with self._lock:
            self._cached = (id(topology), now, version, health)
        return health
