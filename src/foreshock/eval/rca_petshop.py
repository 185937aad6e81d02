"""Root-cause accuracy on the PetShop dataset (amazon-science/petshop-root-cause-analysis).

Layout, per traffic scenario: `graph.csv` (adjacency matrix, row calls column), `noissue/`
(normal period) and `<split>/issue_k/` with `metrics.csv` (three header rows: node, metric,
statistic; then unix time and values every 5 minutes) and `target.json` (the alerting node,
metric, statistic and time, and the true root-cause node).

Each issue is diagnosed by `service_rca.rank_with_graph` on the alert's own metric and
statistic: rows whose 5-minute bucket ends by the alert time give the pre-onset level, the rest
the anomalous period. Scenarios without a normal period of their own (the temporal ones in the
copy shipped here) borrow those of the other scenarios of the same folder: it is the same
application and graph under another traffic level, and the deviation step picks, per series,
the period whose scale best describes the pre-onset state. A scenario with no normal period
anywhere has its issues counted as skipped. Groups are "<scenario>/<alert metric>".
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foreshock.diagnose.service_rca import deviations, rank_with_graph
from foreshock.eval.ranking import Outcome, figures

Column = tuple[str, str, str]  # node, metric, statistic


@dataclass(frozen=True)
class Metrics:
    times: np.ndarray
    columns: dict[Column, np.ndarray]

    def select(self, metric: str, statistic: str) -> dict[tuple[str, str], np.ndarray]:
        return {
            (node, f"{m}/{s}"): v
            for (node, m, s), v in self.columns.items()
            if m == metric and s == statistic
        }


def read_metrics(path: Path) -> Metrics:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header = list(zip(rows[0][1:], rows[1][1:], rows[2][1:], strict=True))
    body = [r for r in rows[3:] if r and r[0] and _is_number(r[0])]
    times = np.array([float(r[0]) for r in body])
    values = np.array([[float(x) if x else np.nan for x in r[1:]] for r in body], dtype=float)
    columns: dict[Column, np.ndarray] = {}
    for j, col in enumerate(header):
        # A node/metric/statistic appears once; keep the first if a file repeats one.
        columns.setdefault(col, values[:, j] if body else np.empty(0))
    return Metrics(times, columns)


def read_graph(path: Path) -> dict[str, list[str]]:
    """Caller -> callees, from the adjacency matrix (row i, column j nonzero: i calls j)."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    names = rows[0][1:]
    return {
        r[0]: [names[j] for j, x in enumerate(r[1:]) if x and float(x) != 0.0] for r in rows[1:]
    }


def evaluate_petshop(
    path: Path, split: str = "train", progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    splits = ["train", "test"] if split == "all" else [split]
    scenarios = sorted(p for p in path.iterdir() if (p / "graph.csv").is_file())
    normals = {
        s.name: read_metrics(s / "noissue" / "metrics.csv")
        for s in scenarios
        if (s / "noissue" / "metrics.csv").is_file()
    }
    issues = [
        (s, issue)
        for s in scenarios
        for sp in splits
        if (s / sp).is_dir()
        for issue in sorted((s / sp).iterdir(), key=_issue_order)
        if (issue / "target.json").is_file()
    ]
    outcomes: list[Outcome] = []
    skipped = 0
    for n, (scenario, issue) in enumerate(issues):
        own = normals.get(scenario.name)
        refs = [own] if own else list(normals.values())
        outcome = diagnose_issue(scenario, issue, refs) if refs else None
        if outcome is None:
            skipped += 1
        else:
            outcomes.append(outcome)
        if progress:
            progress(n + 1, len(issues))
    return figures("petshop", split, outcomes, skipped)


def diagnose_issue(scenario: Path, issue: Path, normals: list[Metrics]) -> Outcome | None:
    target = json.loads((issue / "target.json").read_text())
    alert = target["target"]
    node, metric, stat = alert["node"], alert["metric"], alert.get("agg", "Average")
    data = read_metrics(issue / "metrics.csv")
    if data.times.size == 0:
        return None
    step = float(np.median(np.diff(data.times))) if data.times.size > 1 else 300.0
    onset = int(np.sum(data.times + step <= float(alert["timestamp"])))
    devs = deviations(
        data.select(metric, stat), [m.select(metric, stat) for m in normals], onset=onset
    )
    if not devs:
        return None
    ranked = [s.entity for s in rank_with_graph(devs, read_graph(scenario / "graph.csv"), node)]
    root = target["root_cause"]["node"]
    return Outcome(
        case=f"{scenario.name}/{issue.parent.name}/{issue.name}",
        group=f"{scenario.name}/{metric}",
        rank=ranked.index(root) + 1 if root in ranked else None,
        ranked=len(ranked),
    )


def _issue_order(p: Path) -> tuple[int, str]:
    tail = p.name.rsplit("_", 1)[-1]
    return (int(tail) if tail.isdigit() else 1 << 30, p.name)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True
