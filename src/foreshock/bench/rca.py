"""`foreshock bench rca`: one alert storm of 10,000 alerts on a 100,000-GPU fleet, correlated
into incidents and diagnosed; the blast radius of the cause."""

from __future__ import annotations

import statistics
import time

import numpy as np

from foreshock.bench.registry import BenchOptions, BenchResult, Figure, median_ms, timed
from foreshock.bench.topology import _step
from foreshock.correlate import correlate
from foreshock.diagnose.rank import CauseRanker, Symptom
from foreshock.diagnose.signs import alert_signs
from foreshock.model import Alert, fingerprint
from foreshock.sim import FleetShape, generate_fleet
from foreshock.topology import Topology

ALERTS = 10_000
RCA_RUNS = 3


def bench_rca(options: BenchOptions) -> BenchResult:
    gpus = options.gpus or 100_000
    with _step(options, f"generating a {gpus:,}-GPU fleet"):
        entities, relations = generate_fleet(FleetShape(gpus=gpus, feeds=1))
        topo = Topology(entities, relations)
        del entities, relations
    cause, alerts = _storm(topo, ALERTS)
    with _step(options, "preparing the ranker (once per topology)"):
        setup_s = timed(lambda: CauseRanker(topo))
        ranker = CauseRanker(topo)
    # As the service reads them: each alert's signs from its name (NodeDown says down).
    symptoms = [
        Symptom(a.entity or "", a.starts_at, 1.0, name, alert_signs(name, None))
        for a in alerts
        for name in [a.labels["alertname"]]
    ]
    observable = np.zeros(len(topo), dtype=bool)
    for kind in ("node", "gpu", "rack", "pdu"):
        observable |= topo.kind_mask(kind)
    with _step(options, f"diagnosing an incident of {len(alerts):,} alerts"):
        found: list[str] = []
        # The median of a few cold rankings (a fresh ranker remembers no reach), since one
        # run on a shared machine can take twice as long.
        times = []
        for _ in range(RCA_RUNS):
            cold = CauseRanker(topo)
            start = time.perf_counter()
            causes = cold.rank(symptoms, observable)
            times.append(time.perf_counter() - start)
        rca_s = statistics.median(times)
        found.append(causes[0].entity)
        # Baseline: every candidate scored in full, no shortlist.
        ids = [s.entity for s in symptoms]
        candidates = np.union1d(topo.upstream_indices(ids), [topo.index(i) for i in ids])
        candidates = candidates[~ranker.grouping[candidates]]
        exhaustive_s = timed(lambda: ranker.rank(symptoms, observable, candidates=candidates))
    with _step(options, "correlating the storm into incidents"):
        holder: list[int] = []
        correlate_s = timed(lambda: holder.append(len(correlate(topo, alerts))))
    with _step(options, f"blast radius of {cause}"):
        blast_ms = median_ms(lambda: topo.blast_radius(cause), options.repeat)
    figures = (
        Figure(
            "rca_seconds",
            rca_s,
            "s",
            "the same ranking with every candidate scored in full",
            exhaustive_s,
        ),
        Figure("correlate_seconds", correlate_s, "s"),
        Figure("blast_radius_ms", blast_ms, "ms"),
        Figure("ranker_setup_seconds", setup_s, "s"),
    )
    context = {
        "gpus": gpus,
        "entities": len(topo),
        "alerts": len(alerts),
        "injected_cause": cause,
        "ranked_first": found[0],
        "candidates": len(candidates),
        "incidents": holder[0] if holder else None,
    }
    return BenchResult("rca", figures, context)


def _storm(topo: Topology, count: int) -> tuple[str, list[Alert]]:
    """The smallest power source behind `count` alerting entities fails: its PDUs and racks
    lose power, their nodes go down, their GPUs' exporters vanish, `count` alerts in all,
    spread over two minutes."""
    alertable = np.zeros(len(topo), dtype=bool)
    for kind in ("pdu", "rack", "node", "gpu"):
        alertable |= topo.kind_mask(kind)
    sources = [e.id for kind in ("ups", "utility_feed") for e in topo.entities(kind)]
    sizes = {u: int(alertable[topo.downstream_indices(u)].sum()) for u in sources}
    big = [u for u in sources if sizes[u] >= count] or sources
    ups = min(big, key=lambda u: sizes[u])
    reached = topo.downstream_indices(ups)
    kinds = np.array([topo.kind_of(topo.id_at(i)) for i in reached.tolist()])
    order = {"pdu": 0, "rack": 1, "node": 2, "gpu": 3}
    names = {
        "pdu": "PDUOutputLoss",
        "rack": "RackPowerLoss",
        "node": "NodeDown",
        "gpu": "GPUMetricsAbsent",
    }
    picked = [i for k in order for i in reached[kinds == k].tolist()][:count]
    rng = np.random.default_rng(0)
    alerts = []
    t0 = 1_777_600_000.0
    for i in picked:
        eid = topo.id_at(i)
        kind = topo.kind_of(eid)
        labels = {"alertname": names[kind], "entity": eid, "severity": "critical"}
        at = t0 + 10 * order[kind] + float(rng.integers(0, 12)) * 10
        alerts.append(Alert(fingerprint(labels), labels, {}, at, entity=eid))
    return ups, alerts
