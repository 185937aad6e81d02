"""The fast queries agree with the plain definitions on random fleets."""

from __future__ import annotations

import itertools
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from foreshock.model import Entity, Relation
from foreshock.topology import Topology

TYPES = ("contains", "powers", "cools", "connects", "serves")


@st.composite
def graphs(draw: st.DrawFn) -> tuple[Topology, dict[str, set[str]]]:
    n = draw(st.integers(1, 25))
    ids = [f"e{i}" for i in range(n)]
    edges = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from(TYPES)),
            max_size=60,
        )
    )
    # `contains` must stay acyclic: only from lower to higher index.
    kept = [(a, b, t) for a, b, t in edges if t != "contains" or a < b]
    topo = Topology(
        [Entity(i, "gpu" if k % 3 else "node") for k, i in enumerate(ids)],
        [Relation(ids[a], ids[b], t) for a, b, t in kept],
    )
    adj: dict[str, set[str]] = {i: set() for i in ids}
    for a, b, _ in kept:
        adj[ids[a]].add(ids[b])
    return topo, adj


def reach(adj: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    queue = deque(adj[start])
    while queue:
        x = queue.popleft()
        if x not in seen:
            seen.add(x)
            queue.extend(adj[x])
    return seen


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_downstream_and_upstream_match_breadth_first_search(
    case: tuple[Topology, dict[str, set[str]]],
) -> None:
    topo, adj = case
    for e in adj:
        assert topo.downstream(e) == reach(adj, e) - {e}
        assert topo.upstream([e]) == {a for a in adj if e in reach(adj, a)}


@settings(max_examples=150, deadline=None)
@given(graphs(), st.data())
def test_common_upstream_is_common_and_nearest(
    case: tuple[Topology, dict[str, set[str]]], data: st.DataObject
) -> None:
    topo, adj = case
    targets = data.draw(st.lists(st.sampled_from(sorted(adj)), min_size=1, max_size=4))
    common = {a for a in adj if all(t == a or t in reach(adj, a) for t in targets)}
    nearest = topo.common_upstream(targets)
    assert nearest <= common
    for c in nearest:
        # Nothing common lies strictly below c (beyond c's own cycle).
        below = {d for d in reach(adj, c) & common if c not in reach(adj, d)}
        assert not below
    # Every common entity is a nearest one or lies above one.
    for c in common:
        assert c in nearest or reach(adj, c) & nearest


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_explain_is_a_real_chain_of_relations(case: tuple[Topology, dict[str, set[str]]]) -> None:
    topo, adj = case
    for a in adj:
        for b in adj:
            chain = topo.explain(a, b)
            if a == b:
                assert chain == ()
            elif b in reach(adj, a):
                assert chain is not None
                assert chain[0].source == a
                assert chain[-1].target == b
                for step, nxt in itertools.pairwise(chain):
                    assert step.target == nxt.source
                    assert step.target in adj[step.source]
            else:
                assert chain is None
        # One search from `a` explains every target as one search per target would.
        assert topo.explain_all(a, adj) == {b: topo.explain(a, b) for b in adj}
