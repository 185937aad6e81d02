"""Figures of root-cause rankings: AC@k, Avg@5 and the AC@1 of guessing, overall and per group.

AC@k is the share of cases whose true root is among the first k suspects; Avg@5 the mean of
AC@1..AC@5 (RCAEval's definition); chance AC@1 the mean over cases of 1 / number of entities
ranked, what a uniformly random ranking scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Outcome:
    case: str
    group: str
    rank: int | None  # 1-based position of the true root, None if it was not ranked
    ranked: int  # how many entities were ranked


def ac(k: int, ranks: Sequence[int | None]) -> float:
    if not ranks:
        return 0.0
    return round(float(np.mean([r is not None and r <= k for r in ranks])), 4)


def avg5(ranks: Sequence[int | None]) -> float:
    if not ranks:
        return 0.0
    return round(float(np.mean([ac(k, ranks) for k in range(1, 6)])), 4)


def figures(
    dataset: str, split: str, outcomes: Sequence[Outcome], skipped: int = 0
) -> dict[str, Any]:
    """The `foreshock eval rca --json` shape, plus `misses`: each case not ranked first."""
    ranks = [o.rank for o in outcomes]
    groups: dict[str, list[int | None]] = {}
    for o in outcomes:
        groups.setdefault(o.group, []).append(o.rank)
    chance = float(np.mean([1.0 / o.ranked for o in outcomes if o.ranked])) if outcomes else 0.0
    return {
        "dataset": dataset,
        "split": split,
        "cases": len(outcomes),
        "skipped": skipped,
        "ac1": ac(1, ranks),
        "ac3": ac(3, ranks),
        "avg5": avg5(ranks),
        "chance_ac1": round(chance, 4),
        "groups": {
            g: {"cases": len(rs), "ac1": ac(1, rs), "ac3": ac(3, rs), "avg5": avg5(rs)}
            for g, rs in sorted(groups.items())
        },
        "misses": {o.case: o.rank for o in outcomes if o.rank != 1},
    }
