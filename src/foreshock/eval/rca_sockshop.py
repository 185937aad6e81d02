"""Root-cause accuracy on Sock Shop fault injections (azamikram/rcd; RCAEval's "Sock Shop 1").

Layout: `<service>-<fault>/<n>/normal.csv` and `anomalous.csv`, one row a second, a `time`
column and one column per `<service>_<metric>` (cpu, mem, lod, lat_50 ...); the root cause is
the service in the folder name. The anomalous file starts at the injection, so the whole of it
is the anomalous period and there is no pre-onset level; there is no graph either. Each case is
ranked by `service_rca.rank_entities`: robust z of each metric against the normal file, the
largest per service (NSigma/BARO). The dataset has no train/test split, so every split
evaluates every case. Groups are the fault kinds ("cpu", "mem").
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from foreshock.diagnose.service_rca import deviations, rank_entities
from foreshock.eval.ranking import Outcome, figures


def read_frame(path: Path) -> dict[tuple[str, str], np.ndarray]:
    """Columns other than time, keyed by (service, metric) split at the first underscore."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    values = np.array(
        [[float(x) if x else np.nan for x in r] for r in rows[1:] if r], dtype=float
    ).reshape(-1, len(header))
    out: dict[tuple[str, str], np.ndarray] = {}
    for j, name in enumerate(header):
        if name == "time" or "_" not in name:
            continue
        service, metric = name.split("_", 1)
        out[(service, metric)] = values[:, j]
    return out


def evaluate_sockshop(
    path: Path, split: str = "all", progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    cases = sorted(
        (c for c in path.glob("*-*/*") if (c / "normal.csv").is_file()),
        key=lambda c: (c.parent.name, _number(c.name)),
    )
    outcomes: list[Outcome] = []
    skipped = 0
    for n, case in enumerate(cases):
        root, fault = case.parent.name.rsplit("-", 1)
        anomalous = case / "anomalous.csv"
        if not anomalous.is_file():
            skipped += 1
        else:
            devs = deviations(read_frame(anomalous), [read_frame(case / "normal.csv")])
            ranked = [s.entity for s in rank_entities(devs)]
            outcomes.append(
                Outcome(
                    case=f"{case.parent.name}/{case.name}",
                    group=fault,
                    rank=ranked.index(root) + 1 if root in ranked else None,
                    ranked=len(ranked),
                )
            )
        if progress:
            progress(n + 1, len(cases))
    # No split in this dataset: whatever was asked, the figures cover every case.
    return figures("rcd-sockshop", "all", outcomes, skipped)


def _number(name: str) -> tuple[int, str]:
    return (int(name), name) if name.isdigit() else (1 << 30, name)
