"""Sock Shop evaluator: reader and layout on hand-made cases, and the published Avg@5 level."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from foreshock.eval.rca_sockshop import evaluate_sockshop, read_frame

DATASETS = Path(
    os.environ.get("FORESHOCK_DATASETS", Path(__file__).resolve().parents[2] / "../shared/datasets")
)
SOCKSHOP = DATASETS / "rcd-sockshop"
needs_sockshop = pytest.mark.skipif(
    not (SOCKSHOP / "carts-cpu" / "1" / "normal.csv").is_file(),
    reason=f"Sock Shop dataset not found at {SOCKSHOP} (set FORESHOCK_DATASETS)",
)
COLUMNS = ["time", "carts_cpu", "carts-db_cpu", "orders_cpu", "orders_lat_50"]


def _write(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(",".join(f"{v}" for v in r) for r in rows)
    path.write_text(",".join(COLUMNS) + "\n" + body + "\n")


def _case(root: Path, folder: str, n: int, hot: int) -> None:
    rng = np.random.default_rng(n)
    normal = np.column_stack([np.arange(100), 10 + rng.standard_normal((100, 4))])
    anomalous = np.column_stack([np.arange(100, 160), 10 + rng.standard_normal((60, 4))])
    anomalous[:, hot] += 50
    _write(root / folder / str(n) / "normal.csv", normal)
    _write(root / folder / str(n) / "anomalous.csv", anomalous)


def test_reader_splits_service_and_metric(tmp_path: Path) -> None:
    _case(tmp_path, "carts-cpu", 1, hot=1)
    frame = read_frame(tmp_path / "carts-cpu" / "1" / "normal.csv")
    assert set(frame) == {
        ("carts", "cpu"),
        ("carts-db", "cpu"),
        ("orders", "cpu"),
        ("orders", "lat_50"),
    }
    assert frame[("carts", "cpu")].shape == (100,)


def test_hand_made_cases(tmp_path: Path) -> None:
    _case(tmp_path, "carts-cpu", 1, hot=1)
    _case(tmp_path, "carts-db-cpu", 1, hot=2)
    _case(tmp_path, "orders-mem", 1, hot=4)
    _case(tmp_path, "orders-mem", 2, hot=1)  # the wrong service runs hot: a miss
    result = evaluate_sockshop(tmp_path, "test")
    assert result["split"] == "all"
    assert result["cases"] == 4
    assert result["ac1"] == 0.75
    assert result["misses"] == {"orders-mem/2": 2}
    assert result["groups"]["cpu"]["ac1"] == 1.0
    assert result["chance_ac1"] == pytest.approx(1 / 3, abs=1e-3)


@needs_sockshop
def test_sockshop_avg5_reaches_the_published_level() -> None:
    result = evaluate_sockshop(SOCKSHOP, "all")
    assert result["cases"] == 50
    assert result["skipped"] == 0
    assert result["avg5"] >= 0.98
    assert result["groups"]["cpu"]["cases"] == 25
    assert result["groups"]["mem"]["cases"] == 25
    assert result["chance_ac1"] < 0.1
