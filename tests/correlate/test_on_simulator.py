"""Correlation of the simulator's own storms, whose causes are known."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from foreshock.correlate import Correlator, correlate
from foreshock.eval.storms_sim import judge
from foreshock.eval.storms_sim import scenario_for as storm_scenario
from foreshock.ingest.alertmanager import parse_any
from foreshock.model import Alert
from foreshock.sim.fleet import FleetShape
from foreshock.sim.scenario import Scenario, simulate
from foreshock.sim.timefmt import parse_time
from foreshock.topology import Topology, load_topology


def one_fault(kind: str, seed: int, folder: Path) -> tuple[str, Topology, list[Alert]]:
    """A 128-GPU hour with one fault of the kind: its root, the fleet and the alerts."""
    scenario = Scenario(FleetShape(gpus=128, seed=seed), hours=1.0, faults=(kind,), seed=seed)
    simulate(scenario, folder)
    root = json.loads((folder / "truth.json").read_text())["faults"][0]["root"]
    topo = load_topology([folder / "topology.json"])
    return root, topo, parse_any(json.loads((folder / "alerts.json").read_text()), topo.map_labels)


@pytest.mark.parametrize("seed", [1, 3, 4])
def test_an_nvswitch_failure_is_one_incident_about_the_switch(seed: int, tmp_path: Path) -> None:
    """Its node's log reports the NVLink errors first and the job stalls; then each of its
    eight GPUs reports XID 74. The node stands for the switch inside it until the incident is
    ranked again: one incident, not one per GPU."""
    root, topo, alerts = one_fault("nvswitch", seed, tmp_path)
    xids = {
        a.fingerprint
        for a in alerts
        if a.labels.get("alertname") == "GPUXidError" and a.labels.get("xid") == "74"
    }
    assert len(xids) == 8
    holding = [i for i in correlate(topo, alerts) if xids & set(i.alerts)]
    assert len(holding) == 1
    assert holding[0].root_causes[0].entity == root
    assert xids <= set(holding[0].alerts)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_power_supply_that_sags_is_one_incident_about_its_node(seed: int, tmp_path: Path) -> None:
    """All eight GPUs of the node brake at the same moment. Pairwise, each GPU explains
    itself as well as the node explains two; together, the node wins: one incident."""
    root, topo, alerts = one_fault("psu", seed, tmp_path)
    brakes = {
        a.fingerprint
        for a in alerts
        if a.labels.get("alertname") == "GPUPowerBrake" and (a.entity or "").startswith(root)
    }
    assert len(brakes) >= 4
    holding = [i for i in correlate(topo, alerts) if brakes & set(i.alerts)]
    assert len(holding) == 1
    assert holding[0].root_causes[0].entity == root


def test_a_flapping_port_in_a_row_whose_cooling_fails_stays_its_own(tmp_path: Path) -> None:
    """A storm of ten faults (storm 6 of seed 2): a port flaps in a row whose CDU is losing
    flow, another node's cable degrades, and jobs span them. The flap's link errors and drops
    are not the CDU's doing (no heat first), nor the cable's: none of its symptoms may share
    an incident with another fault's."""
    simulate(storm_scenario(6, seed=2), tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text())
    flap = next(f["id"] for f in truth["faults"] if f["kind"] == "nic_flap")
    merges = judge(tmp_path)["merged"]
    assert not [m for m in merges if flap in m["faults"]]


def test_a_room_that_warms_for_hours_is_one_incident_about_its_cooling_unit(
    tmp_path: Path,
) -> None:
    """Storm 7 of seed 2: a CRAH fails early and is not repaired for hours. The GPUs in its
    hot spots alarm one by one over more than an hour, each alone at first; its own alarm
    comes 80 minutes in. Counting the hot parts of the other open incidents, the unit
    explains them all: one incident about the CRAH, not one per GPU."""
    simulate(storm_scenario(7, seed=2), tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text())
    crah = next(f["root"] for f in truth["faults"] if f["kind"] == "room_cooling")
    topo = load_topology([tmp_path / "topology.json"])
    alerts = parse_any(json.loads((tmp_path / "alerts.json").read_text()), topo.map_labels)
    incidents = correlate(topo, alerts)
    about = [i for i in incidents if i.root_causes and i.root_causes[0].entity == crah]
    assert len(about) == 1
    hot = {a.entity for a in alerts if a.labels.get("alertname") == "GPUHighTemperature"}
    alone = [i for i in incidents if set(i.entities) <= hot and len(i.entities) == 1]
    assert len(about[0].entities) >= 20
    assert len(alone) <= 3


def test_alerts_that_fire_then_resolve_as_they_happen_give_the_batch_result(
    tmp_path: Path,
) -> None:
    """The service hears an alert fire, and later resolve; a batch knows both at once. Over a
    storm of many overlapping faults, fed as firings and resolutions in time order, the
    incidents are those of the batch."""
    simulate(storm_scenario(0, seed=3, gpus=128, faults=6), tmp_path)
    topo = load_topology([tmp_path / "topology.json"])
    end = json.loads((tmp_path / "truth.json").read_text())["end"]
    raw = json.loads((tmp_path / "alerts.json").read_text())
    alerts = parse_any(raw, topo.map_labels, now=parse_time(end))
    assert sum(a.status == "resolved" for a in alerts) > 20
    batch = Correlator(topo)
    batch.feed(alerts)
    events = [(a.starts_at, 0, replace(a, ends_at=None, status="firing")) for a in alerts]
    events += [(a.ends_at, 1, a) for a in alerts if a.status == "resolved" and a.ends_at]
    live = Correlator(topo)
    for _, _, a in sorted(events, key=lambda e: (e[0], e[1], e[2].fingerprint)):
        live.feed([a])

    def shape(c: Correlator) -> list[tuple[tuple[str, ...], str]]:
        return sorted((tuple(sorted(i.alerts)), i.root_causes[0].entity) for i in c.incidents())

    assert len(batch.groups) > 5
    assert shape(live) == shape(batch)


def test_forgetting_what_no_alert_can_join_changes_no_incident(tmp_path: Path) -> None:
    """A service that lets go of incidents as soon as nothing can join them ends with the
    incidents of a batch that kept everything."""
    scenario = Scenario(FleetShape(gpus=64, seed=5), hours=12.0, fault_count=6, seed=5)
    simulate(scenario, tmp_path)
    topo = load_topology([tmp_path / "topology.json"])
    end = json.loads((tmp_path / "truth.json").read_text())["end"]
    alerts = parse_any(
        json.loads((tmp_path / "alerts.json").read_text()), topo.map_labels, now=parse_time(end)
    )
    batch = Correlator(topo)
    batch.feed(alerts)
    live = Correlator(topo)
    forgotten = []
    for a in sorted(alerts, key=lambda a: (a.starts_at, a.fingerprint)):
        live.feed([a])
        forgotten += live.forget()
    assert forgotten  # twelve hours: the first incidents were let go
    kept = sorted(i.alerts for i in [*forgotten, *live.incidents()])
    assert kept == sorted(i.alerts for i in batch.incidents())
