from __future__ import annotations

import numpy as np

from foreshock.detect.base import (
    Detector,
    Lookup,
    MetricIndex,
    Plan,
    SeriesState,
    per_metric,
    steps,
)
from foreshock.model import SampleBatch


def test_steps_hold_each_series_once_in_time_order() -> None:
    batch = SampleBatch(
        np.array([1, 0, 1, 2, 1, 0]), np.array([3.0, 1, 1, 5, 2, 2]), np.arange(6.0)
    )
    groups = [batch.series[g].tolist() for g in steps(batch)]
    assert [sorted(g) for g in groups] == [[0, 1, 2], [0, 1], [1]]
    times = [
        dict(zip(batch.series[g].tolist(), batch.timestamps[g].tolist(), strict=True))
        for g in steps(batch)
    ]
    assert [t[1] for t in times] == [1.0, 2.0, 3.0]
    assert list(steps(SampleBatch.empty())) == []


class Running(Detector):
    """Scores each sample by how far it is from the running mean: a tiny detector to test
    that `update` feeds steps in order."""

    name = "running"

    def __init__(self) -> None:
        self.state = SeriesState(n=0.0, mean=0.0)

    def step(self, series: np.ndarray, t: np.ndarray, v: np.ndarray) -> np.ndarray:
        self.state.ensure(int(series.max()))
        n, mean = self.state["n"], self.state["mean"]
        score = np.where(n[series] > 0, np.abs(v - mean[series]), np.nan)
        n[series] += 1
        mean[series] += (v - mean[series]) / n[series]
        return score


def test_update_is_sequential_per_series() -> None:
    det = Running()
    batch = SampleBatch(np.array([0, 0, 0, 5]), np.array([1.0, 2, 3, 1]), np.array([1.0, 3, 2, 7]))
    scores = det.update(batch)
    assert np.isnan(scores[0])
    assert scores[1:3].tolist() == [2.0, 0.0]  # |3-1|, |2-2|
    assert np.isnan(scores[3])
    assert det.state.size >= 6


def test_plan_groups_are_the_steps_of_the_batch_and_of_any_part() -> None:
    batch = SampleBatch(
        np.array([1, 0, 1, 2, 1, 0]), np.array([1.0, 1, 2, 2, 3, 3]), np.arange(6.0)
    )
    plan = Plan(batch)
    assert not plan.single
    assert [g.tolist() for g in plan.groups()] == [[0, 1, 3], [2, 5], [4]]
    part = np.array([0, 2, 4])  # the samples of series 1 only
    assert [g.tolist() for g in plan.groups(part)] == [[0], [1], [2]]
    one = Plan(SampleBatch(np.array([3, 1, 2]), np.zeros(3), np.zeros(3)))
    assert one.single
    assert [g.tolist() for g in one.groups()] == [[0, 1, 2]]
    assert Plan(SampleBatch.empty()).groups(np.zeros(0, np.int64))[0].tolist() == []


def test_update_sorts_a_batch_that_is_not_in_time_order() -> None:
    det = Running()
    batch = SampleBatch(np.array([0, 0, 0]), np.array([3.0, 1, 2]), np.array([2.0, 1, 3]))
    scores = det.update(batch)
    assert np.isnan(scores[1])  # t=1 came first
    assert scores[2] == 2.0
    assert scores[0] == 0.0


def test_lookup_computes_each_series_once() -> None:
    calls: list[list[int]] = []

    def compute(ids: np.ndarray) -> list[int]:
        calls.append(ids.tolist())
        return [10 * int(i) for i in ids]

    look = Lookup(compute)
    assert look(np.array([3, 1, 3])).tolist() == [30, 10, 30]
    assert look(np.array([1, 3, 500])).tolist() == [10, 30, 5000]
    assert calls == [[1, 3], [500]]
    assert look(np.zeros(0, np.int64)).tolist() == []


def test_metric_index_decides_once_per_metric() -> None:
    names = {0: "a_total", 1: "b", 2: "a_total", 3: "c"}
    index = MetricIndex(lambda ids: [names[int(i)] for i in ids])
    decided: list[str] = []

    def decide(metric: str) -> int:
        decided.append(metric)
        return int(metric.endswith("_total"))

    counter = index.per_metric(decide)
    assert counter(np.array([0, 1, 2])).tolist() == [1, 0, 1]
    assert counter(np.array([3, 2])).tolist() == [0, 1]
    assert sorted(decided) == ["a_total", "b", "c"]
    assert index(np.array([3, 0])) == ["c", "a_total"]
    decided.clear()
    plain = per_metric(lambda ids: [names[int(i)] for i in ids], decide)
    assert plain(np.array([1, 2])).tolist() == [0, 1]
