"""Alert storms on the simulator: how many incidents the alerts become, and whether any
incident holds the symptoms of two independent faults.

Each scenario is a fleet (HGX and NVL72 in turn) over several hours with many faults drawn by
their published mix, so that faults overlap in time and share racks, rows and jobs. Every alert
goes through one correlator, in time order, as the service would see it.

A firing is a symptom of a fault when its entity is one the fault affected (or the fault's
root) and it began between a minute before the fault's precursor or onset and the end of the
fault (at least fifteen minutes after the onset): a part a fault reaches shows it for as long
as the fault lasts (a GPU that throttles an hour into its cooling unit's outage). Two kinds of
firing are nobody's in particular: a wait (an alert that shows only a stall:
`NCCLWatchdogTimeout`, `JobStalled`), because a synchronous job stalls for any fault of any of
its members, so when two faults reach one job its waits could be either's; and an alert that
names no kind of trouble at all (a clock skew, a disk filling up), which the background of any
fleet raises on parts that faults also happen to reach. A host's kernel log reports the XIDs of
the GPUs it contains, so an alert of device trouble on the root's container (`NodeKernelXid` on
the node of a failing GPU) is also the fault's. An incident *merges* two faults when it holds
firings that are symptoms of one fault only, for two faults.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from foreshock.correlate import Correlator
from foreshock.ingest.alertmanager import parse_any
from foreshock.ingest.events import EventResolver
from foreshock.ingest.series import SeriesTable
from foreshock.sim.fleet import FleetShape
from foreshock.sim.scenario import Scenario, simulate
from foreshock.sim.timefmt import parse_time
from foreshock.topology import load_topology

BEFORE = 60.0  # a symptom may begin this long before the fault's precursor or onset
AFTER = 900.0  # and until the fault ends, or at least this long after the onset


def scenario_for(n: int, seed: int = 0, gpus: int = 512, faults: int = 10) -> Scenario:
    """The n-th storm: shapes alternating, many faults over four hours."""
    shape = "nvl72" if n % 2 else "hgx"
    size = gpus if shape == "hgx" else (gpus // 72 + 1) * 72
    fleet = FleetShape(gpus=size, seed=seed * 1000 + n, kind=shape)
    return Scenario(fleet, hours=4.0, fault_count=faults, seed=seed * 1000 + n)


def judge(folder: Path) -> dict[str, Any]:
    """Correlate a generated scenario's alerts; count incidents and merged faults."""
    truth = json.loads((folder / "truth.json").read_text())
    topo = load_topology([folder / "topology.json"])
    mapper = EventResolver(topo, SeriesTable(topo)).alert_mapper()
    raw = json.loads((folder / "alerts.json").read_text())
    alerts = parse_any(raw, mapper, now=parse_time(truth["end"]))
    correlator = Correlator(topo)
    correlator.feed(alerts)
    spans = []
    for f in truth["faults"]:
        begin = parse_time(f["precursor_start"] or f["start"]) - BEFORE
        hit = {*f["affected"], f["root"]}
        logs = {p.id for p in topo.parents(f["root"], "contains")} if f["root"] in topo else set()
        until = max(parse_time(f["start"]) + AFTER, parse_time(f["end"]))
        spans.append((f["id"], begin, until, hit, logs))
    merged = []
    for g in correlator.groups:
        sole: Counter[str] = Counter()
        for m in g.members.values():
            if not m.is_alert or m.symptom is None or not m.trouble:
                continue
            device = "device" in m.symptom.signs
            owners = {
                fid
                for fid, b, e, hit, logs in spans
                if (m.entity in hit or (device and m.entity in logs)) and b <= m.start <= e
            }
            if len(owners) == 1:
                sole[owners.pop()] += 1
        if len(sole) > 1:
            merged.append({"incident": f"inc-{g.number}", "faults": dict(sorted(sole.items()))})
    return {
        "alerts": len(alerts),
        "incidents": len(correlator.groups),
        "faults": len(truth["faults"]),
        "merged": merged,
    }


def evaluate_storms_sim(
    cases: int = 8,
    seed: int = 0,
    gpus: int = 512,
    faults: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    per_case = []
    for n in range(cases):
        with tempfile.TemporaryDirectory() as tmp:
            simulate(scenario_for(n, seed, gpus, faults), Path(tmp))
            per_case.append(judge(Path(tmp)))
        if progress:
            progress(n + 1, cases)
    alerts = sum(c["alerts"] for c in per_case)
    incidents = sum(c["incidents"] for c in per_case)
    return {
        "dataset": "sim",
        "cases": cases,
        "faults": sum(c["faults"] for c in per_case),
        "alerts": alerts,
        "incidents": incidents,
        "reduction": round(1 - incidents / alerts, 4) if alerts else 0.0,
        "merged": sum(len(c["merged"]) for c in per_case),
        "merges": [{"case": n, **m} for n, c in enumerate(per_case) for m in c["merged"]],
    }
