"""`foreshock bench detect` on a small fleet: its figures, its passes, its baseline."""

from __future__ import annotations

from foreshock.bench.detect import STEPS, bench_detect
from foreshock.bench.registry import BenchOptions


def test_passes_are_reported_and_the_median_is_the_figure() -> None:
    result = bench_detect(BenchOptions(gpus=2000, repeat=3))
    doc = result.to_json()
    figures = doc["figures"]
    assert {"samples_per_second", "steady_samples_per_second"} <= set(figures)
    rate = figures["samples_per_second"]
    assert rate["baseline"] == "one EWMA per sample in a Python loop"
    assert rate["baseline_value"] > 0
    ctx = doc["context"]
    assert ctx["passes"] == 3
    assert ctx["steps"] == STEPS
    each = sorted(ctx["samples_per_second_each_pass"])
    assert len(each) == 3
    assert abs(rate["value"] - each[1]) <= 1  # the median pass
    assert len(ctx["baseline_each_pass"]) == 3
    assert ctx["series"] == 2000
    assert set(ctx["detectors"]) == {"ensemble", "counter_rates", "gauge_trends", "peer_deficit"}
