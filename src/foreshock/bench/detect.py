"""`foreshock bench detect`: the whole detector bank over 100,000 series of a simulated fleet.

One pass feeds a fresh default bank 30 scrapes of every series, 10 s apart, as a live ingest
would (one batch per scrape), after the fleet is settled as the service settles it at start-up
(`foreshock.collector.settle`); its figure is samples fed ÷ seconds spent in `Bank.feed`,
the first scrape included (it is where each series is first seen and its state allocated).
The machine may be shared, so the bench makes several passes and reports the median, and
measures its baseline (an EWMA per sample in a Python loop) after each pass, under the same load.
Each pass's CPU time (this process only, one core) is reported too: load from other processes
slows the wall clock but not that.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np

from foreshock.bench.registry import BenchOptions, BenchResult, Figure, timed
from foreshock.collector import settle
from foreshock.detect.run import default_bank
from foreshock.ingest.series import SeriesTable
from foreshock.model import SampleBatch
from foreshock.sim.fleet import FleetShape, generate_fleet
from foreshock.sim.metrics import metrics_of
from foreshock.topology import Topology

SERIES = 100_000
STEPS = 30
PASSES = 5


def bench_detect(options: BenchOptions) -> BenchResult:
    """Every GPU's DCGM fields (gauges, error counters, clocks compared across each job's
    ranks), so that every family of the bank has its share of the series."""
    target = options.gpus or SERIES
    gpu_metrics = metrics_of("gpu")
    gpus = max(8, math.ceil(target / len(gpu_metrics) / 8) * 8)
    topo = Topology(*generate_fleet(FleetShape(gpus=gpus)))
    table = SeriesTable(topo)
    labels = [
        {"__name__": m.name, **dict(g.labels)} for g in topo.entities("gpu") for m in gpu_metrics
    ][:target]
    ids = table.ids(labels, "bench")
    settle()  # as the service does once its topology and tables are loaded
    counter = np.array([m.type == "counter" for m in gpu_metrics] * gpus)[: len(ids)]
    passes = max(1, min(PASSES, options.repeat))
    progress = options.progress
    task = (
        progress.add_task(f"detector bank over {len(ids):,} series", total=passes * STEPS)
        if progress
        else None
    )
    rates, steady, cpu, baseline, first = [], [], [], [], []
    detectors: list[str] = []
    for p in range(passes):
        rng = np.random.default_rng(0)  # every pass sees the same samples
        level = rng.uniform(20, 2000, len(ids))
        totals = np.zeros(len(ids))
        bank = default_bank(table)
        detectors = [a.detector.name for a in bank.detectors]
        wall: list[float] = []
        cpu_seconds = 0.0
        for k in range(STEPS):
            totals += np.where(counter, rng.poisson(0.05, len(ids)), 0)
            values = np.where(counter, totals, level + rng.normal(0, 1, len(ids)))
            batch = SampleBatch(ids, np.full(len(ids), 10.0 * k), values)
            cpu_start = time.process_time()
            wall.append(timed(lambda: bank.feed(batch)))  # noqa: B023 (called at once)
            cpu_seconds += time.process_time() - cpu_start
            if progress is not None and task is not None:
                progress.update(task, completed=p * STEPS + k + 1)
        rates.append(len(ids) * STEPS / sum(wall))
        steady.append(len(ids) * (STEPS - 1) / sum(wall[1:]))
        cpu.append(len(ids) * STEPS / cpu_seconds)
        first.append(wall[0])
        baseline.append(_python_loop_rate(level, rng))
    return BenchResult(
        "detect",
        (
            Figure(
                "samples_per_second",
                statistics.median(rates),
                "samples/s",
                "one EWMA per sample in a Python loop",
                statistics.median(baseline),
            ),
            Figure(
                "steady_samples_per_second",
                statistics.median(steady),
                "samples/s",
                help="scrapes after the first (every series already known)",
            ),
        ),
        {
            "series": len(ids),
            "gpus": gpus,
            "steps": STEPS,
            "passes": passes,
            "samples_per_second_each_pass": [round(r) for r in rates],
            "baseline_each_pass": [round(b) for b in baseline],
            "cpu_samples_per_second_median": round(statistics.median(cpu)),
            "first_scrape_seconds_median": round(statistics.median(first), 4),
            "detectors": detectors,
        },
    )


def _python_loop_rate(base: np.ndarray, rng: np.random.Generator) -> float:
    """What object-per-sample code manages: the cheapest detector there is, an EWMA (the
    best of three runs over 20,000 series, so that one preempted run does not flatter us)."""
    values = (base[:20_000] + rng.normal(0, 1, min(20_000, len(base)))).tolist()
    state = [0.0] * len(values)

    def run() -> None:
        for i, v in enumerate(values):
            m = state[i]
            state[i] = m + 0.1 * (v - m)
            _ = abs(v - m) > 3 * math.sqrt(abs(m) + 1)

    return len(values) / min(timed(run) for _ in range(3))
