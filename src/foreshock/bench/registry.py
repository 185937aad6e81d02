"""Benchmark results and the name → benchmark registry."""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.progress import Progress


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    help: str = ""

    @property
    def ratio(self) -> float | None:
        """value ÷ baseline_value, as in the spec's example."""
        if self.baseline_value in (None, 0):
            return None
        assert self.baseline_value is not None
        return self.value / self.baseline_value

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": _round(self.value), "unit": self.unit}
        if self.baseline is not None and self.baseline_value is not None:
            out["baseline"] = self.baseline
            out["baseline_value"] = _round(self.baseline_value)
            ratio = self.ratio
            if ratio is not None:
                out["ratio"] = float(f"{ratio:.4g}")  # significant figures: ratios can be small
        return out


def _round(x: float) -> float:
    return float(f"{x:.4g}") if abs(x) < 1000 else round(x, 1)


@dataclass(frozen=True, slots=True)
class BenchResult:
    bench: str
    figures: tuple[Figure, ...]
    context: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "python": platform.python_version(),
            "cores": len(os.sched_getaffinity(0)),  # what this process may use
            "context": self.context,
            "figures": {f.name: f.to_json() for f in self.figures},
        }


@dataclass(frozen=True, slots=True)
class BenchOptions:
    gpus: int | None = None
    live_gpus: int | None = None
    repeat: int = 20
    progress: Progress | None = None


Bench = Callable[[BenchOptions], BenchResult]

# name → "module:function", imported on use so that `foreshock --help` stays fast.
BENCHES: dict[str, tuple[str, str]] = {
    "topology": (
        "foreshock.bench.topology:bench_topology",
        "load a 100,000-GPU fleet, map 1,000,000 label sets, query downstream of a power feed",
    ),
    "ingest": (
        "foreshock.bench.ingest:bench_ingest",
        "decode remote_write requests and parse dcgm-exporter pages",
    ),
    "detect": (
        "foreshock.bench.detect:bench_detect",
        "the whole detector bank over 100,000 series, 30 steps",
    ),
    "rca": (
        "foreshock.bench.rca:bench_rca",
        "an incident of 10,000 alerts on a 100,000-GPU fleet: diagnose, correlate, blast radius",
    ),
    "ui": (
        "foreshock.bench.ui:bench_ui",
        "fleet map of a 100,000-GPU fleet in headless Chromium; incident list at 10,000 incidents",
    ),
    "sim": (
        "foreshock.bench.sim:bench_sim",
        "simulate one hour of 10,000 GPUs into Parquet; live steps of 100,000 GPUs",
    ),
}


def run_bench(name: str, options: BenchOptions) -> BenchResult:
    if name not in BENCHES:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHES))}")
    module, func = BENCHES[name][0].split(":")
    bench: Bench = getattr(importlib.import_module(module), func)
    return bench(options)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    return 1000 * statistics.median(timed(fn) for _ in range(max(1, repeat)))
