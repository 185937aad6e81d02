"""Symptoms from alerts and findings: which entity shows what, since when, how strongly."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from foreshock.diagnose.rank import Symptom
from foreshock.diagnose.signs import alert_signs, classify
from foreshock.model import Alert, Finding
from foreshock.topology import Topology

SEVERITY = {"critical": 1.0, "page": 1.0, "error": 0.8, "warning": 0.5, "info": 0.1}


def from_alerts(topo: Topology, alerts: Iterable[Alert]) -> list[Symptom]:
    out = []
    for a in alerts:
        entity = a.entity or topo.map_labels(a.labels)
        if entity is None:
            continue
        weight = SEVERITY.get(a.labels.get("severity", "warning").lower(), 0.5)
        name = a.labels.get("alertname", "")
        signs = alert_signs(name, a.labels.get("xid"))
        out.append(Symptom(entity, a.starts_at, weight, name, signs))
    return out


WEIGHT = 0.2  # of an anomaly, against an alert at 1
COMMON = 3  # entities a finding's metric may show on before it counts for less


# Detectors that flag any change of a gauge (the novelty ensemble): every consequence of a
# fault changes some gauge, so their findings are shown, not used to single out a cause.
GENERIC_DETECTORS = frozenset({"ensemble"})


def from_findings(findings: Iterable[Finding]) -> list[Symptom]:
    """Findings of specific detectors (counter rates, peer comparison, trends, XID policy)
    weigh a fraction of an alert, and less the more entities show the same metric's finding:
    when every GPU of a stalled job slows together, that is one pattern, not a hundred pieces
    of evidence."""
    kept = [f for f in findings if f.entity is not None and f.detector not in GENERIC_DETECTORS]
    spread = Counter(f.metric for f in {(f.entity, f.metric): f for f in kept}.values())
    return [
        Symptom(
            f.entity,  # type: ignore[arg-type]
            f.onset or f.raised_at,
            WEIGHT * f.score * min(1.0, COMMON / spread[f.metric]),
            f.metric,
            classify([f.metric]),
            f.kind == "prediction",
        )
        for f in kept
    ]


LOOKBACK = 3600.0  # seconds before an incident in which a prediction is its precursor


def precursors(findings: Iterable[Finding], start: float) -> list[Symptom]:
    """Predictions raised in the hour before an incident began, as symptoms at its start: a
    GPU flagged as a straggler twenty minutes before its job slowed is where to look first,
    although its warning came long before the alerts."""
    early = [
        f for f in findings if f.kind == "prediction" and start - LOOKBACK <= f.raised_at < start
    ]
    return [replace(s, first=start) for s in from_findings(early)]


def in_window(alerts: Iterable[Alert], start: float, end: float) -> list[Alert]:
    """Alerts that began in [start, end), and those still firing at `start` (the background an
    incident arrives into)."""
    return [
        a
        for a in alerts
        if start <= a.starts_at < end or (a.starts_at < start and (a.ends_at or 1e18) > start)
    ]


def observable_kinds(topo: Topology, entities: Iterable[str | None]) -> np.ndarray:
    """Mask of every entity of a kind that has shown any symptom at all (in the whole input,
    not only the incident): such entities would show one if a fault reached them."""
    mask = np.zeros(len(topo), dtype=bool)
    for kind in {topo.kind_of(e) for e in entities if e is not None and e in topo}:
        mask |= topo.kind_mask(kind)
    return mask
