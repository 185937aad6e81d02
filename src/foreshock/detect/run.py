"""Detection over files, as if the samples were arriving live (`foreshock detect`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from foreshock.detect.bank import Bank
from foreshock.detect.base import Detector, Ids, MetricIndex
from foreshock.detect.counters import DEFAULT_RULES, CounterRates
from foreshock.detect.peers import PeerDeficit
from foreshock.detect.registry import default_gauge_detector
from foreshock.detect.silence import Silence
from foreshock.detect.trends import GaugeTrends
from foreshock.ingest.events import EventResolver
from foreshock.ingest.files import read_telemetry
from foreshock.ingest.kmsg import KmsgParser
from foreshock.ingest.series import SeriesTable
from foreshock.model import Finding
from foreshock.topology import Topology

CHUNK_SECONDS = 300.0  # the span of one batch, as a live ingest would hand samples over


def metric_names(table: SeriesTable) -> MetricIndex:
    return MetricIndex(lambda ids: [table[i].metric for i in ids.tolist()])


def job_groups(table: SeriesTable) -> Callable[[Ids], Ids]:
    """For each series, the index of the job its entity hosts (-1: none), for peer groups."""
    job_of: Ids | None = None

    def jobs(topo: Topology) -> Ids:
        out = np.full(len(topo), -1, dtype=np.int64)
        try:
            host, job = topo.relation_indices("hosts")
        except ValueError:  # a topology without jobs
            return out
        out[host] = job
        # An entity that hosts several jobs takes the first by id, as `children` lists them.
        for entity in np.flatnonzero(np.bincount(host, minlength=len(topo)) > 1).tolist():
            first = topo.children(topo.id_at(entity), "hosts")[0]
            out[entity] = topo.index(first.id)
        return out

    def group_of(ids: Ids) -> Ids:
        nonlocal job_of
        topo = table.topology
        out = np.full(len(ids), -1, dtype=np.int64)
        if topo is None:
            return out
        if job_of is None:
            job_of = jobs(topo)
        entity = table.entity_of(ids)
        known = entity >= 0
        out[known] = job_of[entity[known]]
        return out

    return group_of


def gauges(table: SeriesTable, names: MetricIndex | None = None) -> Callable[[Ids], np.ndarray]:
    """Which series are gauges: everything that is not a counter (a counter rule's metric, or
    named as Prometheus names counters)."""
    counters = {r.metric for r in DEFAULT_RULES}
    is_gauge = (names or metric_names(table)).per_metric(
        lambda m: int(not (m in counters or m.endswith(("_total", "_COUNTER"))))
    )
    return lambda ids: is_gauge(ids) > 0


def default_bank(table: SeriesTable) -> Bank:
    """Every detector family with its default settings. The gauge detector's threshold is the
    quiet one (about one false score in 10⁷ samples of noise); NAB's best is about 0.07."""
    names = metric_names(table)
    detectors: list[tuple[Detector, float]] = [
        (default_gauge_detector().watching(gauges(table, names)), 0.5),
        (CounterRates(names), 0.5),
        (GaugeTrends(names), 0.5),
        (PeerDeficit(names, job_groups(table)), 0.5),
    ]
    return Bank(table, detectors, silence=Silence(table))


def detect_files(
    topology: Topology,
    telemetry: Sequence[Path],
    events: Sequence[Path] = (),
    bank: Bank | None = None,
) -> list[Finding]:
    """Every finding the bank raises over the files, in the order raised."""
    table = bank.table if bank is not None else SeriesTable(topology)
    bank = bank or default_bank(table)
    batch = read_telemetry(telemetry, table)
    found: list[Finding] = []
    if len(batch):
        t = batch.timestamps
        for start in np.arange(t[0], t[-1] + CHUNK_SECONDS, CHUNK_SECONDS):
            lo, hi = np.searchsorted(t, [start, start + CHUNK_SECONDS])
            if hi > lo:
                found += bank.feed(batch.take(np.arange(lo, hi)))
    parser = KmsgParser()
    resolver = EventResolver(topology, table)
    parsed = []
    for path in events:  # all files first: the XID windows need one time order across them
        with open(path, encoding="utf-8", errors="replace") as f:
            parsed += [resolver.resolve(e) for e in parser.parse(f)]
    found += bank.events(parsed)
    found.sort(key=lambda f: (f.raised_at, f.entity or "", f.metric, f.detector))
    return found
