"""`foreshock sim generate`: files per the spec, reproducible to the byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from foreshock.cli import app
from foreshock.sim.timefmt import parse_time
from foreshock.topology import load_topology

runner = CliRunner()
ARGS = ["sim", "generate", "--gpus", "128", "--hours", "0.5", "--seed", "4"]
XID_LINE = re.compile(
    r"^\S+ \S+ kernel: NVRM: Xid \(PCI:[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\): (\d+), pid=\d+, .+$"
)


def generate(out: Path, *extra: str) -> Path:
    result = runner.invoke(app, [*ARGS, "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scenario") / "a"
    return generate(out, "--faults", "gpu_memory,gpu_off_bus,pdu_loss")


def test_same_arguments_give_byte_identical_files(scenario: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "b", "--faults", "gpu_memory,gpu_off_bus,pdu_loss")
    names = sorted(p.name for p in scenario.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    assert {"topology.json", "telemetry.parquet", "events.log", "truth.json"} <= set(names)
    for name in names:
        assert (scenario / name).read_bytes() == (again / name).read_bytes(), name


def test_another_seed_gives_another_scenario(scenario: Path, tmp_path: Path) -> None:
    other = tmp_path / "c"
    result = runner.invoke(
        app, [*ARGS[:-1], "5", "--out", str(other), "--faults", "gpu_memory,gpu_off_bus,pdu_loss"]
    )
    assert result.exit_code == 0, result.output
    assert (other / "truth.json").read_bytes() != (scenario / "truth.json").read_bytes()


def test_telemetry_is_long_form_per_spec(scenario: Path) -> None:
    table = pq.read_table(scenario / "telemetry.parquet")
    assert table.column_names == ["timestamp", "entity", "metric", "value"]
    topo = load_topology(scenario / "topology.json")
    entities = set(table.column("entity").cast("string").unique().to_pylist())
    assert entities <= {e.id for e in topo.entities()}
    metrics = set(table.column("metric").cast("string").unique().to_pylist())
    assert {"DCGM_FI_DEV_GPU_TEMP", "node_infiniband_symbol_error_total", "RackPower"} <= metrics
    ts = table.column("timestamp").to_numpy()
    assert ts.min() >= parse_time("2026-05-01T00:00:00Z")
    assert ts.max() < parse_time("2026-05-01T00:30:00Z")


def test_csv_output_is_the_same_data(scenario: Path, tmp_path: Path) -> None:
    out = generate(
        tmp_path / "csv", "--faults", "gpu_memory,gpu_off_bus,pdu_loss", "--format", "csv"
    )
    csv = pacsv.read_csv(out / "telemetry.csv.gz")
    parquet = pq.read_table(scenario / "telemetry.parquet")
    assert csv.num_rows == parquet.num_rows
    assert csv.column_names == parquet.column_names


def test_truth_records_every_fault(scenario: Path) -> None:
    truth = json.loads((scenario / "truth.json").read_text())
    kinds = sorted(f["kind"] for f in truth["faults"])
    assert kinds == ["gpu_memory", "gpu_off_bus", "pdu_loss"]
    topo = load_topology(scenario / "topology.json")
    for fault in truth["faults"]:
        assert fault["root"] in topo
        assert fault["root"] in fault["affected"] or fault["kind"] == "pdu_loss"
        assert set(fault["affected"]) <= {e.id for e in topo.entities()}
        assert parse_time(fault["start"]) < parse_time(fault["end"])
        if fault["precursor_start"] is not None:
            assert parse_time(fault["precursor_start"]) < parse_time(fault["start"])


def test_events_are_kernel_log_lines(scenario: Path) -> None:
    lines = (scenario / "events.log").read_text().splitlines()
    codes = {int(XID_LINE.match(line).group(1)) for line in lines if XID_LINE.match(line)}
    assert {48, 79} <= codes  # the DBE and the fall off the bus
    assert all(XID_LINE.match(line) for line in lines if "Xid" in line)


def test_random_faults_follow_the_library(tmp_path: Path) -> None:
    out = generate(tmp_path / "r", "--fault-count", "4")
    truth = json.loads((out / "truth.json").read_text())
    assert len(truth["faults"]) == 4


def test_unknown_fault_kind_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, [*ARGS, "--out", str(tmp_path), "--faults", "meteor"])
    assert result.exit_code == 1
    assert "unknown fault kind(s): meteor" in result.output


def test_fault_list_names_every_kind() -> None:
    result = runner.invoke(app, ["sim", "faults", "--json"])
    assert result.exit_code == 0
    kinds = json.loads(result.stdout)["faults"]
    assert {"gpu_memory", "gpu_off_bus", "pdu_loss", "cdu_flow_loss"} <= {k["kind"] for k in kinds}
    assert all(k["summary"] and k["source"] and k["weight"] > 0 for k in kinds)


def test_a_drawn_kind_whose_parts_all_have_a_fault_is_drawn_again() -> None:
    """Sixty faults drawn by the published mix in a 128-GPU fleet: kinds whose parts are few
    (its one cooling unit, its few racks) run out and are drawn again among those left, so
    every fault lands on a part of its own."""
    from foreshock.sim.faults import FAULTS
    from foreshock.sim.fleet import FleetShape, generate_fleet
    from foreshock.sim.layout import Layout
    from foreshock.sim.scenario import Scenario, plan_faults
    from foreshock.topology import Topology

    shape = FleetShape(gpus=128, seed=1)
    topo = Topology(*generate_fleet(shape))
    faults = [i.truth for i in plan_faults(Scenario(shape, fault_count=60), Layout.of(topo))]
    assert len(faults) == 60
    assert len({t.root for t in faults}) == 60
    for kind in {t.kind for t in faults}:
        parts = sum(int(topo.kind_mask(k).sum()) for k in FAULTS[kind].root_kinds)
        assert sum(t.kind == kind for t in faults) <= parts
    scarce = [
        k for k, f in FAULTS.items() if sum(int(topo.kind_mask(r).sum()) for r in f.root_kinds) == 1
    ]
    assert scarce
    assert any(t.kind in scarce for t in faults)  # a one-part kind was drawn


def test_faults_start_only_where_their_kind_accepts() -> None:
    """A straggler needs a job to slow: in a fleet with idle GPUs, every straggler lands on a
    GPU that hosts one, and leaf and spine switch faults on switches of their tier."""
    from foreshock.sim.faults import FAULTS
    from foreshock.sim.fleet import FleetShape, generate_fleet
    from foreshock.sim.layout import Layout
    from foreshock.sim.scenario import Scenario, plan_faults
    from foreshock.topology import Topology

    shape = FleetShape(gpus=256, seed=7)  # a fleet with 32 idle GPUs
    topo = Topology(*generate_fleet(shape))
    gpus = topo.ids_at(topo.kind_mask("gpu").nonzero()[0].tolist())
    idle = [g for g in gpus if not topo.children(g, "hosts")]
    assert idle  # the fleet has GPUs with no job: the case under test
    kinds = ("straggler", "leaf_switch", "spine_switch")
    for seed in range(12):
        planned = plan_faults(Scenario(shape, faults=kinds, seed=seed), Layout.of(topo))
        for inj in planned:
            t = inj.truth
            assert FAULTS[t.kind].accepts(topo, t.root), (t.kind, t.root)
            if t.kind == "straggler":
                assert t.root not in idle
                assert any(a.startswith("job-") for a in t.affected)


def test_a_fault_count_of_zero_gives_a_fault_free_scenario(tmp_path: Path) -> None:
    out = generate(tmp_path / "quiet", "--fault-count", "0")
    truth = json.loads((out / "truth.json").read_text())
    assert truth["faults"] == []
