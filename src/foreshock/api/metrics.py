"""Foreshock's own metrics in the Prometheus text format (version 0.0.4), rendered by hand:
the service does not need a metrics library for a few dozen series."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from foreshock.api.app import ServiceState

Sample = tuple[dict[str, str], float]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return str(int(x)) if float(x).is_integer() else repr(float(x))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if labels:
                inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
                self.lines.append(f"{name}{{{inner}}} {_number(value)}")
            else:
                self.lines.append(f"{name} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render_metrics(state: ServiceState) -> str:
    w = _Writer()
    w.family(
        "foreshock_up",
        "gauge",
        "1 once the topology and state store are open.",
        [({}, 1.0 if state.pipeline is not None else 0.0)],
    )
    with state.lock:
        requests = sorted(state.requests.items())
        internal = state.internal_errors
        in_flight = state.in_flight
    w.family(
        "foreshock_http_requests_in_flight",
        "gauge",
        "Requests being read or processed now (the ingest queue).",
        [({}, float(in_flight))],
    )
    w.family(
        "foreshock_http_requests_total",
        "counter",
        "HTTP requests answered, by method, route and status code.",
        [({"method": m, "route": r, "code": str(c)}, float(n)) for (m, r, c), n in requests],
    )
    w.family(
        "foreshock_http_internal_errors_total",
        "counter",
        "Requests that ended in an unexpected error (a bug): 500.",
        [({}, float(internal))],
    )
    _queues(w, state)
    p = state.pipeline
    if p is None:
        return w.text()
    counts = p.store.incident_status_counts()
    w.family(
        "foreshock_incidents",
        "gauge",
        "Incidents by status (open and acknowledged ones are the open work).",
        [({"status": s}, float(n)) for s, n in sorted(counts.items())],
    )
    w.family(
        "foreshock_incidents_open",
        "gauge",
        "Incidents not resolved (open or acknowledged).",
        [({}, float(counts.get("open", 0) + counts.get("acknowledged", 0)))],
    )
    stats = p.stats()
    sources = stats["sources"]

    def per_source(key: str) -> list[Sample]:
        return [({"source": s}, float(v[key])) for s, v in sources.items()]

    def per_reason(key: str) -> list[Sample]:
        return [
            ({"source": s, "reason": r}, float(n))
            for s, v in sources.items()
            for r, n in sorted(v[key].items())
        ]

    w.family(
        "foreshock_ingest_requests_total",
        "counter",
        "Ingest requests received.",
        per_source("requests"),
    )
    w.family(
        "foreshock_ingest_bytes_total",
        "counter",
        "Ingest body bytes received.",
        per_source("bytes"),
    )
    w.family(
        "foreshock_ingest_rejected_requests_total",
        "counter",
        "Ingest requests refused, by HTTP status code.",
        [
            ({"source": s, "code": c}, float(n))
            for s, v in sources.items()
            for c, n in sorted(v["rejected"].items())
        ],
    )
    w.family(
        "foreshock_ingest_samples_total",
        "counter",
        "Samples mapped to series and offered to the hot window.",
        per_source("samples"),
    )
    w.family(
        "foreshock_ingest_accepted_total",
        "counter",
        "Samples stored in the hot window, or alerts or events stored.",
        per_source("accepted"),
    )
    w.family(
        "foreshock_ingest_series", "gauge", "Series created, per source.", per_source("series")
    )
    w.family(
        "foreshock_ingest_unmapped_series",
        "gauge",
        "Series that map to no topology entity (kept, not dropped).",
        per_source("unmapped"),
    )
    w.family(
        "foreshock_ingest_ambiguous_series",
        "gauge",
        "Series that map to more than one entity.",
        per_source("ambiguous"),
    )
    w.family(
        "foreshock_ingest_refused_series_total",
        "counter",
        "New series refused by the cardinality cap.",
        per_source("refused_series"),
    )
    w.family(
        "foreshock_ingest_skipped_total",
        "counter",
        "Samples (or log lines) counted and skipped, by reason.",
        per_reason("skipped"),
    )
    w.family(
        "foreshock_ingest_hot_refused_total",
        "counter",
        "Samples the hot window refused (out of order, duplicate), by reason.",
        per_reason("hot_refused"),
    )
    w.family(
        "foreshock_ingest_inf_values_total",
        "counter",
        "Samples with an infinite value (kept).",
        per_source("inf_values"),
    )
    w.family(
        "foreshock_ingest_outcomes_total",
        "counter",
        "Alerts by outcome (new, changed, duplicate, stale); events by mapped or unmapped.",
        per_reason("outcomes"),
    )
    w.family("foreshock_series", "gauge", "Series held in memory.", [({}, stats["series"])])
    w.family("foreshock_series_limit", "gauge", "The cardinality cap.", [({}, stats["max_series"])])
    w.family(
        "foreshock_hot_window_memory_bytes",
        "gauge",
        "Memory held by the hot window.",
        [({}, stats["hot_window"]["memory_bytes"])],
    )
    return w.text()


def _queues(w: _Writer, state: ServiceState) -> None:
    b = state.broadcaster
    depths = b.depths()
    queues: list[Sample] = [({"queue": "stream"}, float(sum(depths)))]
    for name, depth in sorted(state.queues.items()):
        try:
            queues.append(({"queue": name}, float(depth())))
        except Exception:  # a queue that cannot tell is left out, not a failed scrape
            continue
    w.family(
        "foreshock_queue_depth",
        "gauge",
        "Items waiting per queue (stream: events not yet sent to event-stream clients; "
        "others as registered by the pipeline).",
        queues,
    )
    w.family(
        "foreshock_stream_clients",
        "gauge",
        "Event-stream (SSE) clients connected.",
        [({}, float(len(depths)))],
    )
    w.family(
        "foreshock_stream_queue_max",
        "gauge",
        "Deepest event-stream client queue (its limit is stream_queue_size).",
        [({}, float(max(depths, default=0)))],
    )
    w.family(
        "foreshock_stream_published_total",
        "counter",
        "Changes published on the event stream.",
        [({}, float(b.published))],
    )
    w.family(
        "foreshock_stream_dropped_total",
        "counter",
        "Events dropped for event-stream clients too slow to keep up (they were told to resync).",
        [({}, float(b.dropped()))],
    )
