"""`foreshock detect` over simulated files: findings in order, and no look-ahead."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from foreshock.cli import app
from foreshock.detect.run import detect_files
from foreshock.sim.fleet import FleetShape
from foreshock.sim.scenario import Scenario, simulate
from foreshock.sim.timefmt import parse_time
from foreshock.topology import load_topology


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("detect")
    simulate(
        Scenario(FleetShape(gpus=128), hours=1.5, faults=("gpu_memory", "gpu_off_bus"), seed=11),
        out,
    )
    return out


def test_cli_prints_findings_in_the_order_raised(scenario: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "detect",
            "--topology",
            str(scenario / "topology.json"),
            "--telemetry",
            str(scenario / "telemetry.parquet"),
            "--events",
            str(scenario / "events.log"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)["findings"]
    assert findings
    times = [parse_time(f["raised_at"]) for f in findings]
    assert times == sorted(times)
    assert {f["kind"] for f in findings} <= {"anomaly", "prediction"}
    truth = json.loads((scenario / "truth.json").read_text())["faults"]
    off_bus = next(f for f in truth if f["kind"] == "gpu_off_bus")
    node = off_bus["root"].rsplit("/", 1)[0]
    hits = [
        f for f in findings if f["entity"] in (off_bus["root"], node) and f["metric"] == "xid:79"
    ]
    assert hits  # the XID 79 line, resolved to its GPU or (without PCI addresses) its node


def test_no_look_ahead(scenario: Path, tmp_path: Path) -> None:
    """Findings raised up to a time T are the same whether or not the data after T exists."""
    topo = load_topology(scenario / "topology.json")
    full = detect_files(topo, [scenario / "telemetry.parquet"])
    table = pq.read_table(scenario / "telemetry.parquet")
    cut = float(pc.min(table["timestamp"]).as_py()) + 2700  # 45 minutes in
    pq.write_table(table.filter(pc.less_equal(table["timestamp"], cut)), tmp_path / "t.parquet")
    part = detect_files(topo, [tmp_path / "t.parquet"])
    assert [f for f in full if f.raised_at <= cut] == part


def test_job_groups_and_gauges_are_looked_up_per_series() -> None:
    from foreshock.detect.run import gauges, job_groups, metric_names
    from foreshock.ingest.series import SeriesTable
    from foreshock.model import Entity, Relation
    from foreshock.topology import Topology

    topo = Topology(
        [
            Entity("g0", "gpu", {"hostname": "n1", "gpu": "0"}),
            Entity("g1", "gpu", {"hostname": "n1", "gpu": "1"}),
            Entity("j", "job"),
        ],
        [Relation("g0", "j", "hosts")],
    )
    table = SeriesTable(topo)
    ids = table.ids(
        [
            {"__name__": "DCGM_FI_DEV_SM_CLOCK", "hostname": "n1", "gpu": "0"},
            {"__name__": "DCGM_FI_DEV_SM_CLOCK", "hostname": "n1", "gpu": "1"},
            {"__name__": "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "hostname": "n1", "gpu": "0"},
            {"__name__": "node_load1", "instance": "nowhere:9100"},
        ],
        "test",
    )
    groups = job_groups(table)(ids)
    assert groups.tolist() == [topo.index("j"), -1, topo.index("j"), -1]
    assert gauges(table)(ids).tolist() == [True, True, False, True]
    assert metric_names(table)(ids[2:3]) == ["DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"]
