"""The detector bank: every family over the same stream, and the findings they raise.

A score at or above a detector's threshold raises one finding per series; the series re-arms
only after its score has fallen below half the threshold, so a lasting anomaly is one finding, not
one per sample. Each finding carries the time of the sample that raised it (`raised_at`): it
was computed from that sample and earlier ones only.

A feed works out the batch's steps and each family's share of it once, and reuses them while
batches hold the same series in the same order (a scrape of the same targets, the usual case).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from foreshock.collector import paused
from foreshock.detect.base import Detector, Ids, Plan
from foreshock.detect.silence import Silence
from foreshock.detect.xid import XidPolicy
from foreshock.ingest.series import SeriesTable
from foreshock.model import Event, Finding, SampleBatch


@dataclass
class Armed:
    detector: Detector
    threshold: float
    armed: np.ndarray  # per series: 1 while a finding may be raised, 0 until it calms

    @classmethod
    def of(cls, detector: Detector, threshold: float) -> Armed:
        return cls(detector, threshold, np.ones(0))

    def flags(self, top: int) -> np.ndarray:
        if top >= len(self.armed):
            grown = np.ones(max(top + 1, 2 * len(self.armed), 256))
            grown[: len(self.armed)] = self.armed
            self.armed = grown
        return self.armed


class Bank:
    def __init__(
        self,
        table: SeriesTable,
        detectors: Sequence[tuple[Detector, float]],
        xid: XidPolicy | None = None,
        silence: Silence | None = None,
    ) -> None:
        self.table = table
        self.detectors = [Armed.of(d, th) for d, th in detectors]
        self.xid = xid or XidPolicy()
        self.silence = silence
        self._who: dict[int, tuple[str | None, str]] = {}  # series → (entity id, metric)
        self._last: tuple[Ids, list[tuple[Ids, list[Ids]]]] | None = None

    def feed(self, batch: SampleBatch) -> list[Finding]:
        """Findings raised by this batch, in the order raised."""
        # A storm's findings are thousands of acyclic objects: the collector's rescans of
        # the fleet's long-lived objects cost more than the detectors (bench detect).
        with paused():
            return self._feed(batch)

    def _feed(self, batch: SampleBatch) -> list[Finding]:
        found: list[Finding] = []
        if not len(batch):
            return found
        t = batch.timestamps
        if not bool((t[1:] >= t[:-1]).all()):
            batch = batch.sorted_by_time()
        for armed, (mine, groups) in zip(self.detectors, self._parts(batch), strict=True):
            if not len(mine):
                continue
            part = batch if len(mine) == len(batch) else batch.take(mine)
            scores = armed.detector.score(part, groups)
            found += self._raise(armed, part, groups, scores)
        if self.silence is not None:
            found += self.silence.feed(batch)
        found.sort(key=lambda f: (f.raised_at, f.entity or "", f.metric, f.detector))
        return found

    def _parts(self, batch: SampleBatch) -> list[tuple[Ids, list[Ids]]]:
        """Each family's samples of the batch and their steps, worked out once per batch, and
        once for a run of batches that hold the same series in the same order (a scrape of
        the same targets): which series a family watches never changes."""
        series = batch.series
        last = self._last
        if last is not None and len(last[0]) == len(series) and np.array_equal(last[0], series):
            return last[1]
        plan = Plan(batch)
        parts = []
        for armed in self.detectors:
            mine = np.flatnonzero(armed.detector.watches(series))
            parts.append((mine, plan.groups(None if len(mine) == len(series) else mine)))
        self._last = (series.copy(), parts)
        return parts

    def _raise(
        self, armed: Armed, batch: SampleBatch, groups: list[Ids], scores: np.ndarray
    ) -> list[Finding]:
        # Comparisons with NaN are False: an unscored sample neither fires nor calms.
        with np.errstate(invalid="ignore"):
            high = scores >= armed.threshold
            calm = scores < armed.threshold / 2
        if not high.any() and not calm.any():
            return []
        flag = armed.flags(int(batch.series.max()))
        if len(groups) == 1:
            sid = batch.series
            fire = high & (flag[sid] > 0.5)
            raised = np.flatnonzero(fire)
            flag[sid[calm]] = 1.0
            flag[sid[fire]] = 0.0
        else:
            found: list[Ids] = []
            for idx in groups:
                h, c = high[idx], calm[idx]
                if not h.any() and not c.any():
                    continue
                sid = batch.series[idx]
                fire = h & (flag[sid] > 0.5)
                found.append(idx[fire])
                flag[sid[c]] = 1.0
                flag[sid[fire]] = 0.0
            raised = np.concatenate(found) if found else np.zeros(0, np.int64)
        if not len(raised):
            return []
        return self._findings(armed, batch, raised, scores)

    def _findings(
        self, armed: Armed, batch: SampleBatch, order: Ids, scores: np.ndarray
    ) -> list[Finding]:
        predicts = getattr(armed.detector, "predicts", None)
        picked = batch.series[order]
        what = predicts(picked) if callable(predicts) else [None] * len(order)
        times = batch.timestamps[order].tolist()
        capped = np.minimum(scores[order], 1.0).tolist()
        who, identify, name = self._who, self._identify, armed.detector.name
        out = []
        for sid, at, score, p in zip(picked.tolist(), times, capped, what, strict=True):
            entity, metric = who.get(sid) or identify(sid)
            kind = "prediction" if p else "anomaly"
            out.append(Finding(kind, entity, metric, at, score, name, p))
        return out

    def _identify(self, sid: int) -> tuple[str | None, str]:
        series, topo = self.table[sid], self.table.topology
        entity = topo.id_at(series.entity) if topo is not None and series.entity >= 0 else None
        self._who[sid] = (entity, series.metric)
        return entity, series.metric

    def events(self, events: Iterable[Event]) -> list[Finding]:
        return self.xid.findings(sorted(events, key=lambda e: e.time or 0.0))
