"""Root-cause ranking on small hand-made fleets whose right answers are known."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from fleets import rail_row
from foreshock.diagnose.rank import (
    MISFIT,
    P_BACKGROUND,
    P_DELAYED,
    Symptom,
    rank_causes,
    ranker_for,
)
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


def _signs(name: str) -> frozenset[str]:
    from foreshock.diagnose.signs import alert_signs

    return alert_signs(name, None)


def test_a_gpu_off_the_bus_whose_address_is_unknown_is_found_by_its_silence(
    fleet: Topology,
) -> None:
    # The node's kernel log names a PCI address no series maps; one of its GPUs went silent.
    xid = Symptom("r01n1", 100.0, 1.0, "NodeKernelXid", frozenset({"device"}))
    silent = Symptom("r01n1g1", 101.0, 0.2, "absent", frozenset({"down"}))
    stalls = [
        Symptom(f"r{p}{k}n{n}", 160.0, 1.0, "NCCLWatchdogTimeout", frozenset({"stall"}))
        for p in range(2)
        for k in range(2)
        for n in range(2)
        if f"r{p}{k}n{n}" != "r01n1"
    ]
    monitored = fleet.kind_mask("gpu") | fleet.kind_mask("node")
    causes = rank_causes(fleet, [xid, silent, *stalls], monitored)
    assert causes[0].entity == "r01n1g1"


def test_a_ups_that_warned_before_its_output_dropped_is_not_only_degrading(
    fleet: Topology,
) -> None:
    # On battery at 0; ten minutes later everything it feeds goes down at once.
    symptoms = [Symptom("ups", 0.0, 0.5, "UPSOnBattery", _signs("UPSOnBattery"))]
    symptoms += [
        Symptom(f"r{p}{k}", 600.0, 1.0, "RackPowerLoss", _signs("RackPowerLoss"))
        for p in range(2)
        for k in range(2)
    ]
    symptoms += [
        Symptom(f"r{p}{k}n{n}", 630.0, 1.0, "NodeDown", _signs("NodeDown"))
        for p in range(2)
        for k in range(2)
        for n in range(2)
    ]
    causes = rank_causes(fleet, symptoms, start=-60.0)
    assert causes[0].entity == "ups"


def test_a_stall_explains_a_waiting_member_better_than_one_that_is_down(
    fleet: Topology,
) -> None:
    # The leaf stalls the job: a member that waits is its stall; one that is down is not.
    nics = [
        Symptom(f"r{p}{k}n0nic", 10.0, 1.0, "IBLinkDown", frozenset({"network", "down"}))
        for p in range(2)
        for k in range(2)
    ]
    monitored = fleet.kind_mask("nic") | fleet.kind_mask("node")

    def leaf_llr(member: Symptom) -> float:
        causes = rank_causes(fleet, [*nics, member], monitored, top=30)
        return next(c.llr for c in causes if c.entity == "leaf")

    waiting = Symptom("r11n1", 100.0, 1.0, "NCCLWatchdogTimeout", frozenset({"stall"}))
    down = Symptom("r11n1", 100.0, 1.0, "NodeDown", frozenset({"down"}))
    assert leaf_llr(waiting) > leaf_llr(down) + 2


def test_a_ups_whose_only_load_is_the_lost_pdu_is_not_blamed_for_it() -> None:
    # The UPS meters the PDU's draw: when the PDU trips, the UPS's output reads zero too.
    e = [Entity("feed", "utility_feed"), Entity("ups", "ups"), Entity("pdu", "pdu")]
    r = [Relation("feed", "ups", "powers"), Relation("ups", "pdu", "powers")]
    for k in range(3):
        e.append(Entity(f"r{k}", "rack"))
        r.append(Relation("pdu", f"r{k}", "powers"))
        for n in range(2):
            e.append(Entity(f"r{k}n{n}", "node"))
            r.append(Relation(f"r{k}", f"r{k}n{n}", "contains"))
    topo = Topology(e, r)
    outage = [Symptom(f"r{k}n{n}", 100.0, 1.0, "NodeDown", _signs("NodeDown")) for k in range(3)
              for n in range(2)]  # fmt: skip
    outage.append(Symptom("pdu", 110.0, 1.0, "PDUOutputLoss", _signs("PDUOutputLoss")))
    zero = Symptom("ups", 110.0, 1.0, "UPSOutputLoss", _signs("UPSOutputLoss"))
    causes = rank_causes(topo, [*outage, zero], start=40.0)
    assert causes[0].entity == "pdu"
    assert causes[0].explains == len(outage) + 1
    # A UPS that first ran on battery failed itself: its own warning is no load's doing.
    battery = Symptom("ups", 0.0, 1.0, "UPSOnBattery", _signs("UPSOnBattery"))
    assert rank_causes(topo, [battery, *outage, zero], start=-60.0)[0].entity == "ups"


def test_a_slowdown_that_began_before_a_gpu_erred_is_not_that_gpus(fleet: Topology) -> None:
    # The straggler's clock sagged first and the job slowed a minute later; another GPU of
    # the job logged correctable errors a quarter of an hour after that.
    clock = Symptom("r00n0g0", 0.0, 0.1, "DCGM_FI_DEV_SM_CLOCK")
    slow = Symptom("job", 60.0, 0.5, "JobSlow", _signs("JobSlow"))
    ecc = Symptom("r11n1g1", 840.0, 0.5, "GPUEccSingleBitRate", _signs("GPUEccSingleBitRate"))
    monitored = fleet.kind_mask("gpu") | fleet.kind_mask("job")
    causes = rank_causes(fleet, [clock, slow, ecc], monitored, start=-60.0)
    assert causes[0].entity == "r00n0g0"


def test_a_warning_from_before_the_incident_does_not_make_its_part_the_cause(
    fleet: Topology,
) -> None:
    # A storage slows the job; a GPU of the job had been warning for ten minutes already.
    topo = Topology(
        [*fleet.entities(), Entity("nfs", "storage")],
        [*fleet.relations(), Relation("nfs", "job", "serves")],
    )
    old = Symptom("r00n0g0", -650.0, 0.5, "GPUEccSingleBitRate", _signs("GPUEccSingleBitRate"))
    slow = Symptom("job", 70.0, 0.5, "JobSlow", _signs("JobSlow"))
    latency = Symptom("nfs", 200.0, 0.5, "StorageLatencyHigh", _signs("StorageLatencyHigh"))
    monitored = topo.kind_mask("gpu") | topo.kind_mask("job") | topo.kind_mask("storage")
    causes = rank_causes(topo, [old, slow, latency], monitored, start=10.0, top=10)
    ranks = [c.entity for c in causes]
    assert ranks.index("nfs") < ranks.index("r00n0g0")


def room(nodes: int = 4, gpus: int = 8, nics: int = 0) -> Topology:
    """A room unit (`crah`) cooling one `rack` of nodes `n0`…, each holding GPUs `n0g0`… and
    NICs `n0nic0`…."""
    e = [Entity("crah", "crah"), Entity("rack", "rack")]
    r = [Relation("crah", "rack", "cools")]
    for n in range(nodes):
        e.append(Entity(f"n{n}", "node"))
        r.append(Relation("rack", f"n{n}", "contains"))
        e += [Entity(f"n{n}g{g}", "gpu") for g in range(gpus)]
        e += [Entity(f"n{n}nic{k}", "nic") for k in range(nics)]
        r += [Relation(f"n{n}", f"n{n}g{g}", "contains") for g in range(gpus)]
        r += [Relation(f"n{n}", f"n{n}nic{k}", "contains") for k in range(nics)]
    return Topology(e, r)


def test_parts_that_cannot_show_heat_do_not_speak_against_a_cooling_unit() -> None:
    """A room unit cools a rack of four nodes, each with four GPUs and eight NICs. Its supply
    air warms, then the GPUs of a hot spot alarm. The quiet NICs and nodes have no
    thermometer: their silence says nothing about the room; only the quiet GPUs' does."""
    topo = room(nodes=4, gpus=4, nics=8)
    heat = frozenset({"thermal"})
    symptoms = [Symptom("crah", 0.0, 0.2, "SupplyAirTemperature", heat)]
    hot = ["n1g0", "n1g1", "n1g2", "n1g3", "n3g0", "n3g2"]
    symptoms += [
        Symptom(g, 300.0 + 40 * i, 0.5, "GPUHighTemperature", heat) for i, g in enumerate(hot)
    ]
    observable = topo.kind_mask("gpu") | topo.kind_mask("nic") | topo.kind_mask("node")
    causes = rank_causes(topo, symptoms, observable | topo.kind_mask("crah"), start=-60.0)
    assert causes[0].entity == "crah"
    assert causes[0].explains == 7


def _warned_room(topo: Topology, gpu_alert: Symptom, warns: bool) -> list[str]:
    """The room unit's trend raised a prediction twenty minutes before the incident (weak on
    its own: a fifth of an alert); then one GPU of 64 alarmed, twelve minutes in."""
    heat = frozenset({"thermal"})
    warning = Symptom("crah", -60.0, 0.1, "SupplyAirTemperature", heat, warns)
    observable = topo.kind_mask("gpu") | topo.kind_mask("crah")
    causes = rank_causes(topo, [warning, gpu_alert], observable, start=-60.0, top=5)
    if causes[0].entity == "crah" and warns:
        assert any("warned" in e for e in causes[0].evidence)
    return [c.entity for c in causes]


def test_a_room_unit_whose_warning_came_true_is_the_cause_though_most_gpus_stay_cool() -> None:
    # The room's air warms over tens of minutes: twelve minutes in, 63 quiet GPUs say little,
    # and the unit's prediction that its parts would run hot has just come true.
    hot = Symptom("n3g5", 720.0, 0.5, "GPUHighTemperature", frozenset({"thermal"}))
    topo = room(nodes=8)
    assert _warned_room(topo, hot, warns=True)[0] == "crah"
    # The same trend reported as a mere anomaly, not a prediction, does not carry it.
    assert _warned_room(topo, hot, warns=False)[0] == "n3g5"


def test_a_warning_of_heat_does_not_explain_a_memory_error() -> None:
    ecc = Symptom("n3g5", 720.0, 0.5, "GPUEccSingleBitRate", frozenset({"device"}))
    assert _warned_room(room(nodes=8), ecc, warns=True)[0] == "n3g5"


def test_nodes_that_report_their_job_waiting_were_not_taken_by_power(fleet: Topology) -> None:
    """A NIC's link drops and, in the same scrape, four nodes of its job report their
    collectives timing out. A UPS would explain all five at once, but what power takes goes
    down: a node that reports waiting is up."""
    link = Symptom("r00n0nic", 100.0, 1.0, "IBLinkDown", _signs("IBLinkDown"))
    waits = [
        Symptom(x, 100.0, 0.5, "NCCLWatchdogTimeout", _signs("NCCLWatchdogTimeout"))
        for x in ("r01n0", "r01n1", "r10n0", "r11n1")
    ]
    monitored = fleet.kind_mask("nic") | fleet.kind_mask("node")
    # Live, in that scrape: nothing has had time to stay quiet yet.
    causes = ranker_for(fleet).rank([link, *waits], monitored, start=40.0, now=100.0)
    assert causes[0].entity != "ups"


def test_alerts_that_name_no_trouble_are_not_pinned_on_a_cooling_unit() -> None:
    """Two nodes of a room report clock skew a minute apart, live. Lost cooling shows as
    heat first: with nothing hot, the room unit explains neither, however cheap the silence
    of its parts is while the air would still be warming."""
    topo = room(nodes=16)
    skews = [Symptom(f"n{k}", 100.0 + 60 * k, 0.5, "NodeClockSkewDetected") for k in (0, 1)]
    observable = topo.kind_mask("gpu") | topo.kind_mask("node")
    causes = ranker_for(topo).rank(skews, observable, start=40.0, now=200.0, top=10)
    score = {c.entity: c.score for c in causes}
    assert score.get("crah", 0.0) < 0.05
    assert causes[0].entity in {"n0", "n1"}


def test_parts_of_nodes_down_in_another_incident_do_not_speak_against_their_power(
    fleet: Topology,
) -> None:
    """The UPS goes on battery, then its output drops: PDU 0's racks and nodes alert in this
    incident, PDU 1's nodes went down into another. Those nodes' GPUs and NICs are silent
    because their nodes are down, which says nothing against the UPS."""
    symptoms = [Symptom("ups", 0.0, 1.0, "UPSOutputLoss", _signs("UPSOutputLoss"))]
    symptoms += [
        Symptom(f"r0{k}", 5.0, 1.0, "RackPowerLoss", _signs("RackPowerLoss")) for k in (0, 1)
    ]
    symptoms += [
        Symptom(f"r0{k}n{n}", 30.0, 1.0, "NodeDown", _signs("NodeDown"))
        for k in (0, 1)
        for n in (0, 1)
    ]
    elsewhere = [f"r1{k}n{n}" for k in (0, 1) for n in (0, 1)] + ["r10", "r11"]
    busy = np.zeros(len(fleet), dtype=bool)
    busy[[fleet.index(e) for e in elsewhere]] = True
    monitored = fleet.kind_mask("gpu") | fleet.kind_mask("node") | fleet.kind_mask("nic")
    ranker = ranker_for(fleet)

    def ups(dark: bool) -> float:
        causes = ranker.rank(
            symptoms,
            monitored,
            top=10,
            start=-60.0,
            now=600.0,
            busy=busy,
            dark_elsewhere=busy if dark else None,
        )
        return next(c.llr for c in causes if c.entity == "ups")

    assert ups(dark=True) > ups(dark=False)
    causes = ranker.rank(
        symptoms, monitored, top=3, start=-60.0, now=600.0, busy=busy, dark_elsewhere=busy
    )
    assert causes[0].entity == "ups"


def test_power_is_not_blamed_for_one_link_per_node_while_their_siblings_stay_up() -> None:
    """NIC 1 of every node drops its link in one scrape. Live, nothing has had time to stay
    quiet yet, but the other NIC of each node is reported by the same exporter in the same
    scrape: had the UPS failed, it would be down too. The rail's leaf switch is the cause."""
    topo = rail_row()
    links = [
        Symptom(f"r{k}n{n}nic1", 100.0, 1.0, "IBLinkDown", _signs("IBLinkDown"))
        for k in range(2)
        for n in range(2)
    ]
    observable = topo.kind_mask("nic") | topo.kind_mask("gpu")
    causes = ranker_for(topo).rank(links, observable, start=40.0, now=100.0)
    assert causes[0].entity == "leaf1"
    # Every NIC of every node going down at once is an outage, whatever the scrape.
    every = links + [replace(s, entity=s.entity[:-1] + "0") for s in links]
    outage = ranker_for(topo).rank(every, observable, start=40.0, now=100.0, top=10)
    assert outage[0].entity == "ups"


def test_a_link_that_drops_in_a_warm_row_counts_little_for_its_cooling() -> None:
    """The racks' coolant runs hot and the GPUs of one rack go dark (thermal shutdowns seen
    only as their metrics vanishing, one in each node); at the same time NIC 1 of every node
    drops its link.
    The dark GPUs sit in a hot enclosure and are the CDU's doing; the links showed no heat,
    so they add no more to the CDU than a misfit does."""
    topo = rail_row()
    heat = _signs("RackReturnTemperatureHigh")
    symptoms = [Symptom(f"r{k}", 0.0, 1.0, "RackReturnTemperatureHigh", heat) for k in range(2)]
    symptoms += [
        Symptom(f"r{k}n{n}g0", 600.0, 1.0, "GPUMetricsAbsent", _signs("GPUMetricsAbsent"))
        for k in range(2)
        for n in range(2)
    ]
    links = [
        Symptom(f"r{k}n{n}nic1", 600.0, 1.0, "IBLinkDown", _signs("IBLinkDown"))
        for k in range(2)
        for n in range(2)
    ]
    observable = topo.kind_mask("nic") | topo.kind_mask("gpu") | topo.kind_mask("rack")
    ranker = ranker_for(topo)

    def cdu(symptoms: list[Symptom]) -> float:
        causes = ranker.rank(symptoms, observable, start=-60.0, top=20)
        return next(c.llr for c in causes if c.entity == "cdu")

    assert ranker.rank(symptoms, observable, start=-60.0)[0].entity == "cdu"
    gain = cdu(symptoms + links) - cdu(symptoms)
    full = math.log(P_DELAYED / P_BACKGROUND)  # what a link that fits would add
    quiet = -math.log((1 - P_DELAYED) / (1 - P_BACKGROUND))  # a quiet NIC's cost, now gone
    assert gain <= len(links) * (MISFIT * full + quiet) + 1e-6
    assert ranker.rank(links, observable, start=540.0)[0].entity == "leaf1"
