"""The fleet graph. Every stage asks it; nothing else imports rustworkx.

Structure queries (neighbours, paths, cycles) go to rustworkx. Bulk reachability (blast radius,
everything upstream of ten thousand symptoms) runs as a frontier search over CSR arrays in
NumPy, which visits 200,000 entities in milliseconds without a Python object per entity.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import rustworkx as rx

from foreshock.model import (
    DEFAULT_RELATION_TYPES,
    BlastRadius,
    Entity,
    Propagation,
    Relation,
    RelationType,
)
from foreshock.topology.errors import Problem, TopologyError
from foreshock.topology.labels import DEFAULT_ALIASES, LabelIndex

Indices = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


class UnknownEntityError(KeyError):
    def __str__(self) -> str:
        return f"unknown entity {self.args[0]!r}"


class _CSR:
    """Adjacency of one direction as offsets into a flat neighbour array."""

    def __init__(self, heads: Indices, tails: Indices, n: int) -> None:
        order = np.argsort(heads, kind="stable")
        self.neighbours = tails[order]
        self.offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(heads, minlength=n), out=self.offsets[1:])

    def reach(self, starts: Indices) -> Mask:
        """Mask of everything reachable from `starts` by at least one edge."""
        n = len(self.offsets) - 1
        seen = np.zeros(n, dtype=bool)
        reached = np.zeros(n, dtype=bool)
        frontier = np.unique(starts)
        seen[frontier] = True
        while frontier.size:
            lo = self.offsets[frontier]
            count = self.offsets[frontier + 1] - lo
            total = int(count.sum())
            if total == 0:
                break
            # Positions of every neighbour of every frontier entity, without a Python loop.
            pos = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(total)
            reached[self.neighbours[pos]] = True
            # A pass over a boolean array of the fleet is cheaper than sorting the neighbours.
            new = reached & ~seen
            seen |= new
            frontier = np.flatnonzero(new)
        return reached


class Topology:
    """Entities and the relations that say how faults travel between them.

    Entities are numbered 0..n-1 in the order given; `index` and `id_at` convert, and the
    `*_indices` queries return NumPy arrays for the vectorised stages.
    """

    def __init__(
        self,
        entities: Sequence[Entity],
        relations: Sequence[Relation],
        relation_types: Mapping[str, RelationType] = DEFAULT_RELATION_TYPES,
        label_aliases: Mapping[str, str] = DEFAULT_ALIASES,
    ) -> None:
        ids = [e.id for e in entities]
        index = self._index_ids(ids)
        names = list(relation_types)
        code = {t: c for c, t in enumerate(names)}
        for r in relations:
            if r.type not in code:
                raise TopologyError([Problem(f"unknown relation type {r.type!r}", id=r.source)])
            for end in (r.source, r.target):
                if end not in index:
                    raise TopologyError([Problem(f"relation to unknown id {end!r}", id=end)])
        self._setup(
            ids,
            [e.kind for e in entities],
            [e.labels for e in entities],
            np.array([index[r.source] for r in relations], dtype=np.int64),
            np.array([index[r.target] for r in relations], dtype=np.int64),
            np.array([code[r.type] for r in relations], dtype=np.int64),
            relation_types,
            label_aliases,
            index,
        )

    @classmethod
    def from_columns(
        cls,
        ids: list[str],
        kinds: list[str],
        labels: list[Mapping[str, str]],
        sources: Indices,
        targets: Indices,
        type_codes: Indices,
        relation_types: Mapping[str, RelationType],
        label_aliases: Mapping[str, str] = DEFAULT_ALIASES,
    ) -> Topology:
        """Build from columns already checked by the loader; type codes index `relation_types`."""
        self = cls.__new__(cls)
        index = cls._index_ids(ids)
        self._setup(
            ids, kinds, labels, sources, targets, type_codes, relation_types, label_aliases, index
        )
        return self

    @staticmethod
    def _index_ids(ids: list[str]) -> dict[str, int]:
        index = dict(zip(ids, range(len(ids)), strict=True))
        if len(index) != len(ids):
            dup = next(eid for eid, n in Counter(ids).items() if n > 1)
            raise TopologyError([Problem(f"duplicate id {dup!r}", id=dup)])
        return index

    def _setup(
        self,
        ids: list[str],
        kinds: list[str],
        labels: list[Mapping[str, str]],
        sources: Indices,
        targets: Indices,
        type_codes: Indices,
        relation_types: Mapping[str, RelationType],
        label_aliases: Mapping[str, str],
        index: dict[str, int],
    ) -> None:
        n = len(ids)
        self._ids = ids
        self._index = index
        self._kind_names = sorted(set(kinds))
        kind_code = {k: c for c, k in enumerate(self._kind_names)}
        self._kinds = np.fromiter(map(kind_code.__getitem__, kinds), np.int32, n)
        self._labels_raw = labels
        self._entity_cache: dict[int, Entity] = {}
        self._types = dict(relation_types)
        self._type_names = list(self._types)
        self._src, self._dst, self._etype = sources, targets, type_codes
        self._graph = self._digraph(np.ones(len(sources), dtype=bool))
        propagating = np.array([t.propagation.propagates for t in self._types.values()], dtype=bool)
        prop_edges = propagating[type_codes] if len(type_codes) else np.ones(0, dtype=bool)
        self._prop = self._graph if prop_edges.all() else self._digraph(prop_edges)
        self._down = _CSR(sources[prop_edges], targets[prop_edges], n)
        self._up = _CSR(targets[prop_edges], sources[prop_edges], n)
        if "contains" in self._types:
            self._check_contains_acyclic(self._type_names.index("contains"))
        self._labels = LabelIndex(ids, labels, label_aliases)
        self._job_gpus: dict[int, Indices] | None = None
        self._csr_cache: dict[frozenset[int], _CSR] = {}

    def _digraph(self, keep: Mask) -> rx.PyDiGraph:
        g = rx.PyDiGraph(multigraph=True)
        g.add_nodes_from(range(len(self._ids)))
        edges = zip(
            self._src[keep].tolist(),
            self._dst[keep].tolist(),
            self._etype[keep].tolist(),
            strict=True,
        )
        g.add_edges_from(list(edges))
        return g

    def _check_contains_acyclic(self, code: int) -> None:
        contains = self._digraph(self._etype == code)
        if rx.is_directed_acyclic_graph(contains):
            return
        cycle = [self._ids[a] for a, _ in rx.digraph_find_cycle(contains)]
        path = " contains ".join([*cycle, cycle[0]])
        raise TopologyError([Problem(f"cycle in 'contains': {path}", id=cycle[0])])

    # --- entities ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._index

    def index(self, entity_id: str) -> int:
        try:
            return self._index[entity_id]
        except KeyError:
            raise UnknownEntityError(entity_id) from None

    def id_at(self, index: int) -> str:
        return self._ids[index]

    def ids_at(self, indices: Iterable[int]) -> list[str]:
        ids = self._ids
        return [ids[i] for i in indices]

    def entity_at(self, index: int) -> Entity:
        e = self._entity_cache.get(index)
        if e is None:
            labels = self._labels_raw[index]
            frozen = labels if isinstance(labels, MappingProxyType) else MappingProxyType(labels)
            kind = self._kind_names[self._kinds[index]]
            e = self._entity_cache[index] = Entity(self._ids[index], kind, frozen)
        return e

    def entity(self, entity_id: str) -> Entity:
        return self.entity_at(self.index(entity_id))

    def entities(self, kind: str | None = None) -> Iterator[Entity]:
        if kind is None:
            return map(self.entity_at, range(len(self._ids)))
        return map(self.entity_at, np.flatnonzero(self.kind_mask(kind)).tolist())

    def kind_of(self, entity_id: str) -> str:
        return self._kind_names[int(self._kinds[self.index(entity_id)])]

    def kind_counts(self) -> Counter[str]:
        counts = np.bincount(self._kinds, minlength=len(self._kind_names))
        return Counter({k: int(n) for k, n in zip(self._kind_names, counts, strict=True)})

    def kind_mask(self, kind: str) -> Mask:
        """Boolean mask over entity indices: True where the entity has this kind."""
        if kind not in self._kind_names:
            return np.zeros(len(self._ids), dtype=bool)
        mask: Mask = self._kinds == self._kind_names.index(kind)
        return mask

    @property
    def relation_types(self) -> Mapping[str, RelationType]:
        return self._types

    def relations(self) -> Iterator[Relation]:
        ids, names = self._ids, self._type_names
        for a, b, c in zip(
            self._src.tolist(), self._dst.tolist(), self._etype.tolist(), strict=True
        ):
            yield Relation(ids[a], ids[b], names[c])

    def relation_indices(self, types: str | Iterable[str]) -> tuple[Indices, Indices]:
        """(source, target) entity indices of every relation of the given types, for building
        vectorised maps such as GPU → node or rack → CDU."""
        keep = np.isin(self._etype, sorted(self._type_filter(types) or ()))
        return self._src[keep], self._dst[keep]

    def relation_counts(self) -> Counter[str]:
        counts = np.bincount(self._etype, minlength=len(self._type_names))
        return Counter({t: int(n) for t, n in zip(self._type_names, counts, strict=True) if n})

    # --- labels -----------------------------------------------------------------------------

    @property
    def labels(self) -> LabelIndex:
        """The label → entity index; `lookup` gives an entity index or a negative code."""
        return self._labels

    def map_labels(self, labels: Mapping[str, str]) -> str | None:
        """Id of the entity a series, alert or event with these labels belongs to."""
        i = self._labels.lookup(labels)
        return self._ids[i] if i >= 0 else None

    # --- neighbours -------------------------------------------------------------------------

    def _type_filter(self, types: str | Iterable[str] | None) -> set[int] | None:
        if types is None:
            return None
        names = {types} if isinstance(types, str) else set(types)
        unknown = names - set(self._type_names)
        if unknown:
            raise ValueError(f"unknown relation type(s): {', '.join(sorted(unknown))}")
        return {self._type_names.index(n) for n in names}

    def children(self, entity_id: str, types: str | Iterable[str] | None = None) -> list[Entity]:
        """Entities this one points at (its dependents), optionally by relation type."""
        keep = self._type_filter(types)
        out = self._graph.out_edges(self.index(entity_id))
        return self._unique([b for _, b, c in out if keep is None or c in keep])

    def parents(self, entity_id: str, types: str | Iterable[str] | None = None) -> list[Entity]:
        """Entities pointing at this one (what it depends on), optionally by relation type."""
        keep = self._type_filter(types)
        out = self._graph.in_edges(self.index(entity_id))
        return self._unique([a for a, _, c in out if keep is None or c in keep])

    def _unique(self, indices: list[int]) -> list[Entity]:
        # rustworkx lists edges newest first; sort for answers that do not depend on that.
        return [self.entity_at(i) for i in sorted(set(indices))]

    def neighbours(self, entity_id: str) -> list[tuple[str, Relation]]:
        """Every relation touching the entity, as ("in" | "out", relation)."""
        i, ids, names = self.index(entity_id), self._ids, self._type_names
        ins = [("in", Relation(ids[a], ids[b], names[c])) for a, b, c in self._graph.in_edges(i)]
        outs = [("out", Relation(ids[a], ids[b], names[c])) for a, b, c in self._graph.out_edges(i)]

        def order(pair: tuple[str, Relation]) -> tuple[str, str, str]:
            return (pair[1].type, pair[1].source, pair[1].target)

        return sorted(ins, key=order) + sorted(outs, key=order)

    # --- propagation ------------------------------------------------------------------------

    def downstream_indices(
        self, entity_id: str, types: str | Iterable[str] | None = None
    ) -> Indices:
        """Everything a fault of the entity reaches along propagating relations (not itself),
        or along the given relation types only."""
        i = self.index(entity_id)
        csr = self._down if types is None else self._csr(types)
        reached = csr.reach(np.array([i], dtype=np.int64))
        reached[i] = False
        return np.flatnonzero(reached)

    def _csr(self, types: str | Iterable[str]) -> _CSR:
        codes = frozenset(self._type_filter(types) or ())
        cached = self._csr_cache.get(codes)
        if cached is None:
            keep = np.isin(self._etype, sorted(codes))
            cached = self._csr_cache[codes] = _CSR(self._src[keep], self._dst[keep], len(self))
        return cached

    def downstream(self, entity_id: str) -> frozenset[str]:
        return frozenset(self.ids_at(self.downstream_indices(entity_id).tolist()))

    def upstream_indices(self, entity_ids: Iterable[str]) -> Indices:
        """Everything whose fault could reach any of the entities. A given entity is included
        only if it is upstream of another one."""
        starts = np.fromiter(map(self.index, entity_ids), np.int64)
        return np.flatnonzero(self._up.reach(starts))

    def upstream(self, entity_ids: Iterable[str]) -> frozenset[str]:
        return frozenset(self.ids_at(self.upstream_indices(entity_ids).tolist()))

    def common_upstream(self, entity_ids: Iterable[str]) -> frozenset[str]:
        """The nearest entities upstream of (or equal to) every given entity.

        A common upstream entity is nearest when none of its dependents is also common: any
        common entity downstream of it would be reached through such a dependent. Entities on
        one cycle count as one.
        """
        common: set[int] | None = None
        for t in dict.fromkeys(entity_ids):
            i = self.index(t)
            reach = set(rx.ancestors(self._prop, i))
            reach.add(i)
            common = reach if common is None else common & reach
            if not common:
                return frozenset()
        if common is None:
            return frozenset()
        succ, scc = self._prop.successor_indices, self._components
        above = {scc[c] for c in common if any(s in common and scc[s] != scc[c] for s in succ(c))}
        return frozenset(self.ids_at(c for c in common if scc[c] not in above))

    @cached_property
    def _components(self) -> list[int]:
        """Strongly connected component of each entity: entities on one cycle (services that
        call each other) are equally near, so none of them hides the others."""
        comp = list(range(len(self._ids)))
        for n, members in enumerate(rx.strongly_connected_components(self._prop)):
            for m in members:
                comp[m] = n
        return comp

    def explain(self, source: str, target: str) -> tuple[Relation, ...] | None:
        """The shortest chain of relations by which a fault of `source` reaches `target`:
        `()` if they are the same entity, None if it does not."""
        a, b = self.index(source), self.index(target)
        if a == b:
            return ()
        paths = rx.digraph_dijkstra_shortest_paths(self._prop, a, target=b)
        return self._chain(list(paths[b])) if b in paths else None

    def explain_all(
        self, source: str, targets: Iterable[str]
    ) -> dict[str, tuple[Relation, ...] | None]:
        """`explain` for many targets from one search: an incident of 10,000 alerts on a
        100,000-GPU fleet explains each of its members from the same cause."""
        a = self.index(source)
        wanted = {t: self.index(t) for t in targets}
        if not any(b != a for b in wanted.values()):
            return dict.fromkeys(wanted, ())
        paths = rx.digraph_dijkstra_shortest_paths(self._prop, a, target=None)
        return {
            t: () if b == a else (self._chain(list(paths[b])) if b in paths else None)
            for t, b in wanted.items()
        }

    def _chain(self, nodes: list[int]) -> tuple[Relation, ...]:
        ids, names = self._ids, self._type_names
        steps = []
        for u, v in itertools.pairwise(nodes):
            code = min(self._prop.get_all_edge_data(u, v))  # deterministic among parallel edges
            steps.append(Relation(ids[u], ids[v], names[code]))
        return tuple(steps)

    # --- jobs and blast radius --------------------------------------------------------------

    def _job_type_codes(self) -> list[int]:
        return [c for c, t in enumerate(self._types.values()) if t.propagation is Propagation.JOB]

    def job_members(self, job_id: str) -> list[Entity]:
        """The GPUs or nodes that host the job."""
        keep = set(self._job_type_codes())
        ins = self._graph.in_edges(self.index(job_id))
        return self._unique([a for a, _, c in ins if c in keep])

    def job_gpu_indices(self, job_id: str) -> Indices:
        """Indices of the GPUs a job runs on: GPU members, and the GPUs inside other members."""
        j = self.index(job_id)
        if self._job_gpus is None:
            self._job_gpus = self._all_job_gpus()
        return self._job_gpus.get(j, np.zeros(0, dtype=np.int64))

    def _all_job_gpus(self) -> dict[int, Indices]:
        hosts = np.isin(self._etype, self._job_type_codes())
        members, jobs = self._src[hosts], self._dst[hosts]
        gpu = self.kind_mask("gpu")
        out: dict[int, Indices] = {}
        order = np.argsort(jobs, kind="stable")
        members, jobs = members[order], jobs[order]
        bounds = np.flatnonzero(np.diff(jobs)) + 1
        for group_jobs, group in zip(
            np.split(jobs, bounds), np.split(members, bounds), strict=True
        ):
            if not len(group):
                continue
            found = group[gpu[group]]
            others = group[~gpu[group]]
            if len(others):  # a node hosting a job lends it every GPU it contains
                inside = self._down.reach(others)
                found = np.union1d(found, np.flatnonzero(inside & gpu))
            out[int(group_jobs[0])] = np.unique(found)
        return out

    def blast_radius(self, entity_id: str) -> BlastRadius:
        i = self.index(entity_id)
        reached = self._down.reach(np.array([i], dtype=np.int64))
        reached[i] = True
        idx = np.flatnonzero(reached)
        counts = np.bincount(self._kinds[idx], minlength=len(self._kind_names))
        by_kind = tuple((k, int(n)) for k, n in zip(self._kind_names, counts, strict=True) if n)
        gpus = reached & self.kind_mask("gpu")
        at_risk = gpus.copy()
        jobs = sorted(self.ids_at(np.flatnonzero(reached & self.kind_mask("job")).tolist()))
        for j in jobs:
            if self.entity(j).is_sync_job:  # a synchronous job stalls on every member
                at_risk[self.job_gpu_indices(j)] = True
        return BlastRadius(
            entity=entity_id,
            entities=len(idx),
            gpus=int(gpus.sum()),
            jobs=tuple(jobs),
            gpu_hours_at_risk_per_hour=float(at_risk.sum()),
            by_kind=by_kind,
        )
