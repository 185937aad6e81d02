"""The ingest side of the service, without HTTP: raw bodies in, counted results out.

`IngestPipeline` holds what every source shares: the topology (label → entity mapping), one
`SeriesTable`, the `HotWindow` and the `StateStore`. A method takes a body as received and
either returns what it did or raises an `IngestError` whose status (400, 413, 415, 422) and
message can go back to the client as they are.

Metric samples go to memory (the hot window); alerts and events go to the state store and are
committed before a method returns, so that whatever the HTTP layer acknowledges survives a
kill -9. Nothing is dropped silently: series that map to no entity are kept and counted per
source, and every sample or line left out is counted by reason.

Thread safety: the series table, the hot window, the remote_write decoder (which caches label
sets) and the kmsg parser are guarded by one lock. Store writes happen outside it: the store
serialises writers itself.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson

from foreshock.api.settings import Settings
from foreshock.ingest.alertmanager import AlertPayloadError, parse_api_v2, parse_webhook
from foreshock.ingest.decoded import Decoded, DecodeError
from foreshock.ingest.events import EventResolver
from foreshock.ingest.kmsg import KmsgParser
from foreshock.ingest.otlp import decode_otlp
from foreshock.ingest.remote_write import RemoteWriteDecoder
from foreshock.ingest.series import SeriesTable
from foreshock.model import Alert, Event, SampleBatch
from foreshock.store.hot import HotWindow
from foreshock.store.state import StateStore
from foreshock.topology import Topology, load_topology

REMOTE_WRITE = "remote_write"
OTLP = "otlp"
WEBHOOK = "alertmanager"
API_V2 = "api-v2"
KMSG = "kmsg"


class IngestError(Exception):
    """A request the pipeline refuses; `status` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(IngestError):
    status = 400


class PayloadTooLarge(IngestError):
    status = 413


class UnsupportedMediaType(IngestError):
    status = 415


class Unprocessable(IngestError):
    status = 422


@dataclass
class SourceCounters:
    """What the pipeline did per source, beyond the series table's own stats."""

    requests: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # requests, by HTTP status
    bytes: int = 0
    accepted: int = 0  # samples stored in the hot window, alerts or events stored
    skipped: Counter[str] = field(default_factory=Counter)  # samples or lines, by reason
    repaired: Counter[str] = field(default_factory=Counter)
    hot_refused: Counter[str] = field(default_factory=Counter)
    inf_values: int = 0  # kept, as Prometheus keeps them, but worth seeing
    outcomes: Counter[str] = field(default_factory=Counter)  # alerts: new, changed, duplicate


@dataclass(frozen=True, slots=True)
class MetricsResult:
    samples: int  # accepted into the hot window
    series: int
    skipped: dict[str, int]
    hot_refused: dict[str, int]


@dataclass(frozen=True, slots=True)
class AlertsResult:
    received: int
    new: int
    changed: int
    duplicate: int
    stale: int


@dataclass(frozen=True, slots=True)
class EventsResult:
    parsed: int
    skipped: int
    stored: int


_PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
_JSON_TYPE = "application/json"


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _param(content_type: str | None, name: str) -> str:
    """A parameter of a Content-Type header (`proto` of remote_write 2.0), or ""."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return ""


class IngestListener(Protocol):
    def on_batch(self, batch: SampleBatch) -> None: ...
    def on_alerts(self, alerts: list[Alert]) -> None: ...
    def on_events(self, events: list[Event]) -> None: ...


class IngestPipeline:
    def __init__(
        self,
        topology: Topology,
        store: StateStore,
        *,
        max_series: int = 2_000_000,
        max_series_per_request: int | None = None,
        hot_window_slots: int = 64,
        max_decompressed_bytes: int = 64 << 20,
        max_kmsg_lines: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topology = topology
        self.store = store
        self.table = SeriesTable(topology, max_series=max_series)
        self.hot = HotWindow(slots=hot_window_slots, max_series=max(max_series, 1))
        self.max_decompressed_bytes = max_decompressed_bytes
        self.max_kmsg_lines = max_kmsg_lines
        self.clock = clock
        self.remote_write = RemoteWriteDecoder(
            max_series=max_series_per_request, max_bytes=max_decompressed_bytes
        )
        self.kmsg = KmsgParser()
        self.resolver = EventResolver(topology, self.table)
        self.counters: dict[str, SourceCounters] = {}
        self.lock = threading.Lock()
        # What the later stages want to hear (the pipeline's detect and correlate worker):
        # called after the data is stored, and expected to return at once.
        self.listeners: list[IngestListener] = []

    @classmethod
    def open(cls, settings: Settings) -> IngestPipeline:
        """Loads the topology files and opens (and migrates) the state store."""
        files = settings.topology_files
        topology = load_topology(files) if files else Topology([], [])
        store = StateStore.open(settings.resolved_state_url)
        return cls(
            topology,
            store,
            max_series=settings.max_series,
            max_series_per_request=settings.max_series_per_request,
            hot_window_slots=settings.hot_window_slots,
            max_decompressed_bytes=settings.max_decompressed_bytes,
            max_kmsg_lines=settings.max_kmsg_lines,
        )

    def close(self) -> None:
        self.store.close()

    def source(self, name: str) -> SourceCounters:
        counters = self.counters.get(name)
        if counters is None:
            counters = self.counters[name] = SourceCounters()
        return counters

    def reject(self, source: str, status: int) -> None:
        """Counts a request refused before or while reading it (auth, size, media type)."""
        with self.lock:
            self.source(source).requests += 1
            self.source(source).rejected[str(status)] += 1

    def _run(self, source: str, size: int, work: Callable[[SourceCounters], Any]) -> Any:
        with self.lock:
            counters = self.source(source)
            counters.requests += 1
            counters.bytes += size
        try:
            return work(counters)
        except IngestError as e:
            with self.lock:
                counters.rejected[str(e.status)] += 1
            raise

    # --- metrics ---------------------------------------------------------------------------

    def ingest_remote_write(
        self, body: bytes, content_type: str | None, content_encoding: str | None
    ) -> MetricsResult:
        """A Prometheus remote_write 1.0 body: snappy (block) compressed WriteRequest."""

        def work(counters: SourceCounters) -> MetricsResult:
            if media_type(content_type) not in _PROTOBUF_TYPES:
                raise UnsupportedMediaType(
                    "remote_write needs Content-Type application/x-protobuf, got "
                    f"{(content_type or 'none')[:60]!r}"
                )
            proto = _param(content_type, "proto")
            if proto not in ("", "prometheus.WriteRequest"):
                raise UnsupportedMediaType(
                    f"remote_write 1.0 only: proto={proto[:60]!r} is not supported"
                )
            encoding = (content_encoding or "").strip().lower()
            if encoding not in ("snappy", ""):
                raise UnsupportedMediaType(
                    f"remote_write needs Content-Encoding snappy, got {encoding[:40]!r}"
                )
            with self.lock:
                try:
                    decoded = self.remote_write.decode(body)
                except DecodeError as e:
                    raise BadRequest(str(e)) from None
                return self._store_samples(decoded, REMOTE_WRITE, counters)

        result: MetricsResult = self._run(REMOTE_WRITE, len(body), work)
        return result

    def ingest_otlp(
        self, body: bytes, content_type: str | None, content_encoding: str | None
    ) -> MetricsResult:
        """An OTLP/HTTP ExportMetricsServiceRequest, protobuf or JSON, gzip or not."""

        def work(counters: SourceCounters) -> MetricsResult:
            kind = media_type(content_type)
            if kind not in (*_PROTOBUF_TYPES, _JSON_TYPE):
                raise UnsupportedMediaType(
                    "OTLP needs Content-Type application/x-protobuf or application/json, got "
                    f"{(content_type or 'none')[:60]!r}"
                )
            encoding = (content_encoding or "").strip().lower()
            if encoding not in ("", "identity", "gzip"):
                raise UnsupportedMediaType(
                    f"OTLP needs Content-Encoding gzip or none, got {encoding[:40]!r}"
                )
            try:
                decoded = decode_otlp(
                    body,
                    kind,
                    content_encoding=content_encoding,
                    max_bytes=self.max_decompressed_bytes,
                )
            except DecodeError as e:
                raise BadRequest(str(e)) from None
            with self.lock:
                return self._store_samples(decoded, OTLP, counters)

        result: MetricsResult = self._run(OTLP, len(body), work)
        return result

    def ingest_decoded(self, decoded: Decoded, source: str) -> MetricsResult:
        """Samples already decoded (a scraped page, a file): mapped, stored and counted as
        one request of `source`."""
        with self.lock:
            counters = self.source(source)
            counters.requests += 1
            return self._store_samples(decoded, source, counters)

    def _store_samples(
        self, decoded: Decoded, source: str, counters: SourceCounters
    ) -> MetricsResult:
        """Maps and stores decoded samples; the caller holds the lock."""
        counters.skipped.update(decoded.skipped)
        counters.repaired.update(decoded.repaired)
        counters.inf_values += int(np.isinf(decoded.values).sum())
        before_series = len(self.table)
        batch = self.table.batch(
            decoded.labels, decoded.series, decoded.timestamps, decoded.values, source
        )
        before = Counter(self.hot.refused)
        accepted = self.hot.append(batch)
        refused = Counter(self.hot.refused)
        refused.subtract(before)
        refused_now = {k: v for k, v in refused.items() if v > 0}
        counters.hot_refused.update(refused_now)
        counters.accepted += accepted
        if len(batch):
            for listener in self.listeners:
                listener.on_batch(batch)
        capped = len(batch) < len(decoded)
        skipped = dict(decoded.skipped)
        if capped:
            skipped["cardinality_limit"] = len(decoded) - len(batch)
        return MetricsResult(
            samples=accepted,
            series=len(self.table) - before_series,
            skipped=skipped,
            hot_refused=refused_now,
        )

    # --- alerts ----------------------------------------------------------------------------

    def ingest_alerts(self, body: bytes, content_type: str | None, shape: str) -> AlertsResult:
        """Alertmanager's webhook (shape "webhook") or the `POST /api/v2/alerts` list
        (shape "api-v2"); stored, deduplicated on the label-set fingerprint, and committed
        before this returns."""
        source = WEBHOOK if shape == "webhook" else API_V2

        def work(counters: SourceCounters) -> AlertsResult:
            kind = media_type(content_type)
            if kind and kind != _JSON_TYPE and not kind.endswith("+json"):
                raise UnsupportedMediaType(f"alerts are JSON, got {kind[:60]!r}")
            alerts = self._parse_alerts(body, shape)
            changes = self.store.upsert_alerts(alerts, now=self.clock())
            for listener in self.listeners:
                listener.on_alerts(alerts)
            result = AlertsResult(
                received=len(alerts),
                new=len(changes.new),
                changed=len(changes.changed),
                duplicate=len(changes.duplicate),
                stale=len(changes.stale),
            )
            with self.lock:
                counters.accepted += len(alerts)
                counters.outcomes.update(
                    new=result.new,
                    changed=result.changed,
                    duplicate=result.duplicate,
                    stale=result.stale,
                )
            return result

        result: AlertsResult = self._run(source, len(body), work)
        return result

    def _parse_alerts(self, body: bytes, shape: str) -> list[Alert]:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise BadRequest(f"invalid JSON at byte {e.pos}") from None
        parse = parse_webhook if shape == "webhook" else parse_api_v2
        try:
            with self.lock:  # the resolver reads the series table
                mapper = self.resolver.alert_mapper()
                return parse(doc, mapper, self.clock())
        except AlertPayloadError as e:
            raise Unprocessable(str(e)) from None

    # --- events ----------------------------------------------------------------------------

    def ingest_kmsg(self, body: bytes, content_type: str | None) -> EventsResult:
        """Kernel log lines (text/plain, one per line): XID and SXID lines become events
        resolved to their GPU, NVSwitch or node and are committed before this returns; any
        other line is counted and skipped."""

        def work(counters: SourceCounters) -> EventsResult:
            kind = media_type(content_type)
            if kind not in ("", "text/plain"):
                raise UnsupportedMediaType(f"kernel log lines are text/plain, got {kind[:60]!r}")
            text = body.decode("utf-8", errors="replace")
            lines = [line for line in text.splitlines() if line.strip()]
            if len(lines) > self.max_kmsg_lines:
                raise PayloadTooLarge(
                    f"{len(lines)} lines; the limit is {self.max_kmsg_lines} per request"
                )
            with self.lock:
                events = [self.resolver.resolve(e) for e in self.kmsg.parse(lines)]
            skipped = len(lines) - len(events)
            stored = self.store.add_events(events, now=self.clock())
            for listener in self.listeners:
                listener.on_events(events)
            with self.lock:
                counters.accepted += stored
                if skipped:
                    counters.skipped["not_xid_or_sxid"] += skipped
                counters.outcomes.update(
                    mapped=sum(1 for e in events if e.entity is not None),
                    unmapped=sum(1 for e in events if e.entity is None),
                )
            return EventsResult(parsed=len(events), skipped=skipped, stored=stored)

        result: EventsResult = self._run(KMSG, len(body), work)
        return result

    # --- reading ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Per-source counters, as /api/v1/ingest/stats returns them."""
        with self.lock:
            sources: dict[str, Any] = {}
            for name in sorted(set(self.counters) | set(self.table.stats)):
                c = self.source(name)
                t = self.table.source(name)
                skipped = Counter(c.skipped)
                skipped.update(t.skipped)
                sources[name] = {
                    "requests": c.requests,
                    "rejected": dict(c.rejected),
                    "bytes": c.bytes,
                    "accepted": c.accepted,
                    "samples": t.samples,
                    "series": t.series,
                    "unmapped": t.unmapped,
                    "ambiguous": t.ambiguous,
                    "refused_series": t.refused,
                    "skipped": dict(skipped),
                    "repaired": dict(c.repaired),
                    "hot_refused": dict(c.hot_refused),
                    "inf_values": c.inf_values,
                    "outcomes": dict(c.outcomes),
                }
            return {
                "sources": sources,
                "series": len(self.table),
                "max_series": self.table.max_series,
                "hot_window": {
                    "slots": self.hot.slots,
                    "memory_bytes": self.hot.memory_bytes,
                    "refused": dict(self.hot.refused),
                },
            }
