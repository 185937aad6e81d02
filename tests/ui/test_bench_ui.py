"""`foreshock bench ui` at a small size reports its figures (their values are never judged)."""

from __future__ import annotations

from conftest import chromium_path

from foreshock.bench.registry import BenchOptions
from foreshock.bench.ui import bench_ui


def test_bench_ui_reports_its_figures() -> None:
    result = bench_ui(BenchOptions(gpus=64, repeat=2))
    figures = {f.name: f for f in result.figures}
    assert {"incident_list_ms", "incident_list_filtered_ms"} <= set(figures)
    assert figures["incident_list_ms"].baseline_value is not None
    if chromium_path() is not None:
        assert figures["fleet_map_render_seconds"].value > 0
    else:
        assert result.context["fleet_map"].startswith("not measured")
    assert all(f.value > 0 for f in result.figures)
    assert result.context["incidents"] == 10_000
