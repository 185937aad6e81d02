"""Root-cause ranking on small hand-made fleets whose right answers are known."""

from __future__ import annotations

import pytest

from foreshock.diagnose.rank import Symptom, rank_causes
from foreshock.model import Entity, Relation
from foreshock.topology import Topology


@pytest.fixture
def fleet() -> Topology:
    """Two PDUs each feed two racks of two nodes with two GPUs; a leaf cables every node's NIC;
    one synchronous job spans every GPU."""
    e = [Entity("ups", "ups"), Entity("leaf", "switch"), Entity("job", "job", {"sync": "true"})]
    r = []
    for p in range(2):
        e.append(Entity(f"pdu{p}", "pdu"))
        r.append(Relation("ups", f"pdu{p}", "powers"))
        for k in range(2):
            rack = f"r{p}{k}"
            e.append(Entity(rack, "rack"))
            r.append(Relation(f"pdu{p}", rack, "powers"))
            for n in range(2):
                node = f"{rack}n{n}"
                e += [Entity(node, "node"), Entity(f"{node}nic", "nic")]
                r += [
                    Relation(rack, node, "contains"),
                    Relation(node, f"{node}nic", "contains"),
                    Relation("leaf", f"{node}nic", "connects"),
                ]
                for g in range(2):
                    gpu = f"{node}g{g}"
                    e.append(Entity(gpu, "gpu"))
                    r += [Relation(node, gpu, "contains"), Relation(gpu, "job", "hosts")]
    return Topology(e, r)


def test_a_power_loss_is_blamed_on_the_pdu_not_the_ups(fleet: Topology) -> None:
    down = [f"r0{k}n{n}" for k in range(2) for n in range(2)]
    symptoms = [Symptom(x, 100.0, 1.0, "NodeDown") for x in down]
    symptoms += [Symptom(f"r0{k}", 95.0, 1.0, "RackPowerLoss") for k in range(2)]
    causes = rank_causes(fleet, symptoms)
    assert causes[0].entity == "pdu0"
    assert causes[0].explains == 6
    assert any("no telemetry of its own" in ev or "no alert" in ev for ev in causes[0].evidence)


def test_a_switch_without_telemetry_is_inferred_from_its_links(fleet: Topology) -> None:
    nics = [f"r{p}{k}n{n}nic" for p in range(2) for k in range(2) for n in range(2)]
    # The nodes are monitored and quiet: power, which would take them too, is ruled out.
    monitored = fleet.kind_mask("nic") | fleet.kind_mask("node")
    causes = rank_causes(fleet, [Symptom(x, 10.0, 1.0, "IBLinkDown") for x in nics], monitored)
    assert causes[0].entity == "leaf"
    assert "no telemetry of its own: inferred from what it reaches" in causes[0].evidence


def test_the_failing_gpu_stands_out_from_its_stalled_job(fleet: Topology) -> None:
    symptoms = [Symptom("r01n1g0", 50.0, 1.0, "GPUXidError")]
    # Every node of the synchronous job then times out in its collectives.
    symptoms += [
        Symptom(f"r{p}{k}n{n}", 80.0, 1.0, "NCCLWatchdogTimeout")
        for p in range(2)
        for k in range(2)
        for n in range(2)
    ]
    causes = rank_causes(fleet, symptoms, start=40.0)
    assert causes[0].entity == "r01n1g0"


def test_nothing_to_explain() -> None:
    topo = Topology([Entity("a", "gpu")], [])
    assert rank_causes(topo, []) == []
    assert rank_causes(topo, [Symptom("elsewhere", 1.0)]) == []
