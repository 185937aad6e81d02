"""Correlation on a small hand-made fleet whose right answers are known."""

from __future__ import annotations

import pytest

from fleets import rail_row
from foreshock.correlate import Correlator, correlate
from foreshock.model import Alert, Entity, Finding, Relation, fingerprint
from foreshock.topology import Topology


@pytest.fixture
def fleet() -> Topology:
    """A UPS feeds two PDUs, each two racks of two nodes with two GPUs and a NIC on one leaf;
    synchronous job A runs on PDU 0's GPUs, job B on PDU 1's."""
    e = [Entity("ups", "ups"), Entity("leaf", "switch")]
    e += [Entity("jobA", "job", {"sync": "true"}), Entity("jobB", "job", {"sync": "true"})]
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
                    r += [
                        Relation(node, gpu, "contains"),
                        Relation(gpu, "jobA" if p == 0 else "jobB", "hosts"),
                    ]
    return Topology(e, r)


def alert(
    name: str,
    entity: str,
    at: float,
    end: float | None = None,
    severity: str = "critical",
    **extra: str,
) -> Alert:
    labels = {"alertname": name, "entity": entity, "severity": severity, **extra}
    return Alert(
        fingerprint(labels),
        labels,
        {},
        at,
        end,
        status="resolved" if end else "firing",
        entity=entity,
    )


def pdu_storm(at: float = 1000.0) -> list[Alert]:
    out = [alert("PDUOutputLoss", "pdu0", at)]
    out += [alert("RackPowerLoss", f"r0{k}", at) for k in range(2)]
    out += [alert("NodeDown", f"r0{k}n{n}", at + 30) for k in range(2) for n in range(2)]
    out += [alert("JobStalled", "jobA", at + 90)]
    return out


def test_a_power_storm_is_one_incident_about_the_pdu(fleet: Topology) -> None:
    incidents = correlate(fleet, pdu_storm())
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc.root_causes[0].entity == "pdu0"
    assert len(inc.alerts) == 8
    # Every alert but the PDU's own is a symptom of it, and says how the fault got there.
    assert len(inc.suppressed) == 7
    reasons = {s.because for s in inc.suppressed}
    assert "symptom of pdu0 (powers r00)" in reasons
    assert all(s.cause == "pdu0" for s in inc.suppressed)
    assert inc.blast_radius is not None
    assert inc.blast_radius.gpus == 8
    assert [a.step for a in inc.actions][:1] == ["notify"]


def test_every_alert_is_in_exactly_one_incident_and_duplicates_collapse(fleet: Topology) -> None:
    storm = pdu_storm()
    noise = [alert("NodeClockSkew", "r10n1", 500.0, severity="warning")]
    incidents = correlate(fleet, storm + storm[:3] + noise)
    members = [fp for inc in incidents for fp in inc.alerts]
    assert sorted(members) == sorted({a.fingerprint for a in storm + noise})
    assert len(incidents) == 2


def test_two_overlapping_independent_faults_stay_apart(fleet: Topology) -> None:
    storm = pdu_storm(1000.0)
    # Meanwhile a GPU under the other PDU fails and its own job stalls.
    gpu = [alert("GPUXidError", "r11n0g1", 1010.0, xid="48")]
    gpu += [alert("NCCLWatchdogTimeout", f"r1{k}n{n}", 1080.0) for k in range(2) for n in range(2)]
    gpu += [alert("JobStalled", "jobB", 1090.0)]
    incidents = correlate(fleet, storm + gpu)
    by_root = {i.root_causes[0].entity: i for i in incidents}
    assert set(by_root) == {"pdu0", "r11n0g1"}
    assert set(by_root["r11n0g1"].alerts) == {a.fingerprint for a in gpu}
    assert [a.step for a in by_root["r11n0g1"].actions][:2] == ["drain", "gpu_reset"]
    assert "XID 48" in by_root["r11n0g1"].actions[0].why


def test_streaming_one_by_one_gives_the_batch_result(fleet: Topology) -> None:
    alerts = [*pdu_storm(1000.0), alert("GPUXidError", "r11n0g1", 1010.0, xid="79")]
    alerts += [alert("NodeClockSkew", "r10n1", 3000.0, severity="warning")]
    batch = [i.to_json() for i in correlate(fleet, alerts)]
    live = Correlator(fleet)
    for a in sorted(alerts, key=lambda a: (a.starts_at, a.fingerprint)):
        live.feed([a])
        live.incidents()  # the service renders as it goes; that must not change decisions
    assert [i.to_json() for i in live.incidents()] == batch


def test_racks_that_alerted_first_merge_into_the_pdu_incident(fleet: Topology) -> None:
    """The racks' alerts arrive before anything names the PDU: they first look like two
    problems, then become one when the PDU explains both."""
    alerts = [alert("RackPowerLoss", f"r0{k}", 1000.0 + k) for k in range(2)]
    alerts += [alert("NodeDown", f"r0{k}n{n}", 1040.0) for k in range(2) for n in range(2)]
    incidents = correlate(fleet, alerts)
    assert len(incidents) == 1
    assert incidents[0].root_causes[0].entity == "pdu0"


def test_an_incident_resolves_when_all_its_alerts_have(fleet: Topology) -> None:
    live = Correlator(fleet)
    storm = pdu_storm()
    changed = live.feed(storm)
    assert changed == ["inc-1"]
    assert live.incidents()[0].status == "open"
    resolved = [
        alert(a.labels["alertname"], a.labels["entity"], a.starts_at, 2000.0) for a in storm
    ]
    assert live.feed(resolved[:-1]) == ["inc-1"]
    assert live.incidents()[0].status == "open"
    live.feed(resolved[-1:])
    inc = live.incidents()[0]
    assert inc.status == "resolved"
    assert inc.end == 2000.0


def test_unmapped_alerts_group_by_name_and_never_join_mapped_ones(fleet: Topology) -> None:
    def stray(n: int) -> Alert:
        labels = {"alertname": "SomethingElse", "instance": f"x{n}"}
        return Alert(fingerprint(labels), labels, {}, 1000.0 + n)

    incidents = correlate(fleet, [*pdu_storm(), stray(1), stray(2)])
    stray_incidents = [i for i in incidents if not i.entities]
    assert len(stray_incidents) == 1
    assert len(stray_incidents[0].alerts) == 2
    assert stray_incidents[0].root_causes == ()


def test_a_gpu_alert_in_a_stalled_job_does_not_swallow_the_job_s_storm(
    fleet: Topology,
) -> None:
    # The leaf fails and stalls both jobs; later one GPU of job A reports its own ECC error.
    storm = [
        alert("IBLinkDown", f"r{p}{k}n{n}nic", 100.0)
        for p in range(2)
        for k in range(2)
        for n in range(2)
    ]
    storm += [alert("JobStalled", job, 190.0) for job in ("jobA", "jobB")]
    storm += [
        alert("NCCLWatchdogTimeout", f"r{p}{k}n{n}", 200.0)
        for p in range(2)
        for k in range(2)
        for n in range(2)
    ]
    ecc = alert("GPUEccDoubleBitError", "r01n1g0", 400.0)
    incidents = correlate(fleet, [*storm, ecc])
    leaf = next(i for i in incidents if i.root_causes and i.root_causes[0].entity == "leaf")
    assert len(leaf.alerts) == len(storm)
    own = next(i for i in incidents if ecc.fingerprint in i.alerts)
    assert own.id != leaf.id
    assert own.root_causes[0].entity == "r01n1g0"


def test_a_rack_that_failed_minutes_before_its_ups_stays_its_own_incident(
    fleet: Topology,
) -> None:
    """Rack r00 leaks and loses power; five minutes later the UPS behind every rack fails.
    The UPS reaches r00, but what power takes goes at once: r00, dark well before the UPS
    showed anything, had another cause and is not swallowed by the outage."""
    leak = [alert("RackLeak", "r00", 1000.0), alert("RackPowerLoss", "r00", 1000.0)]
    leak += [alert("NodeDown", f"r00n{n}", 1030.0) for n in range(2)]
    outage = [alert("UPSOutputLoss", "ups", 1300.0)]
    outage += [alert("PDUOutputLoss", f"pdu{p}", 1300.0) for p in range(2)]
    outage += [alert("RackPowerLoss", r, 1300.0) for r in ("r01", "r10", "r11")]
    outage += [
        alert("NodeDown", f"{r}n{n}", 1330.0) for r in ("r01", "r10", "r11") for n in range(2)
    ]
    incidents = correlate(fleet, leak + outage)
    assert len(incidents) == 2
    by_root = {i.root_causes[0].entity: set(i.alerts) for i in incidents}
    assert by_root == {
        "r00": {a.fingerprint for a in leak},
        "ups": {a.fingerprint for a in outage},
    }


def test_a_rack_that_loses_power_is_not_the_doing_of_one_of_its_nodes(
    fleet: Topology,
) -> None:
    """A node's power supply sags (its GPUs brake); two minutes later its rack loses power.
    The node's log would report its GPUs' errors, but the rack going dark is not the node's
    doing: it stays apart from the node's incident."""
    psu = [alert("GPUPowerBrake", f"r00n0g{g}", 1000.0, severity="warning") for g in range(2)]
    rack = [alert("RackPowerLoss", "r00", 1120.0), alert("NodeDown", "r00n1", 1150.0)]
    incidents = correlate(fleet, psu + rack)
    groups = sorted((set(i.alerts) for i in incidents), key=len)
    assert groups == [{a.fingerprint for a in psu}, {a.fingerprint for a in rack}]


def test_a_stall_that_fires_again_for_another_fault_joins_that_fault(fleet: Topology) -> None:
    """Job A stalls when one of its GPUs fails, recovers, and stalls again an hour later when
    the leaf switch fails. The second firing of the same stall alerts belongs to the leaf."""
    gpu = [alert("GPUXidError", "r00n0g0", 1000.0, xid="48")]
    nodes = [f"r0{k}n{n}" for k in range(2) for n in range(2)]
    first = [alert("NCCLWatchdogTimeout", n, 1060.0, end=1300.0) for n in nodes]
    links = [
        alert("IBLinkDown", f"r{p}{k}n{n}nic", 4000.0)
        for p in range(2)
        for k in range(2)
        for n in range(2)
    ]
    again = [alert("NCCLWatchdogTimeout", n, 4060.0) for n in nodes]
    assert {a.fingerprint for a in again} == {a.fingerprint for a in first}
    c = Correlator(fleet)
    c.feed([*gpu, *first, *links, *again])
    by_root = {i.root_causes[0].entity: i for i in c.incidents()}
    assert set(by_root) == {"r00n0g0", "leaf"}
    leaf = {
        (m.entity, m.start)
        for g in c.groups
        for m in g.members.values()
        if g.causes and g.causes[0].entity == "leaf"
    }
    assert {(n, 4060.0) for n in nodes} <= leaf
    assert not {(n, 1060.0) for n in nodes} & leaf
    # Both firings are listed, each with its incident.
    assert set(by_root["leaf"].alerts) >= {a.fingerprint for a in again}
    assert set(by_root["r00n0g0"].alerts) >= {a.fingerprint for a in first}


def test_an_alert_that_fires_again_while_its_cause_lasts_stays_in_its_incident() -> None:
    """A CDU loses flow and the GPUs of its rack run hot; one throttles, cools a little and
    throttles again half an hour later, while the CDU is still down: one incident, not two."""
    topo = cooled_fleet()
    storm = [alert("CDUFlowLow", "cdu", 1000.0)]
    storm += [alert("GPUHighTemperature", f"g{g}", 1200.0 + 20 * g) for g in range(4)]
    flap = [
        alert("GPUThermalThrottle", "g0", 1300.0, end=1500.0),
        alert("GPUThermalThrottle", "g0", 3300.0),
    ]
    incidents = correlate(topo, storm + flap)
    assert len(incidents) == 1
    assert incidents[0].root_causes[0].entity == "cdu"


def test_what_power_takes_and_fails_again_later_had_another_cause(fleet: Topology) -> None:
    """A node that came back while its PDU's outage lasts, and went down again half an hour
    later, was not failed by the PDU the second time."""
    storm = [a for a in pdu_storm(1000.0) if a.labels["entity"] != "r00n0"]
    first = alert("NodeDown", "r00n0", 1030.0, end=1200.0)
    again = alert("NodeDown", "r00n0", 3000.0)
    c = Correlator(fleet)
    c.feed([*storm, first, again])
    incidents = c.incidents()
    assert len(incidents) == 2
    pdu = next(i for i in incidents if i.root_causes[0].entity == "pdu0")
    assert first.fingerprint in pdu.alerts
    other = next(i for i in incidents if i is not pdu)
    assert other.alerts == (again.fingerprint,)


def test_a_gpu_fault_whose_stalls_a_power_loss_also_reaches_stays_apart(
    fleet: Topology,
) -> None:
    """A GPU of job A fails and the job stalls; half a minute later PDU 0, behind every node
    of the job, loses power. The power loss reaches the stalled nodes, but not the GPU's XID:
    the GPU's incident is not absorbed into the outage. (The job's own stall alert, after
    both, is either's.)"""
    gpu = [alert("GPUXidError", "r00n0g0", 1000.0, xid="48")]
    gpu += [alert("NCCLWatchdogTimeout", f"r0{k}n{n}", 1100.0) for k in range(2) for n in range(2)]
    dark = [alert("IBLinkDown", f"r0{k}n{n}nic", 1250.0) for k in range(2) for n in range(2)]
    storm = pdu_storm(1130.0)
    incidents = correlate(fleet, gpu + storm + dark)
    xid = gpu[0].fingerprint
    own = next(i for i in incidents if xid in i.alerts)
    assert own.root_causes[0].entity == "r00n0g0"
    stalled = {a.fingerprint for a in storm if a.labels["alertname"] == "JobStalled"}
    assert {a.fingerprint for a in gpu} <= set(own.alerts) <= {a.fingerprint for a in gpu} | stalled
    assert any(i.root_causes[0].entity == "pdu0" and xid not in i.alerts for i in incidents)


def test_a_part_power_spared_that_fails_later_is_not_the_outage(fleet: Topology) -> None:
    """PDU 0 fails and takes its racks at once; its NIC r00n0nic showed nothing. Thirteen
    minutes later, while the outage still alerts, that NIC's link goes down: what power
    takes goes at once, so this is another fault."""
    storm = [*pdu_storm(1000.0), alert("PDUInputVoltageLow", "pdu0", 1500.0)]
    late = alert("IBLinkDown", "r00n0nic", 1800.0)
    incidents = correlate(fleet, [*storm, late])
    pdu = next(i for i in incidents if i.root_causes[0].entity == "pdu0")
    assert set(pdu.alerts) == {a.fingerprint for a in storm}
    assert any(i.alerts == (late.fingerprint,) for i in incidents)


def test_a_warning_that_comes_and_goes_is_one_incident(fleet: Topology) -> None:
    """A NIC's symbol-error warning fires, resolves and fires again every twenty minutes,
    and once more three hours later: one problem, not one incident per firing."""
    flaps = [
        alert("IBSymbolErrors", "r10n0nic", 1000.0 + 1200 * k, end=1300.0 + 1200 * k)
        for k in range(4)
    ]
    flaps.append(alert("IBSymbolErrors", "r10n0nic", 4900.0 + 3 * 3600))  # hours later
    incidents = correlate(fleet, flaps)
    assert len(incidents) == 1
    assert incidents[0].alerts == (flaps[0].fingerprint,)


def cooled_fleet() -> Topology:
    """A CDU cools two racks, each one node with two GPUs and a NIC on one leaf."""
    e, r = [Entity("cdu", "cdu"), Entity("leaf", "switch")], []
    for k in range(2):
        e += [Entity(f"r{k}", "rack"), Entity(f"n{k}", "node"), Entity(f"n{k}nic", "nic")]
        r += [Relation("cdu", f"r{k}", "cools"), Relation(f"r{k}", f"n{k}", "contains")]
        r += [Relation(f"n{k}", f"n{k}nic", "contains"), Relation("leaf", f"n{k}nic", "connects")]
        e += [Entity(f"g{2 * k + g}", "gpu") for g in range(2)]
        r += [Relation(f"n{k}", f"g{2 * k + g}", "contains") for g in range(2)]
    return Topology(e, r)


def test_a_link_that_drops_while_the_room_runs_hot_is_not_the_cooling() -> None:
    """Lost cooling heats, then throttles, then shuts down: a NIC whose link drops amid a CDU's
    storm, having shown no heat, failed for another reason."""
    storm = [alert("CDUFlowLow", "cdu", 1000.0)]
    storm += [alert("GPUHighTemperature", f"g{g}", 1200.0 + 20 * g) for g in range(4)]
    storm += [alert("GPUThermalThrottle", f"g{g}", 1300.0 + 20 * g) for g in range(4)]
    link = alert("IBLinkDown", "n1nic", 1350.0)
    incidents = correlate(cooled_fleet(), [*storm, link])
    cdu = next(i for i in incidents if i.root_causes[0].entity == "cdu")
    assert set(cdu.alerts) == {a.fingerprint for a in storm}
    assert any(i.alerts == (link.fingerprint,) for i in incidents)


def test_a_room_unit_that_warned_before_a_gpu_it_cools_ran_hot_is_the_cause() -> None:
    """The room unit's supply air trended warm (a prediction, twenty minutes ahead); then one
    GPU of the 32 it cools alarms hot. The warning came true: the unit, not the GPU."""
    e = [Entity("crah", "crah"), Entity("rack", "rack")]
    r = [Relation("crah", "rack", "cools")]
    for n in range(4):
        e.append(Entity(f"n{n}", "node"))
        r.append(Relation("rack", f"n{n}", "contains"))
        e += [Entity(f"n{n}g{g}", "gpu") for g in range(8)]
        r += [Relation(f"n{n}", f"n{n}g{g}", "contains") for g in range(8)]
    trend = Finding(
        "prediction", "crah", "SupplyAirTemperature", 1000.0, 0.5, "gauge_trends",
        "thermal_runaway",
    )  # fmt: skip
    hot = alert("GPUHighTemperature", "n2g3", 2200.0, severity="warning")
    incidents = correlate(Topology(e, r), [hot], [trend])
    assert len(incidents) == 1
    cause = incidents[0].root_causes[0]
    assert cause.entity == "crah"
    assert any("warned" in line for line in cause.evidence)


def test_a_gpu_still_warning_that_then_fails_is_one_incident(fleet: Topology) -> None:
    """A GPU's correctable-error warning fires for an hour and still fires when the GPU
    reports XID 48 and its node's log the same: one problem, not two incidents, however long
    after the warning began. Heat on that GPU is another kind of trouble and does not join."""
    warn = alert("GPUEccSingleBitRate", "r10n0g0", 1000.0, severity="warning")
    xid = alert("GPUXidError", "r10n0g0", 4600.0, xid="48")
    log = alert("NodeKernelXid", "r10n0", 4600.0, xid="48")
    hot = alert("GPUHighTemperature", "r10n0g0", 9000.0, severity="warning")
    incidents = correlate(fleet, [warn, xid, log, hot])
    own = next(i for i in incidents if warn.fingerprint in i.alerts)
    assert {xid.fingerprint, log.fingerprint} <= set(own.alerts)
    assert hot.fingerprint not in own.alerts


def test_a_warning_that_resolved_does_not_hold_a_later_failure(fleet: Topology) -> None:
    """The same warning resolved long before the XID: nothing ties the two any more than
    any two alerts on one GPU hours apart, so the XID opens its own incident."""
    warn = alert("GPUEccSingleBitRate", "r10n0g0", 1000.0, end=1300.0, severity="warning")
    xid = alert("GPUXidError", "r10n0g0", 4600.0 + 4 * 3600, xid="48")
    incidents = correlate(fleet, [warn, xid])
    assert len(incidents) == 2


def test_a_wait_goes_to_the_failure_not_to_a_warning_beside_it(fleet: Topology) -> None:
    """Job A's GPU r00n0g0 reports XID 48; a minute later a NIC of another of the job's nodes
    warns of symbol errors. The job's watchdogs then fire: the job waits for the GPU."""
    xid = [alert("GPUXidError", "r00n0g0", 1000.0, xid="48")]
    xid += [alert("NodeKernelXid", "r00n0", 1000.0, xid="48")]
    nic = alert("IBSymbolErrors", "r01n1nic", 1060.0, severity="warning")
    waits = [alert("NCCLWatchdogTimeout", f"r0{k}n{n}", 1100.0) for k in range(2) for n in range(2)]
    incidents = correlate(fleet, [*xid, nic, *waits])
    gpu = next(i for i in incidents if xid[0].fingerprint in i.alerts)
    assert {w.fingerprint for w in waits} <= set(gpu.alerts)
    assert nic.fingerprint not in gpu.alerts


def test_a_job_that_stalls_after_its_failed_gpu_recovered_waits_for_something_else(
    fleet: Topology,
) -> None:
    """GPU r00n0g0's XID 48 resolved after five minutes; an hour later job A stalls again,
    with a NIC of one of its nodes warning just before: not the GPU's doing any more."""
    xid = alert("GPUXidError", "r00n0g0", 1000.0, end=1300.0, xid="48")
    first = alert("JobStalled", "jobA", 1100.0, end=1400.0)
    nic = alert("IBSymbolErrors", "r01n1nic", 4900.0, severity="warning")
    again = alert("JobStalled", "jobA", 5000.0)
    incidents = correlate(fleet, [xid, first, nic, again])
    gpu = next(i for i in incidents if xid.fingerprint in i.alerts)
    assert len(gpu.alerts) == 2  # the XID and the first stall
    assert not any(i.id == gpu.id for i in incidents if nic.fingerprint in i.alerts)


def test_device_errors_on_two_nodes_of_one_job_stay_apart(fleet: Topology) -> None:
    """Node r00n0 logs XID 79 (a GPU fell off its bus) and, fifty seconds later, GPU r01n1g0
    of the same job reports XID 48; the job's watchdogs follow. The nodes share a PDU, but a
    PDU breaks no GPU: two faults, not one outage seen through the job."""
    off = alert("NodeKernelXid", "r00n0", 1000.0, xid="79")
    dbe = [alert("GPUXidError", "r01n1g0", 1050.0, xid="48")]
    dbe += [alert("NodeKernelXid", "r01n1", 1050.0, xid="48")]
    waits = [alert("NCCLWatchdogTimeout", f"r0{k}n{n}", 1150.0) for k in range(2) for n in range(2)]
    incidents = correlate(fleet, [off, *dbe, *waits])
    both = {off.fingerprint, dbe[0].fingerprint}
    assert not any(both <= set(i.alerts) for i in incidents)


def test_a_gpu_that_vanishes_after_its_node_logged_xid_79_is_that_incident(
    fleet: Topology,
) -> None:
    """Node r10n0 logs XID 79 with a PCI address nothing names; two and a half minutes later
    the exporter stops reporting its second GPU. Either of its GPUs could have fallen off the
    bus: the vanished one is the incident's, not a new one."""
    log = alert("NodeKernelXid", "r10n0", 1000.0, xid="79")
    gone = alert("GPUMetricsAbsent", "r10n0g1", 1150.0)
    incidents = correlate(fleet, [log, gone])
    assert len(incidents) == 1
    assert incidents[0].root_causes[0].entity == "r10n0g1"


def test_incidents_no_alert_can_join_are_forgotten_and_their_news_ignored(
    fleet: Topology,
) -> None:
    """A GPU's XID resolves; five hours later another GPU errs. The first incident can take
    nothing any more: the service lets go of it (the state store keeps it). A late copy of
    its resolution changes nothing; the same alert firing anew is a new incident."""
    first = alert("GPUXidError", "r00n0g0", 1000.0, end=1300.0, xid="48")
    later = alert("GPUXidError", "r11n1g1", 1000.0 + 5 * 3600, xid="48")
    c = Correlator(fleet)
    c.feed([first])
    assert c.forget() == []  # nothing newer yet: it could still flap back
    c.feed([later])
    gone = c.forget()
    assert [i.alerts for i in gone] == [(first.fingerprint,)]
    assert [i.alerts for i in c.incidents()] == [(later.fingerprint,)]
    assert c.feed([first]) == []  # a late copy of the old resolution
    assert len(c.incidents()) == 1
    anew = alert("GPUXidError", "r00n0g0", 1000.0 + 6 * 3600, xid="48")
    assert anew.fingerprint == first.fingerprint
    assert len(c.feed([anew])) == 1
    assert len(c.incidents()) == 2


def test_late_news_of_a_later_firing_of_a_forgotten_incident_is_ignored(
    fleet: Topology,
) -> None:
    """An alert fires, resolves, fires again and resolves within one incident; hours later
    that incident is let go. A late copy of the second firing's resolution is old news too."""
    once = alert("IBSymbolErrors", "r10n0nic", 1000.0, end=1300.0, severity="warning")
    twice = alert("IBSymbolErrors", "r10n0nic", 2000.0, end=2300.0, severity="warning")
    c = Correlator(fleet)
    c.feed([once, twice])
    assert len(c.incidents()) == 1
    c.feed([alert("GPUXidError", "r11n1g1", 1000.0 + 6 * 3600, xid="48")])
    assert len(c.forget()) == 1
    assert c.feed([twice]) == []
    assert len(c.incidents()) == 1


def test_gpus_that_go_dark_in_racks_running_hot_are_the_cooling_not_a_leaf_dying_then() -> None:
    """The CDU's flow drops: the racks report low coolant flow, then hot return coolant. Five
    minutes later half the GPUs shut down one after another, seen only as their metrics
    vanishing (they heat too fast for a temperature alert's `for`). Amid that wave leaf 1
    dies: NIC 1 of every node drops its link, in the same scrape as more GPUs vanish. Two
    incidents: the CDU's (every rack and GPU alert) and the leaf's (the links)."""
    cooling = [alert("RackLiquidFlowLow", f"r{k}", 1000.0 + 10 * k) for k in range(2)]
    cooling += [alert("RackReturnTemperatureHigh", f"r{k}", 1100.0) for k in range(2)]
    gpus = [f"r{k}n{n}g{g}" for g in range(2) for k in range(2) for n in range(2)]
    cooling += [alert("GPUMetricsAbsent", x, 1400.0 + 10 * (i // 3)) for i, x in enumerate(gpus)]
    # Their job's collectives time out on every node, which stays up.
    nodes = [f"r{k}n{n}" for k in range(2) for n in range(2)]
    cooling += [alert("NCCLWatchdogTimeout", x, 1410.0 + i) for i, x in enumerate(nodes)]
    links = [alert("IBLinkDown", f"r{k}n{n}nic1", 1420.0) for k in range(2) for n in range(2)]
    incidents = correlate(rail_row(), [*cooling, *links])
    by_cause = {i.root_causes[0].entity: set(i.alerts) for i in incidents}
    assert by_cause == {
        "cdu": {a.fingerprint for a in cooling},
        "leaf1": {a.fingerprint for a in links},
    }


def test_a_hot_gpu_in_the_next_row_is_not_pinned_on_a_room_unit_by_a_failed_cdu_s_heat() -> None:
    """Row A's CDU fails: its racks report low coolant flow, then its GPUs run hot one by one.
    Row B's GPU then runs hot too. A room unit cools one rack of each row, so row A's heat
    would make it look like the cause of row B's GPU; but that heat is row A's CDU's doing,
    already explained. Row B's GPU stays apart, and row A's next hot GPU joins its CDU."""
    e = [Entity("cdu0", "cdu"), Entity("cdu1", "cdu"), Entity("crah0", "crah")]
    e.append(Entity("crah1", "crah"))
    r = []
    for k in range(4):
        e.append(Entity(f"r{k}", "rack"))
        r.append(Relation(f"cdu{k // 2}", f"r{k}", "cools"))
        r.append(Relation(f"crah{k % 2}", f"r{k}", "cools"))
        for n in range(2):
            e.append(Entity(f"r{k}n{n}", "node"))
            r.append(Relation(f"r{k}", f"r{k}n{n}", "contains"))
            e += [Entity(f"r{k}n{n}g{g}", "gpu") for g in range(4)]
            r += [Relation(f"r{k}n{n}", f"r{k}n{n}g{g}", "contains") for g in range(4)]
    row_a = [alert("RackLiquidFlowLow", f"r{k}", 1000.0) for k in (0, 1)]
    hot = [f"r{k}n{n}g{g}" for g in range(3) for n in range(2) for k in (0, 1)]
    row_a += [alert("GPUHighTemperature", x, 1030.0 + 10 * i) for i, x in enumerate(hot)]
    row_b = alert("GPUHighTemperature", "r2n0g0", 1200.0)
    later = alert("GPUHighTemperature", "r0n1g3", 1210.0)
    incidents = correlate(Topology(e, r), [*row_a, row_b, later])
    b = next(i for i in incidents if row_b.fingerprint in i.alerts)
    assert b.alerts == (row_b.fingerprint,)
    a = next(i for i in incidents if later.fingerprint in i.alerts)
    assert a.root_causes[0].entity == "cdu0"
    assert set(a.alerts) == {x.fingerprint for x in [*row_a, later]}


def test_gpus_done_with_their_memory_errors_that_then_throttle_are_not_that_incident() -> None:
    """Two GPUs of node n0 report XID 48 (g0 a double-bit ECC error too, the node's kernel
    log the XIDs), all cleared within five minutes; the node's clock skew comes and goes for
    the next half hour, which keeps that incident open. Eleven minutes after the errors
    cleared, the CDU's flow drops and the row's GPUs throttle, g0 first. The GPUs are done with
    their memory errors: their heat is not that incident's."""
    memory = [
        alert("GPUEccDoubleBit", "g0", 1000.0, 1300.0),
        alert("GPUXidError", "g0", 1000.0, 1300.0, xid="48"),
        alert("GPUXidError", "g1", 1000.0, 1300.0, xid="48"),
        alert("NodeKernelXid", "n0", 1000.0, 1300.0, xid="48"),
    ]
    skew = [alert("NodeClockSkewDetected", "n0", t, t + 100.0, "warning") for t in (1000.0, 1400.0)]
    skew += [alert("NodeClockSkewDetected", "n0", 1800.0, 1900.0, "warning")]
    heat = [alert("GPUThermalThrottle", f"g{g}", 1960.0 + 10 * g) for g in range(4)]
    incidents = correlate(cooled_fleet(), [*memory, *skew, *heat])
    gpu = next(i for i in incidents if memory[0].fingerprint in i.alerts)
    assert set(gpu.alerts) == {a.fingerprint for a in [*memory, *skew]}


def test_a_node_logging_gpu_xids_is_not_the_doing_of_its_flapping_nic(fleet: Topology) -> None:
    """A NIC's link flaps; minutes later its node's kernel log reports XID 63 (a GPU's row
    remap, the first sign of its memory failing). A node's log reports what its parts show,
    but a NIC has never shown an XID: only GPUs have. Two incidents."""
    elsewhere = alert("GPUXidError", "r11n1g0", 500.0, 700.0, xid="48")
    flap = alert("IBLinkFlapping", "r00n0nic", 1000.0)
    log = alert("NodeKernelXid", "r00n0", 1230.0, xid="63")
    incidents = correlate(fleet, [elsewhere, flap, log])
    holding = {i.id: set(i.alerts) for i in incidents}
    assert {flap.fingerprint} in holding.values()
    assert any(log.fingerprint in a and flap.fingerprint not in a for a in holding.values())
