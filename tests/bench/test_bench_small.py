"""The other benchmarks run at a small size and report their figures (never timed here)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from foreshock.cli import app


@pytest.mark.parametrize(
    ("name", "args", "figures"),
    [
        ("detect", ["--gpus", "2000"], {"samples_per_second"}),
        ("rca", ["--gpus", "1000", "--repeat", "3"], {"rca_seconds", "blast_radius_ms"}),
        (
            "sim",
            ["--gpus", "64", "--live-gpus", "64"],
            {"generate_seconds", "live_samples_per_second"},
        ),
    ],
)
def test_bench_reports_its_figures(name: str, args: list[str], figures: set[str]) -> None:
    result = CliRunner().invoke(app, ["bench", name, *args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["bench"] == name
    assert figures <= set(doc["figures"])
    assert all(f["value"] > 0 for f in doc["figures"].values())
    if name == "rca":  # the storm's cause is found, and it is one incident
        assert doc["context"]["ranked_first"] == doc["context"]["injected_cause"]
        assert doc["context"]["incidents"] == 1
