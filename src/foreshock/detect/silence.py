"""Parts that stopped reporting while the rest of the feed went on.

A GPU that falls off the bus, a node that hangs or loses power, an exporter that died: their
series stop, and no detector that scores samples can see it, since there are no samples. This
family watches the clock of the feed itself: each series' usual interval is learned from its
samples, and an entity whose every series has missed `MISSED` of its intervals while samples
of other series kept arriving is raised as silent (a `down` symptom, metric ``absent`` as in
PromQL's ``absent()``). It re-arms when any of its series reports again.

Only parts of something (entities with a container: a GPU in a node, a node in a rack) are
watched: the series of a job or a service end when it ends, which is not a fault. A value of
NaN (Prometheus' staleness marker) counts as no sample. Silent stretches inside one batch are
found too (a file read in chunks, a batch that arrives late), each raised at the time the
silence could first be known, so no finding looks ahead.
"""

from __future__ import annotations

import numpy as np

from foreshock.ingest.series import SeriesTable
from foreshock.model import Finding, SampleBatch
from foreshock.topology import Topology

MISSED = 3.0  # intervals without a sample before a series counts as silent
LEARN = 0.2  # weight of a new interval estimate against the running one
SCAN = 5.0  # seconds of feed time between scans of every series for overdue ones

Gap = tuple[np.ndarray, np.ndarray, np.ndarray]  # series, last sample before, next (inf: none)


class Silence:
    name = "silence"
    metric = "absent"

    def __init__(self, table: SeriesTable, missed: float = MISSED) -> None:
        self.table = table
        self.missed = missed
        self.last = np.zeros(0)  # per series: time of its newest sample (NaN: none yet)
        self.every = np.zeros(0)  # per series: its usual interval (NaN: not known yet)
        self.silent: set[int] = set()  # entities raised and not heard from since
        self._parts: np.ndarray | None = None
        self._scanned = -np.inf

    def _grow(self, top: int) -> None:
        if top < len(self.last):
            return
        size = max(top + 1, 2 * len(self.last), 256)
        for name in ("last", "every"):
            old = getattr(self, name)
            new = np.full(size, np.nan)
            new[: len(old)] = old
            setattr(self, name, new)

    def _watched(self, topo: Topology) -> np.ndarray:
        if self._parts is None or len(self._parts) != len(topo):
            parts = np.zeros(len(topo), dtype=bool)
            parts[topo.relation_indices("contains")[1]] = True
            self._parts = parts
        return self._parts

    def feed(self, batch: SampleBatch) -> list[Finding]:
        topo = self.table.topology
        ok = ~np.isnan(batch.values)
        if topo is None or not ok.any():
            return []
        s, t = batch.series[ok], batch.timestamps[ok]
        now = float(t.max())
        self._grow(int(s.max()))
        increasing = len(s) == 1 or bool((s[1:] > s[:-1]).all())
        if increasing or self._unique(s):  # one sample per series: no sorting, no grouping
            return self._overdue(topo, self._scrape(s, t, increasing), now)
        order = np.lexsort((t, s))
        s, t = s[order], t[order]
        head = np.concatenate([[True], s[1:] != s[:-1]])
        prev = np.where(head, self.last[s], np.concatenate([[np.nan], t[:-1]]))
        every = self.every[s]
        # Stretches without a sample inside the batch, and since each series' newest one.
        with np.errstate(invalid="ignore"):
            inner = (t - prev) > (self.missed + 0.5) * every
        tail = np.concatenate([s[1:] != s[:-1], [True]])
        stretch = inner.copy()
        if self.silent:
            # The stretch that ends a silence already raised is not a new one.
            ent = self.table.entity_of(s)
            inner &= ~(head & np.isin(ent, list(self.silent)))
        gaps = [(s[inner], prev[inner], t[inner])]
        # Learn the intervals: the batch's mean interval per series, where it has one.
        runs = np.flatnonzero(head)
        count = np.diff(np.append(runs, len(s)))
        # A silent stretch is not the usual interval: it does not teach the estimate.
        first_prev = np.where(stretch[runs], np.nan, prev[runs])
        span = t[tail] - np.where(np.isnan(first_prev), t[runs], first_prev)
        steps = count - np.isnan(first_prev)
        within = stretch & ~head
        if within.any():
            run_of = np.cumsum(head) - 1
            span = span - np.bincount(run_of[within], (t - prev)[within], len(runs))
            steps = steps - np.bincount(run_of[within], minlength=len(runs))
        ids = s[runs]
        with np.errstate(invalid="ignore", divide="ignore"):
            est = np.where(steps > 0, span / np.maximum(steps, 1), np.nan)
        self._learn(ids, est, self.every[ids])
        self.last[ids] = t[tail]
        self._heard(ids)
        return self._overdue(topo, gaps, now)

    @staticmethod
    def _unique(s: np.ndarray) -> bool:
        seen = np.zeros(int(s.max()) + 1, dtype=np.int8)
        seen[s] = 1
        return int(seen.sum()) == len(s)

    def _learn(self, idx: slice | np.ndarray, est: np.ndarray, old: np.ndarray) -> None:
        """Fold each series' new interval estimate (NaN: none) into its usual interval."""
        est = np.where(np.isnan(old), est, np.minimum(est, 2 * old))
        learned = np.where(np.isnan(old), est, (1 - LEARN) * old + LEARN * est)
        self.every[idx] = np.where(np.isnan(est), old, learned)

    def _scrape(self, s: np.ndarray, t: np.ndarray, increasing: bool) -> list[Gap]:
        """`feed` for one sample per series: a contiguous increasing run of ids (a scrape of
        one target, or of all) is read and written as a slice."""
        idx: slice | np.ndarray = s
        if increasing and int(s[-1]) - int(s[0]) == len(s) - 1:
            idx = slice(int(s[0]), int(s[-1]) + 1)
        prev, every = self.last[idx], self.every[idx]
        gap = t - prev
        with np.errstate(invalid="ignore"):
            stretch = gap > (self.missed + 0.5) * every
        inner = stretch
        if self.silent:
            inner = stretch & ~np.isin(self.table.entity_of(s), list(self.silent))
        gaps = [(s[inner], prev[inner], t[inner])]
        # A silent stretch is not the usual interval: it does not teach the estimate.
        self._learn(idx, np.where(stretch, np.nan, gap), every)
        self.last[idx] = t
        self._heard(s)
        return gaps

    def _heard(self, ids: np.ndarray) -> None:
        if self.silent:
            heard = self.table.entity_of(ids)
            self.silent -= set(np.unique(heard[heard >= 0]).tolist())

    def _overdue(self, topo: Topology, gaps: list[Gap], now: float) -> list[Finding]:
        """The entities silent in `gaps`, and, now and then, in every series overdue."""
        # Scanning every series costs the same whatever the batch: with one small batch per
        # scrape target, only now and then.
        if now < self._scanned + SCAN:
            return self._entities(topo, gaps, now)
        self._scanned = now
        n = len(self.table)
        with np.errstate(invalid="ignore"):  # series never seen have NaN: never overdue
            late = now - self.last[:n] > (self.missed + 0.5) * self.every[:n]
        overdue = np.flatnonzero(late)
        gaps.append((overdue, self.last[overdue], np.full(len(overdue), np.inf)))
        return self._entities(topo, gaps, now)

    def _known(self) -> np.ndarray:
        return np.flatnonzero(~np.isnan(self.last[: len(self.table)]))

    def _entities(
        self,
        topo: Topology,
        gaps: list[Gap],
        now: float,
    ) -> list[Finding]:
        sid = np.concatenate([g[0] for g in gaps])
        if not len(sid):
            return []
        since = np.concatenate([g[1] for g in gaps])
        until = np.concatenate([g[2] for g in gaps])
        ent = self.table.entity_of(sid)
        watched = self._watched(topo)
        keep = ent >= 0
        keep[keep] = watched[ent[keep]]
        if not keep.any():
            return []
        sid, since, until, ent = sid[keep], since[keep], until[keep], ent[keep]
        # How many series each entity has: silent only when all of them are.
        owners = self.table.entity_of(self._known())
        owners = owners[owners >= 0]
        total = np.bincount(owners, minlength=len(topo))
        out = []
        for e in np.unique(ent).tolist():
            if e in self.silent:
                continue
            mine = ent == e
            series = np.unique(sid[mine])
            if len(series) < total[e]:
                continue
            # Each series' first silent stretch; the entity was silent where they overlap.
            first: dict[int, tuple[float, float]] = {}
            stretches = zip(
                sid[mine].tolist(), since[mine].tolist(), until[mine].tolist(), strict=True
            )
            for k, a, b in stretches:
                if k not in first or a < first[k][0]:
                    first[k] = (a, b)
            every = self.every[series]
            known_at = max(
                a + self.missed * float(g)
                for (a, _), g in zip(
                    (first[k] for k in series.tolist()), every.tolist(), strict=True
                )
            )
            back = min(b for _, b in first.values())
            if known_at >= back or known_at > now:
                continue
            onset = min(a for a, _ in first.values()) + float(np.nanmin(every))
            self.silent.add(e)
            out.append(
                Finding(
                    "anomaly",
                    topo.id_at(e),
                    self.metric,
                    known_at,
                    1.0,
                    self.name,
                    onset=onset,
                    evidence=f"none of its {len(series)} series reported for "
                    f"{self.missed:g} of their intervals while the rest of the feed did",
                )
            )
        return out
