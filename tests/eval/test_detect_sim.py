"""The prediction scoring rules on hand-made truths and findings, and scoring scenarios
already generated."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from foreshock.eval.detect_sim import (
    CaseResult,
    evaluate_folder,
    fleet_mix_recall,
    run_case,
    score_case,
    summarize,
)
from foreshock.model import Entity, Finding, Relation
from foreshock.sim.faults import FAULTS, Truth
from foreshock.sim.fleet import FleetShape
from foreshock.sim.scenario import Scenario, simulate
from foreshock.topology import Topology

TOPO = Topology(
    [Entity("n1", "node"), Entity("g0", "gpu"), Entity("g1", "gpu"), Entity("j", "job")],
    [
        Relation("n1", "g0", "contains"),
        Relation("n1", "g1", "contains"),
        Relation("g0", "j", "hosts"),
    ],
)
START = 0.0


def truth(start: float, pre: float | None, predicts: str = "gpu_memory_failure") -> Truth:
    return Truth("f1", "gpu_memory", "g0", start, start + 3600, pre, predicts, ("g0", "j"), True)


def prediction(at: float, entity: str = "g0", what: str = "gpu_memory_failure") -> Finding:
    return Finding("prediction", entity, "x", at, 0.9, "t", predicts=what)


def case(faults: list[Truth], found: list[Finding]) -> dict[str, object]:
    return score_case(CaseResult(faults, found, 100.0, TOPO, START))


def test_a_prediction_ten_minutes_ahead_counts() -> None:
    result = case([truth(10_000, 5_000)], [prediction(9_000)])
    assert result["hits"] == [("gpu_memory", True, 1000.0, False, 5000.0, False)]
    assert result["false"] == 0


def test_too_late_wrong_kind_or_wrong_part_does_not() -> None:
    late = case([truth(10_000, 5_000)], [prediction(9_700)])
    assert late["hits"] == [("gpu_memory", False, None, False, 5000.0, False)]
    wrong = case([truth(10_000, 5_000)], [prediction(9_000, what="link_failure")])
    assert wrong["hits"][0][1] is False  # type: ignore[index]
    # The node that contains the GPU is the fault's part; a sibling GPU is not.
    node = case([truth(10_000, 5_000)], [prediction(9_000, entity="n1")])
    assert node["hits"][0][1] is True  # type: ignore[index]
    sibling = case([truth(10_000, 5_000)], [prediction(9_000, entity="g1")])
    assert sibling["hits"][0][1] is False  # type: ignore[index]
    assert sibling["false"] == 1


def test_precursors_running_from_the_start_are_counted_apart() -> None:
    result = case([truth(10_000, 600)], [prediction(9_000)])
    assert result["hits"] == [("gpu_memory", True, 1000.0, True, 9400.0, False)]


def test_predictions_far_from_any_fault_are_false() -> None:
    result = case([truth(10_000, 5_000)], [prediction(50_000, entity="g1")])
    assert result["false"] == 1


def test_a_fault_whose_part_an_earlier_failure_took_down_is_counted_apart() -> None:
    loop = Truth("f0", "cdu_flow_loss", "n1", 6_000, 20_000, 5_000, "thermal_runaway",
                 ("n1", "g0"), True)  # fmt: skip
    result = case([loop, truth(10_000, 5_000)], [])
    gpu = next(h for h in result["hits"] if h.kind == "gpu_memory")  # type: ignore[attr-defined]
    assert gpu.masked
    assert not gpu.predicted
    loop_hit = next(h for h in result["hits"] if h.kind == "cdu_flow_loss")  # type: ignore[attr-defined]
    assert not loop_hit.masked


def test_fleet_mix_recall_weighs_each_kind_by_how_often_fleets_see_it() -> None:
    # gpu_memory fails after a precursor far more often than host_hang (library weights):
    # a perfect gpu_memory and a hopeless host_hang give a recall near the former's share.
    by_kind = {
        "gpu_memory": Counter(faults=2, predicted=2),
        "host_hang": Counter(faults=10, predicted=0),
    }
    recall, unmeasured = fleet_mix_recall(by_kind, ["gpu_memory", "host_hang", "nvlink"])
    mem = FAULTS["gpu_memory"].weight * FAULTS["gpu_memory"].precursor_probability
    hang = FAULTS["host_hang"].weight * FAULTS["host_hang"].precursor_probability
    assert recall == round(mem / (mem + hang), 4)
    assert unmeasured == ["nvlink"]  # no fault scored it: left out of the estimate, and said
    assert fleet_mix_recall({}, ["nvlink"]) == (None, ["nvlink"])


def test_truth_records_read_back_as_written() -> None:
    t = Truth("f1", "nic_flap", "n1", 1000.0, 5000.5, 400.0, "link_failure", ("n1", "j"), False)
    assert Truth.from_json(t.to_json()) == t
    without = Truth("f2", "psu", "n1", 1000.0, 2000.0, None, None, ("n1",), True)
    assert Truth.from_json(without.to_json()) == without


def test_generated_scenarios_score_as_the_simulated_ones(tmp_path: Path) -> None:
    """Folders written by `foreshock sim generate` (a held-out set) give the figures that
    simulating the same scenarios in the evaluation gives."""
    scenarios = {
        "a-faulty": Scenario(
            FleetShape(gpus=32, seed=3), hours=1.0, faults=("gpu_memory", "nic_flap"), seed=7
        ),
        "b-quiet": Scenario(FleetShape(gpus=32, seed=4), hours=1.0, faults=(), seed=8),
    }
    direct = []
    for name, sc in scenarios.items():
        simulate(sc, tmp_path / name)
        direct.append(score_case(run_case(sc)))
    result = evaluate_folder(tmp_path)
    assert (result["cases"], result["fault_free_cases"]) == (1, 1)
    assert result["faults_with_precursor"] + result["precursor_running_at_start"] == 2
    expected = summarize(direct[:1], direct[1:], sorted(k for k, f in FAULTS.items() if f.predicts))
    assert {k: v for k, v in result.items() if k in expected} == expected
    assert result["faulty_gpu_hours"] == result["fault_free_gpu_hours"] == 32.0
    one = evaluate_folder(tmp_path / "a-faulty")  # one scenario's folder is a set of one
    assert (one["cases"], one["fault_free_cases"]) == (1, 0)
    with pytest.raises(ValueError, match="no scenario at"):
        evaluate_folder(tmp_path / "a-faulty" / "telemetry.parquet")


def test_faults_running_from_the_start_count_in_the_short_scenario_figure() -> None:
    running = case([truth(10_000, 600)], [prediction(9_000)])  # predicted, running at start
    fresh = case([truth(10_000, 5_000)], [])  # missed
    figures = summarize([running, fresh], [], ["gpu_memory"])
    assert (figures["recall"], figures["predicted_of_those"]) == (0.0, 1)
    assert figures["recall_with_running_at_start"] == 0.5
    kind = figures["by_kind"]["gpu_memory"]
    assert (kind["faults"], kind["predicted"]) == (1, 0)
    assert (kind["running_at_start"], kind["running_at_start_predicted"]) == (1, 1)
