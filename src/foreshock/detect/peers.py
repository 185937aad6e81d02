"""Peer comparison: a GPU that runs slower than the other GPUs of its job.

In a synchronous job every rank does the same work at the same moment, so the job's own GPUs
are the best baseline a GPU can have: no history, no seasonality, no load model. A rank whose
SM clock sits a few percent below its peers' median, for minutes on end, is the gray failure
that will stretch every step of the job (domain/gpu-failures.md §3: stragglers show only as one
rank lagging its peers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from foreshock.detect.base import Detector, Floats, Ids, Lookup, SeriesState, per_metric, steps
from foreshock.model import SampleBatch

RUNNING_MHZ = 1000.0  # below this the job is idle or checkpointing: nothing to compare


class PeerDeficit(Detector):
    name = "peer_deficit"

    def __init__(
        self,
        metric_of: Callable[[Ids], Sequence[str]],
        group_of: Callable[[Ids], Ids],
        metrics: Sequence[str] = ("DCGM_FI_DEV_SM_CLOCK",),
        deficit: float = 0.02,
        tau_seconds: float = 600.0,
        predicts: str = "job_straggler",
    ) -> None:
        self.metric_of, self.group_of = metric_of, group_of
        self.metrics = set(metrics)
        self.deficit, self.tau, self.what = deficit, tau_seconds, predicts
        self.state = SeriesState(level=0.0, t=np.nan, seen=0.0)
        self._watched = per_metric(metric_of, lambda n: int(n in self.metrics))
        self._group = Lookup(self._group_of)

    def _group_of(self, ids: Ids) -> Ids:
        out = np.full(len(ids), -1, dtype=np.int64)
        watched = self._watched(ids) > 0
        if watched.any():  # the job of each watched series' entity: a topology walk each
            out[watched] = self.group_of(ids[watched])
        return out

    def groups(self, series: Ids) -> Ids:
        return self._group(series)

    def watches(self, series: Ids) -> np.ndarray:
        return self.groups(series) >= 0

    def score(self, part: SampleBatch, groups: Sequence[Ids]) -> Floats:
        """Peers are compared at the same instant: steps go by timestamp, so no sample is ever
        judged against a peer's later one (a missed scrape must not shift the comparison)."""
        t = part.timestamps  # in time order
        if not len(t) or t[0] == t[-1]:
            if len(groups) == 1:
                return self.step(part.series, t, part.values)
            return super().score(part, groups)
        out = np.full(len(part), np.nan)
        bounds = np.flatnonzero(np.diff(t)) + 1
        for at in np.split(np.arange(len(t)), bounds):
            one = part.take(at)
            for idx in steps(one):
                out[at[idx]] = self.step(one.series[idx], one.timestamps[idx], one.values[idx])
        return out

    def step(self, series: Ids, t: Floats, v: Floats) -> Floats:
        group = self.groups(series)
        ok = (group >= 0) & np.isfinite(v)
        out = np.full(len(series), np.nan)
        if not ok.any():
            return out
        idx = np.flatnonzero(ok)
        g, x = group[idx], v[idx]
        # Median of each group at this step, by sorting on (group, value).
        order = np.lexsort((x, g))
        gs, xs = g[order], x[order]
        start = np.flatnonzero(np.concatenate([[True], gs[1:] != gs[:-1]]))
        size = np.diff(np.append(start, len(gs)))
        lo = xs[start + (size - 1) // 2]
        hi = xs[start + size // 2]
        med = np.repeat((lo + hi) / 2, size)
        peers = np.repeat(size, size)
        ratio = np.empty(len(idx))
        ratio[order] = xs / np.maximum(med, 1e-9)
        running = np.empty(len(idx), dtype=bool)
        running[order] = (med >= RUNNING_MHZ) & (peers >= 4)
        sid = series[idx]
        st = self.state
        st.ensure(int(series.max()))
        last = st["t"][sid]
        dt = np.where(np.isnan(last), 0.0, t[idx] - last)
        a = np.where(running, 1 - np.exp(-dt / self.tau), 0.0)
        level = st["level"][sid] + a * (np.clip(1 - ratio, -0.5, 0.5) - st["level"][sid])
        st["level"][sid] = level
        st["seen"][sid] += np.where(running, dt, 0.0)
        st["t"][sid] = t[idx]
        ready = st["seen"][sid] >= self.tau
        out[idx] = np.where(ready, np.clip(level / (2 * self.deficit), 0.0, 1.0), 0.0)
        return out

    def predicts(self, series: Ids) -> list[str | None]:
        return [self.what if g >= 0 else None for g in self.groups(series)]
