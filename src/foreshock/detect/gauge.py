"""What the gauge families share: state as one table, a clock per series, surprise → score.

A gauge family computes a *surprise* per sample: a non-negative number in the family's own unit
(a z-score, a CUSUM statistic, the fraction of its range by which a value broke a record), NaN
while the series warms up. The score is the surprise squashed into [0, 1), so that the families
can be combined (`ensemble.py`) on their surprises, before squashing.

Conventions every gauge family keeps (the shared checks in tests/detect/test_gauge_conformance.py
hold them to it):

- causal: the surprise of a sample depends on that sample and earlier ones only;
- vectorised: a step over many series gives each the score it would get alone;
- NaN values are skipped: they score NaN and leave the state as it was;
- gaps: each series learns its usual interval (its cadence); a sample after a gap of ``k``
  intervals ages exponentially forgetting state by ``k`` steps at once, and nothing scores a
  gap as such;
- a constant series has no spread; scales have floors, so its first change scores high but
  finite, and its score while constant is 0.

Which series a family watches is the caller's choice (`watching`): gauge families make no sense
on cumulative counters, which `counters.py` handles.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from foreshock.detect.base import Detector, Floats, Ids

Bools = npt.NDArray[np.bool_]

MAX_AGE_STEPS = 10_000.0  # a gap ages state by at most this many steps
TINY = 1e-12


class StateTable:
    """Per-series state as the columns of one [fields, slots] array.

    Each series gets a slot when first seen, in the order series arrive, so that a step over the
    same series as the step before (a scrape of the fleet, or of the part of it a family
    watches) finds them in consecutive slots: its block is then a view, read and written in
    place. Any other step reads its block with one gather and writes it back with one scatter.
    """

    def __init__(self, **defaults: float) -> None:
        self.fields = tuple(defaults)
        self._default = np.array(list(defaults.values()), dtype=np.float64)[:, None]
        self.data = np.empty((len(defaults), 0))
        self._slot = np.zeros(0, dtype=np.int64)  # series id -> slot + 1 (0: none yet)
        self.used = 0

    @property
    def size(self) -> int:
        """Slots allocated (at least those in use)."""
        return int(self.data.shape[1])

    def slots(self, ids: Ids) -> Ids:
        """The slot of each series, allocating slots to series not seen before."""
        top = int(ids.max())
        if top >= len(self._slot):
            grown = np.zeros(max(top + 1, 2 * len(self._slot), 256), dtype=np.int64)
            grown[: len(self._slot)] = self._slot
            self._slot = grown
        slots = self._slot[ids] - 1
        new = slots < 0
        if new.any():
            fresh = np.arange(self.used, self.used + int(new.sum()))
            self._slot[ids[new]] = fresh + 1
            slots[new] = fresh
            self.used += len(fresh)
            if self.used > self.size:
                more = np.repeat(self._default, max(self.used, 2 * self.size, 256), axis=1)
                more[:, : self.size] = self.data
                self.data = more
        return slots

    def read(self, ids: Ids) -> tuple[Floats, Ids, bool]:
        """The block [fields, len(ids)], the series' slots, and whether the block is a view
        (writes land in place)."""
        slots = self.slots(ids)
        n, first = len(slots), int(slots[0])
        if int(slots[-1]) - first == n - 1 and (n < 2 or bool((slots[1:] > slots[:-1]).all())):
            return self.data[:, first : first + n], slots, True
        return self.data[:, slots], slots, False

    def write(self, slots: Ids, block: Floats, is_view: bool) -> None:
        if not is_view:
            self.data[:, slots] = block


class Phases:
    """A per-series profile over the phase of a period (hour of day, hour of week): NaN where a
    bin has not been seen yet. Indexed by the slots of the owner's `StateTable`, and stored
    bin-major ([bins, slots]): a fleet scraped at one instant reads and writes one contiguous
    row. A bin's row is filled (with NaN) when first used: a fleet that has run for an hour has
    paid for the memory of one or two bins, not of a day's."""

    def __init__(self, period: float, bins: int) -> None:
        self.period = float(period)
        self.bins = int(bins)
        self.data = np.full((self.bins, 0), np.nan)
        self._filled = np.zeros(self.bins, dtype=bool)

    @property
    def size(self) -> int:
        return int(self.data.shape[1])

    def ensure(self, max_id: int) -> None:
        if max_id < self.size:
            return
        new = max(max_id + 1, 2 * self.size, 256)
        grown = np.empty((self.bins, new))  # rows not filled yet are never read
        for b in np.flatnonzero(self._filled).tolist():
            grown[b, : self.size] = self.data[b]
            grown[b, self.size :] = np.nan
        self.data = grown

    def _fill(self, bins: Ids) -> None:
        for b in np.unique(bins[~self._filled[bins]]).tolist():
            self.data[b] = np.nan
            self._filled[b] = True

    def cells(self, slots: Ids, t: Floats) -> Ids:
        """Flat indices into ``data`` of each slot's bin at time ``t``."""
        self.ensure(int(slots.max()))
        if t[0] == t[-1] and (t == t[0]).all():  # one scrape of many series: one bin
            b = self._bin(t[:1])
            if not self._filled[b[0]]:
                self._fill(b)
            out: Ids = slots + int(b[0]) * self.size
            return out
        bins = self._bin(t)
        if not self._filled[bins].all():
            self._fill(bins)
        out = bins * self.size + slots
        return out

    def _bin(self, t: Floats) -> Ids:
        x = t * (1.0 / self.period)
        x -= x.astype(np.int64)  # the phase, in [0, 1) (np.mod is several times slower)
        x *= self.bins
        return np.clip(x.astype(np.int64), 0, self.bins - 1)

    def take(self, cells: Ids) -> Floats:
        out: Floats = np.take(self.data.reshape(-1), cells)
        return out

    def put(self, cells: Ids, values: Floats) -> None:
        self.data.reshape(-1)[cells] = values


def age(t: Floats, last_t: Floats, cadence: Floats) -> tuple[Floats, Floats]:
    """Steps elapsed since each series' previous sample (at least 1), and the updated cadence.

    The cadence is the series' usual interval, learnt as a slow moving average of the
    interval's ratio to it, clipped to [1/2, 2] so that a gap barely moves it. A repeated or
    out-of-order timestamp counts as one step.
    """
    dt = t - last_t
    with np.errstate(invalid="ignore", divide="ignore"):
        k = dt / cadence  # NaN until the cadence is known
    ratio = np.clip(k, 0.5, 2.0)
    ratio *= 0.05
    ratio += 0.95
    ratio *= cadence
    fresh = np.isnan(cadence)  # the second sample of a series sets the first cadence
    if fresh.any():
        fresh &= dt > 0
        ratio[fresh] = dt[fresh]
    steps = np.fmax(k, 1.0)
    np.minimum(steps, MAX_AGE_STEPS, out=steps)
    return steps, ratio


def rate(alpha: float, steps: Floats) -> Floats | float:
    """The weight of one EWMA update after ``steps`` steps: 1 - (1 - alpha) ** steps (just
    ``alpha`` when every series took one step, the usual case)."""
    late = steps > 1.0
    if not late.any():
        return alpha
    out = np.full(len(steps), alpha)
    out[late] = -np.expm1(steps[late] * np.log1p(-alpha))
    return out


def squash(surprise: Floats, half: float) -> Floats:
    """Surprise in [0, inf) → score in [0, 1): ``half`` scores 0.5; NaN stays NaN."""
    out: Floats = 1.0 - half / (np.maximum(surprise, 0.0) + half)  # inf scores 1
    return out


class GaugeDetector(Detector):
    """A gauge family: `surprise` per sample, squashed into the score."""

    half: float = 1.0  # the surprise that scores 0.5
    _watch: Callable[[Ids], Bools] | None = None

    def watching(self, which: Callable[[Ids], Bools]) -> GaugeDetector:
        """Score only the series for which ``which(ids)`` is True (say, the gauges of a
        `SeriesTable`); returns the detector."""
        self._watch = which
        return self

    def watches(self, series: Ids) -> Bools:
        if self._watch is None:
            return np.ones(len(series), dtype=bool)
        return np.asarray(self._watch(series), dtype=bool)

    def surprise(self, series: Ids, t: Floats, v: Floats) -> Floats:
        """Surprise per sample; NaN for NaN values (which leave the state alone) and while the
        series warms up."""
        ok = np.isfinite(v)
        ok &= np.isfinite(t)
        if ok.all():
            return self._surprise(series, t, v)
        out = np.full(len(v), np.nan)
        if ok.any():
            out[ok] = self._surprise(series[ok], t[ok], v[ok])
        return out

    @abstractmethod
    def _surprise(self, series: Ids, t: Floats, v: Floats) -> Floats:
        """Surprise for finite values of distinct series; updates the state."""

    def step(self, series: Ids, t: Floats, v: Floats) -> Floats:
        return squash(self.surprise(series, t, v), self.half)
