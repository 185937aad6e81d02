"""A scenario: a fleet, a stretch of time, faults placed in it, and everything they produce."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from foreshock.sim.alerting import AlertEngine
from foreshock.sim.faults import FAULTS, Context, FaultKind, Injection
from foreshock.sim.fleet import FleetShape, generate_fleet, write_topology
from foreshock.sim.layout import Layout
from foreshock.sim.output import TelemetryWriter, write_events, write_json
from foreshock.sim.physics import Physics
from foreshock.sim.state import State
from foreshock.sim.timefmt import rfc3339
from foreshock.topology import Topology, load_topology

START = 1_777_593_600.0  # 2026-05-01T00:00:00Z: a fixed start keeps runs reproducible
CHUNK_SAMPLES = 30_000_000  # series × steps per chunk, to bound memory at any fleet size


@dataclass(frozen=True)
class Scenario:
    shape: FleetShape = field(default_factory=FleetShape)
    hours: float = 1.0
    interval: float = 10.0
    start: float = START
    faults: tuple[str, ...] | None = None  # kinds to inject; None draws them by published mix
    fault_count: int | None = None  # for drawn faults; default one per 30 simulated minutes
    seed: int = 0

    @property
    def end(self) -> float:
        return self.start + self.hours * 3600


@dataclass
class Result:
    topology: Topology
    injections: list[Injection]
    samples: int
    files: dict[str, Path]

    def truth(self) -> list[dict[str, Any]]:
        return [i.truth.to_json() for i in self.injections]


def fits(fault: FaultKind, topo: Topology) -> Iterator[str]:
    """The entities `fault` can start from: of its root kinds, and accepted by it (a straggler
    needs a job to slow)."""
    for k in fault.root_kinds:
        for e in topo.ids_at(np.flatnonzero(topo.kind_mask(k)).tolist()):
            if fault.accepts(topo, e):
                yield e


def plan_faults(scenario: Scenario, layout: Layout) -> list[Injection]:
    rng = np.random.default_rng([scenario.seed, 3])
    topo = layout.topology
    usable = {n: f for n, f in FAULTS.items() if any(fits(f, topo))}
    if scenario.faults is not None:
        unknown = [k for k in scenario.faults if k not in FAULTS]
        if unknown:
            raise ValueError(
                f"unknown fault kind(s): {', '.join(unknown)}; see `foreshock sim faults`"
            )
        missing = [k for k in scenario.faults if k not in usable]
        if missing:
            raise ValueError(f"this fleet has nothing that can suffer: {', '.join(missing)}")
        kinds = list(scenario.faults)
    else:
        count = scenario.fault_count
        if count is None:
            count = max(1, round(scenario.hours * 2))
        names = sorted(usable)
        weights = np.array([usable[n].weight for n in names])
        kinds = [str(k) for k in rng.choice(names, size=count, p=weights / weights.sum())]
    span = scenario.end - scenario.start
    injections: list[Injection] = []
    taken: set[str] = set()

    def free(kind: str) -> list[str]:
        return sorted(e for e in fits(FAULTS[kind], topo) if e not in taken)

    for n, kind in enumerate(kinds):
        candidates = free(kind)
        if not candidates and scenario.faults is None:
            # A drawn kind whose every part already has a fault (a small fleet's one cooling
            # unit): draw again, by the same weights, among the kinds that still have a part.
            left = [k for k in sorted(usable) if free(k)]
            if not left:
                break
            p = np.array([usable[k].weight for k in left])
            kind = str(rng.choice(left, p=p / p.sum()))
            candidates = free(kind)
        if not candidates:
            raise ValueError(f"every part that can suffer {kind} already has a fault")
        fault = FAULTS[kind]
        root = candidates[int(rng.integers(len(candidates)))]
        taken.add(root)
        # Onsets leave room before (for baselines) and after (for the cascade to show).
        onset = float(scenario.start + span * rng.uniform(0.2, 0.85))
        onset = (
            scenario.start + round((onset - scenario.start) / scenario.interval) * scenario.interval
        )
        # Precursors start no earlier than the data, so that truth and telemetry agree.
        own = np.random.default_rng([scenario.seed, 4, n])  # its draws move no other fault
        ctx = Context(layout, own, f"fault-{n + 1}", earliest=scenario.start)
        injections.append(fault.plan(ctx, root, onset))
    return sorted(injections, key=lambda i: (i.truth.start, i.truth.id))


def simulate(
    scenario: Scenario,
    out_dir: Path,
    telemetry_format: str = "parquet",
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Generate the scenario into `out_dir`: topology.json, telemetry, events.log, alerts.json,
    truth.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    entities, relations = generate_fleet(scenario.shape)
    files = {"topology": write_topology(out_dir / "topology.json", entities, relations)}
    topo = Topology(entities, relations)
    layout = Layout.of(topo)
    injections = plan_faults(scenario, layout)
    physics = Physics(layout, scenario.start, scenario.seed)
    suffix = "parquet" if telemetry_format == "parquet" else "csv.gz"
    writer = TelemetryWriter(out_dir / f"telemetry.{suffix}", layout)
    steps = round(scenario.hours * 3600 / scenario.interval)
    per_step = max(1, sum(layout.count(k) for k in layout.entities) * 2)
    chunk = max(1, min(steps, CHUNK_SAMPLES // per_step))
    logs = [line for i in injections for line in i.logs]
    alerts = AlertEngine(layout, scenario.start, scenario.end, scenario.interval, scenario.seed)
    for c, first in enumerate(range(0, steps, chunk)):
        times = scenario.start + scenario.interval * np.arange(first, min(steps, first + chunk))
        state = state_for(layout, times, injections, scenario.interval)
        series = physics.run(state, [scenario.seed, 5, c])
        writer.write(times, series)
        alerts.feed(times, series, logs)
        if progress is not None:
            progress(min(steps, first + chunk), steps)
    writer.close()
    files["telemetry"] = writer.path
    in_span = [x for x in logs if scenario.start <= x.time < scenario.end]
    write_events(out_dir / "events.log", in_span)
    files["events"] = out_dir / "events.log"
    files["alerts"] = alerts.write(out_dir / "alerts.json")
    write_json(out_dir / "truth.json", _truth_doc(scenario, injections))
    files["truth"] = out_dir / "truth.json"
    return Result(topo, injections, writer.rows, files)


def state_for(
    layout: Layout, times: np.ndarray, injections: Sequence[Injection], interval: float
) -> State:
    """The hidden state of one chunk, with every planned fault applied to it."""
    state = State(layout, times, interval)
    for inj in injections:
        inj.effect(state)
        state.xids += inj.xids
        state.bumps += inj.bumps
        state.reboots += inj.reboots
    return state


def _truth_doc(scenario: Scenario, injections: Sequence[Injection]) -> dict[str, Any]:
    return {
        "start": rfc3339(scenario.start),
        "end": rfc3339(scenario.end),
        "interval_seconds": scenario.interval,
        "seed": scenario.seed,
        "fleet": {"kind": scenario.shape.kind, "gpus": scenario.shape.gpus},
        "faults": [i.truth.to_json() for i in injections],
    }


def read_scenario(folder: Path) -> tuple[dict[str, Any], Topology, list[Path], list[Path]]:
    """What `simulate` wrote into `folder`, for a scorer: the truth record, the topology, the
    telemetry files and the kernel log (none if it is missing). A truth.json that is not JSON
    or a folder without telemetry is refused with a message that names it."""
    try:
        truth = json.loads((folder / "truth.json").read_text())
    except ValueError as e:
        raise ValueError(f"{folder / 'truth.json'}: not JSON ({e})") from e
    topo = load_topology([folder / "topology.json"])
    telemetry = sorted(folder.glob("telemetry.*"))
    if not telemetry:
        raise ValueError(f"{folder}: no telemetry file (telemetry.parquet or telemetry.csv)")
    events = [folder / "events.log"] if (folder / "events.log").exists() else []
    return truth, topo, telemetry, events


def scenario_folders(path: Path) -> list[Path]:
    """`path` itself when it is one scenario, else the scenarios in it, by name."""
    if (path / "truth.json").exists():
        return [path]
    found = (
        sorted(p for p in path.iterdir() if (p / "truth.json").exists()) if path.is_dir() else []
    )
    if not found:
        raise ValueError(f"no scenario at {path}: a folder with truth.json, or folders of them")
    return found
