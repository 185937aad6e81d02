from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foreshock import __version__
from foreshock.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "fleet.yaml"
    result = runner.invoke(app, ["sim", "fleet", "--gpus", "256", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"foreshock {__version__}"


def test_validate_accepts_a_good_fleet(fleet_file: Path) -> None:
    result = runner.invoke(app, ["topology", "validate", str(fleet_file)])
    assert result.exit_code == 0, result.output
    assert "642 entities" in result.output


def test_validate_prints_each_problem_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: foreshock/v1\nkind: Topology\nentities:\n"
        "  - {id: a, kind: rack}\n  - {id: a, kind: rack}\n"
        "relations:\n  - {from: a, to: b, type: contains}\n"
    )
    result = runner.invoke(app, ["topology", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:5: duplicate id 'a' (first defined at {bad}:4)" in result.output
    assert f"{bad}:7: relation 'a' -> 'b' (contains) refers to unknown id 'b'" in result.output


def test_show_summary_and_entity(fleet_file: Path) -> None:
    result = runner.invoke(app, ["topology", "show", str(fleet_file)])
    assert result.exit_code == 0, result.output
    assert "gpu" in result.output
    assert "256" in result.output
    result = runner.invoke(app, ["topology", "show", str(fleet_file), "--entity", "dc1/h1/r001"])
    assert result.exit_code == 0, result.output
    assert "dc1/h1/r001/n1" in result.output
    assert "dc1/h1/pdu-001" in result.output
    result = runner.invoke(app, ["topology", "show", str(fleet_file), "--entity", "r001"])
    assert result.exit_code == 1
    assert "unknown entity 'r001'" in result.output
    assert "did you mean" in result.output


def test_blast_json_matches_the_spec(fleet_file: Path) -> None:
    result = runner.invoke(app, ["blast", "--topology", str(fleet_file), "--entity", "dc1/feed-a"])
    assert result.exit_code == 0, result.output
    assert "GPUs reached" in result.output
    result = runner.invoke(
        app, ["blast", "--topology", str(fleet_file), "--entity", "dc1/feed-a", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"entity", "entities", "gpus", "jobs", "gpu_hours_at_risk_per_hour"}
    assert doc["entity"] == "dc1/feed-a"
    assert doc["gpus"] == 256  # one hall, one feed: everything
    assert doc["gpu_hours_at_risk_per_hour"] >= doc["gpus"] * 0.8
    assert all(j.startswith("job-") for j in doc["jobs"])


def test_unknown_bench_is_refused() -> None:
    result = runner.invoke(app, ["bench", "nonsense"])
    assert result.exit_code == 1
    assert "unknown benchmark 'nonsense'" in result.output


def test_eval_detect_sim_refuses_an_unknown_fleet_kind_or_mix() -> None:
    result = runner.invoke(app, ["eval", "detect", "--dataset", "sim", "--kind", "dgx1"])
    assert result.exit_code == 1
    assert "unknown fleet kind 'dgx1'" in result.output
    result = runner.invoke(app, ["eval", "detect", "--dataset", "sim", "--mix", "some"])
    assert result.exit_code == 1
    assert "unknown mix 'some'" in result.output


def test_eval_detect_sim_scores_a_small_fleet_of_the_shape_asked_for() -> None:
    args = ["eval", "detect", "--dataset", "sim", "--cases", "1", "--gpus", "16", "--hours", "1"]
    result = runner.invoke(app, [*args, "--kind", "nvl72", "--mix", "fleet", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (doc["gpus"], doc["hours"], doc["fleet_kind"], doc["mix"]) == (16, 1.0, "nvl72", "fleet")
    assert doc["fault_free_cases"] == 1
    assert "recall_fleet_mix" in doc
    assert "fleet_mix_unmeasured" in doc


def test_eval_detect_sim_scores_generated_scenarios_from_a_folder(tmp_path: Path) -> None:
    gen = ["sim", "generate", "--gpus", "16", "--hours", "1", "--seed", "2"]
    for name, extra in (("one", ["--faults", "gpu_memory"]), ("two", [])):
        done = runner.invoke(app, [*gen, *extra, "--out", str(tmp_path / "set" / name)])
        assert done.exit_code == 0, done.output
    result = runner.invoke(
        app, ["eval", "detect", "--dataset", "sim", "--path", str(tmp_path / "set"), "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["path"] == str(tmp_path / "set")
    assert doc["cases"] + doc["fault_free_cases"] == 2
    assert doc["faulty_gpu_hours"] + doc["fault_free_gpu_hours"] == 32.0


def test_eval_detect_sim_refuses_a_folder_without_scenarios(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "detect", "--dataset", "sim", "--path", str(tmp_path)])
    assert result.exit_code == 1
    assert "no scenario at" in result.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "truth.json").write_text("{not json")
    result = runner.invoke(app, ["eval", "detect", "--dataset", "sim", "--path", str(broken)])
    assert result.exit_code == 1
    assert "not JSON" in " ".join(result.output.split())


def test_eval_rca_sim_diagnoses_generated_scenarios_from_a_folder(tmp_path: Path) -> None:
    gen = ["sim", "generate", "--gpus", "64", "--hours", "1.5", "--seed", "4"]
    for name, kind in (("a", "cdu_flow_loss"), ("b", "gpu_memory")):
        done = runner.invoke(app, [*gen, "--faults", kind, "--out", str(tmp_path / "set" / name)])
        assert done.exit_code == 0, done.output
    args = ["eval", "rca", "--dataset", "sim", "--path", str(tmp_path / "set"), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (doc["scenarios"], doc["cases"] + doc["skipped"]) == (2, 2)
    assert 0.0 <= doc["ac1"] <= doc["ac3"] <= 1.0
    missing = runner.invoke(app, ["eval", "rca", "--dataset", "sim", "--path", str(tmp_path)])
    assert missing.exit_code == 1
    assert "no scenario at" in missing.output
