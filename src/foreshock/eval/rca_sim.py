"""Root-cause accuracy on the simulator: one fault per scenario, its alert storm and the
anomalies in its telemetry diagnosed as `foreshock rca` would.

Scenarios cycle through every fault kind on fleets of both shapes (HGX and NVL72) and several
sizes. The incident is every alert and finding that began within `window` seconds of the first
one after the fault's onset, plus the alerts already firing (chronic warnings, background
noise). A fault that shows nowhere (no alert or finding on anything it affected: a spine
switch whose traffic reroutes, a room-cooling dip the alarms never see) cannot be diagnosed
and is counted as skipped, by kind. AC@k is the share of the rest whose root is among the
first k causes; a cause reported with alternatives it cannot be told apart from (eight power
shelves of one rack) counts when the root is one of them.

Scenarios already generated (`foreshock sim generate` folders: a held-out set) are scored by the
same rules (`evaluate_rca_folder`), every fault of each diagnosed at its own onset.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foreshock.detect.run import default_bank, detect_files
from foreshock.diagnose.rank import Cause, rank_causes
from foreshock.diagnose.symptoms import (
    GENERIC_DETECTORS,
    from_alerts,
    from_findings,
    in_window,
    observable_kinds,
    precursors,
)
from foreshock.ingest.alertmanager import parse_any
from foreshock.ingest.events import EventResolver
from foreshock.ingest.series import SeriesTable
from foreshock.model import Alert, Finding
from foreshock.sim.faults import FAULTS
from foreshock.sim.fleet import FleetShape
from foreshock.sim.scenario import Scenario, read_scenario, scenario_folders, simulate
from foreshock.sim.timefmt import parse_time
from foreshock.topology import Topology

WINDOW = 900.0
SIZES = {"hgx": (128, 256, 512), "nvl72": (144, 288, 576)}


@dataclass(frozen=True)
class Case:
    kind: str
    rank: int | None  # None: not in the top 5; skipped cases are not Cases
    candidates: int


def scenario_for(n: int, seed: int = 0) -> Scenario:
    """The n-th scenario: kinds in turn, shapes alternating every round, sizes growing."""
    kinds = sorted(FAULTS)
    kind = kinds[n % len(kinds)]
    round_ = n // len(kinds)
    shape = "nvl72" if kind == "power_shelf" or round_ % 2 == 1 else "hgx"
    gpus = SIZES[shape][(round_ // 2) % 3]
    fleet = FleetShape(gpus=gpus, seed=seed + n, kind=shape)
    return Scenario(fleet, hours=1.5, faults=(kind,), seed=seed * 1000 + 7000 + n)


def diagnose_folder(folder: Path) -> list[tuple[dict[str, Any], list[Cause], bool]]:
    """Diagnose each fault of a generated scenario folder, as `foreshock rca --at` its onset
    would: the fault's truth record, the causes, and whether the fault showed at all. The
    telemetry is detected once for all of them."""
    truth, topo, telemetry, events = read_scenario(folder)
    if not (folder / "alerts.json").exists():
        raise ValueError(f"{folder}: no alerts.json")
    table = SeriesTable(topo)
    findings = detect_files(topo, telemetry, events, default_bank(table))
    mapper = EventResolver(topo, table).alert_mapper()
    alerts = parse_any(
        json.loads((folder / "alerts.json").read_text()), mapper, now=parse_time(truth["end"])
    )
    return [
        (fault, *rank_fault(topo, table, alerts, findings, fault))
        for fault in truth.get("faults", [])
    ]


def rank_fault(
    topo: Topology,
    table: SeriesTable,
    alerts: list[Alert],
    findings: list[Finding],
    fault: dict[str, Any],
) -> tuple[list[Cause], bool]:
    start = parse_time(fault["start"])
    affected = set(fault["affected"]) | {fault["root"]}
    firsts = [a.starts_at for a in alerts if a.starts_at >= start]
    firsts += [
        f.raised_at
        for f in findings
        if f.raised_at >= start and f.detector not in GENERIC_DETECTORS
    ]
    if not firsts:
        return [], False
    t0 = min(firsts)
    incident = in_window(alerts, t0 - 60, t0 + WINDOW)
    found = [
        f
        for f in findings
        if t0 - 60 <= f.raised_at < t0 + WINDOW and f.detector not in GENERIC_DETECTORS
    ]
    shown = any(a.entity in affected for a in incident if a.starts_at >= start) or any(
        f.entity in affected for f in found
    )
    symptoms = from_alerts(topo, incident) + from_findings(found)
    symptoms += precursors(findings, t0 - 60)
    causes = rank_causes(topo, symptoms, observable(topo, table, alerts), top=5, start=t0 - 60)
    return causes, shown


def observable(topo: Topology, table: SeriesTable, alerts: list[Alert]) -> np.ndarray:
    """Entities with telemetry of their own, and every entity of a kind that has alerted."""
    mask = np.zeros(len(topo), dtype=bool)
    ids = [table[s].entity for s in range(len(table))]
    mapped = np.array([i for i in ids if i >= 0], dtype=np.int64)
    mask[mapped] = True
    mask |= observable_kinds(topo, [a.entity for a in alerts])
    return mask


def rank_of(root: str, causes: list[Cause]) -> int | None:
    for k, c in enumerate(causes, 1):
        if root == c.entity or root in c.alternatives:
            return k
    return None


def evaluate_rca_sim(
    cases: int = 36,
    seed: int = 0,
    gpus: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    results: list[Case] = []
    skipped: Counter[str] = Counter()
    for n in range(cases):
        scenario = scenario_for(n, seed)
        if gpus is not None:
            scenario = Scenario(
                FleetShape(gpus=gpus, seed=scenario.shape.seed, kind=scenario.shape.kind),
                hours=scenario.hours,
                faults=scenario.faults,
                seed=scenario.seed,
            )
        with tempfile.TemporaryDirectory() as tmp:
            simulate(scenario, Path(tmp))
            score(diagnose_folder(Path(tmp)), results, skipped)
        if progress:
            progress(n + 1, cases)
    return figures("sim", results, skipped)


def evaluate_rca_folder(
    path: Path, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """The figures over scenarios already generated (`foreshock sim generate` folders, one or a
    folder of them: a held-out set): every fault of each is diagnosed at its onset."""
    folders = scenario_folders(path)
    results: list[Case] = []
    skipped: Counter[str] = Counter()
    for n, folder in enumerate(folders):
        score(diagnose_folder(folder), results, skipped)
        if progress:
            progress(n + 1, len(folders))
    return {**figures("sim", results, skipped), "path": str(path), "scenarios": len(folders)}


def score(
    diagnosed: list[tuple[dict[str, Any], list[Cause], bool]],
    results: list[Case],
    skipped: Counter[str],
) -> None:
    """A fault that showed nowhere is skipped, by kind; the others are ranked."""
    for fault, causes, shown in diagnosed:
        if not shown:
            skipped[fault["kind"]] += 1
        else:
            results.append(Case(fault["kind"], rank_of(fault["root"], causes), len(causes)))


def figures(dataset: str, results: list[Case], skipped: Counter[str]) -> dict[str, Any]:
    def ac(k: int, rs: list[int | None]) -> float:
        return round(float(np.mean([r is not None and r <= k for r in rs])), 4) if rs else 0.0

    groups: dict[str, list[int | None]] = {}
    for case in results:
        groups.setdefault(case.kind, []).append(case.rank)
    ranks = [c.rank for c in results]
    return {
        "dataset": dataset,
        "split": "all",
        "cases": len(results),
        "skipped": sum(skipped.values()),
        "ac1": ac(1, ranks),
        "ac3": ac(3, ranks),
        "avg5": round(float(np.mean([ac(k, ranks) for k in range(1, 6)])), 4),
        "groups": {
            k: {
                "cases": len(v),
                "ac1": ac(1, v),
                "ac3": ac(3, v),
                "avg5": round(float(np.mean([ac(j, v) for j in range(1, 6)])), 4),
            }
            for k, v in sorted(groups.items())
        },
        "skipped_by_kind": dict(sorted(skipped.items())),
        "misses": dict(Counter(c.kind for c in results if c.rank != 1)),
    }
