"""Root-cause accuracy on the simulator: one fault per scenario, its alert storm diagnosed.

The incident is every alert that began within `window` seconds of the first alert after the
fault's onset, plus those already firing (chronic warnings, background noise); AC@k is the
share of faults whose root is among the first k causes.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from foreshock.diagnose.rank import rank_causes
from foreshock.diagnose.symptoms import from_alerts, in_window, observable_kinds
from foreshock.ingest.alertmanager import parse_any
from foreshock.sim.faults import FAULTS
from foreshock.sim.fleet import FleetShape
from foreshock.sim.scenario import Scenario, simulate

WINDOW = 900.0


def evaluate_rca_sim(
    cases: int = 36,
    seed: int = 0,
    gpus: int = 128,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    kinds = sorted(k for k in FAULTS if k != "power_shelf")
    ranks: list[tuple[str, int | None]] = []
    for n in range(cases):
        kind = kinds[n % len(kinds)]
        scenario = Scenario(
            FleetShape(gpus=gpus, seed=seed + n), hours=1.5, faults=(kind,), seed=seed * 1000 + n
        )
        with tempfile.TemporaryDirectory() as tmp:
            result = simulate(scenario, Path(tmp))
            alerts = parse_any(
                json.loads((Path(tmp) / "alerts.json").read_text()),
                result.topology.map_labels,
                now=scenario.end,
            )
        truth = result.injections[0].truth
        after = sorted(a.starts_at for a in alerts if a.starts_at >= truth.start)
        rank = None
        if after:
            incident = in_window(alerts, after[0] - 60, after[0] + WINDOW)
            symptoms = from_alerts(result.topology, incident)
            seen = observable_kinds(result.topology, [a.entity for a in alerts])
            causes = rank_causes(result.topology, symptoms, seen, top=5, start=after[0] - 60)
            ids = [c.entity for c in causes]
            rank = ids.index(truth.root) + 1 if truth.root in ids else None
        ranks.append((kind, rank))
        if progress:
            progress(n + 1, cases)
    return _figures("sim", ranks)


def _figures(dataset: str, ranks: list[tuple[str, int | None]]) -> dict[str, Any]:
    def ac(k: int, rs: list[int | None]) -> float:
        return round(float(np.mean([r is not None and r <= k for r in rs])), 4) if rs else 0.0

    groups: dict[str, list[int | None]] = {}
    for kind, r in ranks:
        groups.setdefault(kind, []).append(r)
    all_ranks = [r for _, r in ranks]
    return {
        "dataset": dataset,
        "cases": len(ranks),
        "skipped": 0,
        "ac1": ac(1, all_ranks),
        "ac3": ac(3, all_ranks),
        "avg5": round(float(np.mean([ac(k, all_ranks) for k in range(1, 6)])), 4),
        "groups": {
            k: {
                "cases": len(v),
                "ac1": ac(1, v),
                "ac3": ac(3, v),
                "avg5": round(float(np.mean([ac(j, v) for j in range(1, 6)])), 4),
            }
            for k, v in sorted(groups.items())
        },
        "misses": dict(Counter(k for k, r in ranks if r != 1)),
    }
