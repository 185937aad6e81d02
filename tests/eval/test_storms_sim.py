"""The storm evaluation: incidents against alerts, and incidents that merge two faults."""

from __future__ import annotations

import json
from pathlib import Path

from foreshock.eval.storms_sim import evaluate_storms_sim, judge, scenario_for
from foreshock.sim.fleet import FleetShape
from foreshock.sim.scenario import Scenario, simulate
from foreshock.sim.timefmt import parse_time
from foreshock.topology import load_topology


def test_scenarios_alternate_shapes_and_carry_many_faults() -> None:
    a, b = scenario_for(0), scenario_for(1)
    assert (a.shape.kind, b.shape.kind) == ("hgx", "nvl72")
    assert a.fault_count == 10
    assert a.hours == 4.0


def test_one_incident_holding_two_faults_symptoms_counts_as_merged(tmp_path: Path) -> None:
    """A PDU loss is one incident. Told that its racks failed as two separate faults, the
    judge must see that incident as a merge of the two."""
    simulate(
        Scenario(FleetShape(gpus=64, seed=3), hours=1.0, faults=("pdu_loss",), seed=3), tmp_path
    )
    doc = judge(tmp_path)
    assert doc["merged"] == []
    truth = json.loads((tmp_path / "truth.json").read_text())
    fault = truth["faults"][0]
    hit = sorted(fault["affected"])
    racks = sorted({e.split("/")[2] for e in hit if e.count("/") >= 2})
    assert len(racks) >= 2
    first = [e for e in hit if e.split("/")[2:3] == [racks[0]]]
    rest = [e for e in hit if e not in first]
    truth["faults"] = [
        {**fault, "id": "fault-a", "affected": first},
        {**fault, "id": "fault-b", "affected": rest, "root": "elsewhere"},
    ]
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    doc = judge(tmp_path)
    assert len(doc["merged"]) == 1
    assert set(doc["merged"][0]["faults"]) == {"fault-a", "fault-b"}


def test_a_small_run_reports_its_figures() -> None:
    doc = evaluate_storms_sim(cases=2, gpus=64, faults=4)
    assert doc["cases"] == 2
    assert doc["faults"] == 8
    assert 0 < doc["incidents"] < doc["alerts"]
    assert doc["reduction"] == round(1 - doc["incidents"] / doc["alerts"], 4)
    assert doc["merged"] == len(doc["merges"])


def test_a_nodes_log_of_its_gpus_xid_is_that_gpus_fault(tmp_path: Path) -> None:
    """A GPU's memory fails and its node's kernel log reports the XIDs. Told that a second
    fault took that node at the same moment, the judge must not count the log's XIDs as that
    fault's alone: the node's incident holding them and the GPU's alerts is no merge."""
    simulate(
        Scenario(FleetShape(gpus=64, seed=5), hours=1.0, faults=("gpu_memory",), seed=5),
        tmp_path,
    )
    truth = json.loads((tmp_path / "truth.json").read_text())
    fault = truth["faults"][0]
    node = fault["root"].rsplit("/", 1)[0]
    raw = json.loads((tmp_path / "alerts.json").read_text())
    logged = [a for a in raw if a["labels"].get("alertname") == "NodeKernelXid"]
    assert logged  # the node's log reported the XIDs
    truth["faults"].append({**fault, "id": "fault-b", "root": "elsewhere", "affected": [node]})
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    assert judge(tmp_path)["merged"] == []


def test_a_part_shows_its_fault_for_as_long_as_the_fault_lasts(tmp_path: Path) -> None:
    """A cooling unit fails and its GPUs run hot for over an hour. Told that another fault hit
    one of those GPUs half an hour in, the judge must not count that GPU's heat as the other
    fault's alone: the cooling unit's incident holding it is no merge."""
    simulate(
        Scenario(FleetShape(gpus=64, seed=1), hours=2.0, faults=("cdu_flow_loss",), seed=1),
        tmp_path,
    )
    truth = json.loads((tmp_path / "truth.json").read_text())
    fault = truth["faults"][0]
    onset, end = parse_time(fault["start"]), parse_time(fault["end"])
    raw = json.loads((tmp_path / "alerts.json").read_text())
    hot = [
        a
        for a in raw
        if a["labels"]["alertname"].startswith("GPU")
        and ("Temperature" in a["labels"]["alertname"] or "Thermal" in a["labels"]["alertname"])
        and onset + 1800 <= parse_time(a["startsAt"]) <= end - 900
    ]
    assert hot  # the unit's GPUs still heat up half an hour in
    late = hot[0]
    gpu = load_topology([tmp_path / "topology.json"]).map_labels(late["labels"])
    assert gpu in fault["affected"]
    at = late["startsAt"]
    truth["faults"].append(
        {
            **fault,
            "id": "fault-b",
            "root": "elsewhere",
            "affected": [gpu],
            "precursor_start": None,
            "start": at,
            "end": at,
        }
    )
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    assert judge(tmp_path)["merged"] == []
