"""What every detector family shares: state in arrays indexed by series id, one step at a time.

A batch may hold several samples of one series. Detectors are recursive (each sample updates
the state the next one sees), so a batch is cut into *steps* that hold at most one sample per
series, in time order; a step is then a handful of NumPy operations over every series at once.

What does not change from sample to sample is worked out once: the steps of a batch (`Plan`,
shared by every family of a bank), and what each series is to a family (`Lookup`,
`MetricIndex`: its rule, whether it is watched, its peer group), kept in arrays indexed by
series id so that a batch costs one gather instead of a Python loop over its series.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from foreshock.model import SampleBatch

Ids = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def steps(batch: SampleBatch) -> Iterator[npt.NDArray[np.int64]]:
    """Indices into the batch, one group per step: each series at most once, oldest first."""
    if not len(batch):
        return
    if np.bincount(batch.series).max() == 1:  # one sample per series: the usual scrape
        yield np.arange(len(batch))
        return
    order = np.lexsort((batch.timestamps, batch.series))
    s = batch.series[order]
    start = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
    sizes = np.diff(np.append(start, len(s)))
    rank = np.arange(len(s)) - np.repeat(start, sizes)
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(1, int(rank.max()) + 1))
    yield from np.split(order[by_rank], bounds)


class Plan:
    """The steps of one time-sorted batch, worked out once and shared by every family.

    `rank[i]` is how many earlier samples of the same series the batch holds: the step sample
    ``i`` belongs to. A family watches whole series, so the steps of its part are its samples
    grouped by rank, each group in time order.
    """

    def __init__(self, batch: SampleBatch) -> None:
        n = len(batch)
        self.single = True
        self.rank = np.zeros(n, dtype=np.int64)
        if n < 2:
            return
        s = batch.series
        seen = np.zeros(int(s.max()) + 1, dtype=np.int8)
        seen[s] = 1
        if int(seen.sum()) == n:  # one sample per series: the usual scrape
            return
        order = np.argsort(s, kind="stable")  # the batch is in time order: so is each run
        so = s[order]
        start = np.flatnonzero(np.concatenate([[True], so[1:] != so[:-1]]))
        sizes = np.diff(np.append(start, n))
        self.rank[order] = np.arange(n) - np.repeat(start, sizes)
        self.single = False

    def groups(self, idx: Ids | None = None) -> list[Ids]:
        """Positions (into the part ``idx`` selects, or the whole batch), one array per step."""
        if self.single:
            return [np.arange(len(self.rank) if idx is None else len(idx))]
        rank = self.rank if idx is None else self.rank[idx]
        if not len(rank):
            return []
        by_rank = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[by_rank], np.arange(1, int(rank.max()) + 1))
        return np.split(by_rank, bounds)


class Lookup:
    """A per-series property computed once per series (by ``compute`` on the ids not seen
    before) and kept in an array: per-sample membership tests cost one gather."""

    UNKNOWN = -(2**62)

    def __init__(self, compute: Callable[[Ids], Sequence[int] | npt.NDArray[Any]]) -> None:
        self.compute = compute
        self.values = np.full(0, self.UNKNOWN, dtype=np.int64)

    def __call__(self, series: Ids) -> Ids:
        if not len(series):
            return np.zeros(0, dtype=np.int64)
        top = int(series.max())
        if top >= len(self.values):
            grown = np.full(max(top + 1, 2 * len(self.values), 256), self.UNKNOWN, np.int64)
            grown[: len(self.values)] = self.values
            self.values = grown
        out = self.values[series]
        unknown = out == self.UNKNOWN
        if unknown.any():
            ids = np.sort(series[unknown])  # (a sort beats np.unique's hashing here)
            ids = ids[np.concatenate([[True], ids[1:] != ids[:-1]])]
            self.values[ids] = np.asarray(self.compute(ids), dtype=np.int64)
            out = self.values[series]
        return out


class MetricIndex:
    """Series id → metric, each series looked up once; callable as any family's `metric_of`.

    Families that decide per metric (a rule, a watch list) ask `per_metric`, which decides once
    per metric name and then costs one gather per batch, whatever the number of series.
    """

    def __init__(self, metric_of: Callable[[Ids], Sequence[str]]) -> None:
        self.metric_of = metric_of
        self.names: list[str] = []
        self._code: dict[str, int] = {}
        self.codes = Lookup(self._codes)

    def _codes(self, ids: Ids) -> list[int]:
        code = self._code
        names = self.metric_of(ids)
        for name in set(names).difference(code):
            code[name] = len(self.names)
            self.names.append(name)
        return [code[n] for n in names]

    def __call__(self, ids: Ids) -> list[str]:
        return [self.names[c] for c in self.codes(ids).tolist()]

    def per_metric(self, decide: Callable[[str], int]) -> Callable[[Ids], Ids]:
        table = np.zeros(0, dtype=np.int64)

        def lookup(ids: Ids) -> Ids:
            nonlocal table
            codes = self.codes(ids)
            if len(self.names) > len(table):  # decide the metrics met since
                more = [decide(n) for n in self.names[len(table) :]]
                table = np.append(table, np.array(more, dtype=np.int64))
            out: Ids = table[codes]
            return out

        return lookup


def per_metric(
    metric_of: Callable[[Ids], Sequence[str]], decide: Callable[[str], int]
) -> Callable[[Ids], Ids]:
    """``decide(metric)`` for each series id, computed once per metric where ``metric_of`` is a
    `MetricIndex`, else once per series."""
    if isinstance(metric_of, MetricIndex):
        return metric_of.per_metric(decide)
    return Lookup(lambda ids: [decide(n) for n in metric_of(ids)])


class SeriesState:
    """Per-series arrays that grow as new series ids appear."""

    def __init__(self, **defaults: float) -> None:
        self._defaults = defaults
        self.arrays: dict[str, Floats] = {k: np.zeros(0) for k in defaults}
        self.size = 0

    def ensure(self, max_id: int) -> None:
        if max_id < self.size:
            return
        new = max(max_id + 1, 2 * self.size, 256)
        for name, default in self._defaults.items():
            grown = np.full(new, default)
            grown[: self.size] = self.arrays[name]
            self.arrays[name] = grown
        self.size = new

    def __getitem__(self, name: str) -> Floats:
        return self.arrays[name]


class Detector(ABC):
    """One family of detectors, vectorised over every series."""

    name: ClassVar[str]

    def update(self, batch: SampleBatch) -> Floats:
        """An anomaly score in [0, 1] for each sample of the batch (NaN for series this family
        does not watch and for samples it cannot score; 0 while a family warms up), computed
        only from that sample and the ones before it."""
        out = np.full(len(batch), np.nan)
        if not len(batch):
            return out
        t = batch.timestamps
        if not bool((t[1:] >= t[:-1]).all()):  # steps follow the batch's order: make it time
            order = np.argsort(t, kind="stable")
            out[order] = self.update(batch.take(order))
            return out
        mine = np.flatnonzero(self.watches(batch.series))
        if not len(mine):
            return out
        whole = len(mine) == len(batch)
        part = batch if whole else batch.take(mine)
        out[mine] = self.score(part, Plan(batch).groups(None if whole else mine))
        return out

    def score(self, part: SampleBatch, groups: Sequence[Ids]) -> Floats:
        """Scores for a time-ordered part of a batch, every series of which this family
        watches; ``groups`` are its steps (positions into the part, each series at most once
        per step, oldest step first). `Bank.feed` calls this with steps it works out once."""
        if len(groups) == 1:
            return self.step(part.series, part.timestamps, part.values)
        out = np.full(len(part), np.nan)
        for idx in groups:
            out[idx] = self.step(part.series[idx], part.timestamps[idx], part.values[idx])
        return out

    def watches(self, series: Ids) -> npt.NDArray[np.bool_]:
        """Which series this family scores at all; the rest cost it nothing."""
        return np.ones(len(series), dtype=bool)

    @abstractmethod
    def step(self, series: Ids, t: Floats, v: Floats) -> Floats:
        """Scores for one sample of each of the given (distinct) series."""

    def config(self) -> dict[str, Any]:
        """The settings this instance runs with, for reports."""
        return {}
