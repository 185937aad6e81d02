"""Small hand-made fleets that tests of several stages share."""

from __future__ import annotations

from foreshock.model import Entity, Relation
from foreshock.topology import Topology


def rail_row() -> Topology:
    """A UPS powers and a CDU cools two racks of two nodes, each node with four GPUs and two
    NICs: NIC 0 of every node on leaf 0, NIC 1 on leaf 1 (a rail-optimised fabric)."""
    e = [Entity("ups", "ups"), Entity("cdu", "cdu"), Entity("leaf0", "switch")]
    e.append(Entity("leaf1", "switch"))
    r = []
    for k in range(2):
        e.append(Entity(f"r{k}", "rack"))
        r += [Relation("ups", f"r{k}", "powers"), Relation("cdu", f"r{k}", "cools")]
        for n in range(2):
            node = f"r{k}n{n}"
            e.append(Entity(node, "node"))
            r.append(Relation(f"r{k}", node, "contains"))
            e += [Entity(f"{node}g{g}", "gpu") for g in range(4)]
            r += [Relation(node, f"{node}g{g}", "contains") for g in range(4)]
            for p in range(2):
                e.append(Entity(f"{node}nic{p}", "nic"))
                r.append(Relation(node, f"{node}nic{p}", "contains"))
                r.append(Relation(f"leaf{p}", f"{node}nic{p}", "connects"))
    return Topology(e, r)
