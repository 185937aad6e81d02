"""The stages wired together, as the diagram in DESIGN.md draws them:

    sources ─► ingest ─► store ─► detect ─► correlate ─► diagnose ─► (store, publish)

Ingest (`api.ingest.IngestPipeline`) maps and stores what arrives and tells this pipeline;
one worker thread then runs everything after the store in arrival order: sample batches and
kernel-log events through the detector bank, its findings and the alerts through the
correlator, and every incident they create or change through diagnosis into the state store
and onto the change stream. One thread keeps the correlator's decisions in one order (the
order that `foreshock incidents` reproduces from files) and keeps HTTP handlers fast: they
only enqueue. The queue is bounded; when detection falls behind, the oldest sample batches are
dropped and counted, never alerts or events.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from foreshock.api.ingest import IngestPipeline
from foreshock.correlate import Correlator
from foreshock.detect.bank import Bank
from foreshock.detect.run import default_bank
from foreshock.model import Alert, Event, Finding, Incident, SampleBatch

log = logging.getLogger("foreshock.pipeline")

Publish = Callable[[str, dict[str, Any]], object]


@dataclass
class PipelineStats:
    batches: int = 0
    samples: int = 0
    alerts: int = 0
    events: int = 0
    findings: Counter[str] = field(default_factory=Counter)  # by kind
    incidents_changed: int = 0
    dropped_batches: int = 0
    errors: int = 0


class Pipeline:
    """detect → correlate → diagnose → store + publish, behind ingest."""

    def __init__(
        self,
        ingest: IngestPipeline,
        publish: Publish | None = None,
        *,
        bank: Bank | None = None,
        max_queue: int = 1024,
        on_incident: Callable[[Incident, bool], None] | None = None,
    ) -> None:
        self.ingest = ingest
        self.store = ingest.store
        self.publish: Publish = publish or (lambda kind, data: None)
        self.bank = bank or default_bank(ingest.table)
        self.correlator = Correlator(ingest.topology)
        self.on_incident = on_incident
        self.stats = PipelineStats()
        self.rows: dict[str, int] = {}  # correlator incident id → state store row id
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()  # the correlator and bank belong to whoever holds it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        ingest.listeners.append(self)

    # --- what ingest calls (any thread; never blocks) ------------------------------------

    def on_batch(self, batch: SampleBatch) -> None:
        self._put("samples", batch, droppable=True)

    def on_alerts(self, alerts: list[Alert]) -> None:
        self._put("alerts", alerts, droppable=False)

    def on_events(self, events: list[Event]) -> None:
        self._put("events", events, droppable=False)

    def _put(self, kind: str, item: Any, droppable: bool) -> None:
        while True:
            try:
                self._queue.put_nowait((kind, item))
                return
            except queue.Full:
                if droppable:
                    self.stats.dropped_batches += 1
                    return
                try:  # make room by dropping the oldest entry if it is a sample batch
                    old = self._queue.get_nowait()
                except queue.Empty:
                    continue
                if old[0] == "samples":
                    self.stats.dropped_batches += 1
                else:  # never drop alerts or events: wait for the worker instead
                    self._queue.put(old)
                    self._queue.put((kind, item))
                    return

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    # --- the worker -----------------------------------------------------------------------

    def start(self) -> Pipeline:
        self._thread = threading.Thread(target=self._run, name="foreshock-pipeline", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._queue.put(("stop", None))
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            kind, item = self._queue.get()
            if kind == "stop":
                return
            try:
                self.step(kind, item)
            except Exception:  # a bug in one stage must not stop the service
                self.stats.errors += 1
                log.exception("pipeline step %s failed", kind)
            finally:
                self._queue.task_done()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is processed (tests, the demo)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def process_pending(self) -> list[Incident]:
        """Run everything queued so far in the caller's thread, in order (tests, tools that
        do not start the worker); returns the incidents changed."""
        changed: list[Incident] = []
        while True:
            try:
                kind, item = self._queue.get_nowait()
            except queue.Empty:
                return changed
            try:
                changed += self.step(kind, item)
            finally:
                self._queue.task_done()

    def step(self, kind: str, item: Any) -> list[Incident]:
        """Process one queued item now, in the caller's thread; returns changed incidents."""
        with self._lock:
            if kind == "samples":
                self.stats.batches += 1
                self.stats.samples += len(item)
                changed = self._findings(self.bank.feed(item))
            elif kind == "events":
                self.stats.events += len(item)
                changed = self._findings(self.bank.events(item))
            elif kind == "alerts":
                self.stats.alerts += len(item)
                changed = self.correlator.feed(alerts=item)
            else:
                raise ValueError(f"unknown pipeline item {kind!r}")
            out = self._persist(changed)
            # What no alert can join any more lives on in the state store only: the service
            # holds what can still change, not months of history.
            for inc in self.correlator.forget():
                self.rows.pop(inc.id, None)
            return out

    def _findings(self, findings: list[Finding]) -> list[str]:
        if not findings:
            return []
        self.store.add_findings(findings)
        for f in findings:
            self.stats.findings[f.kind] += 1
        sample = [f.to_json() for f in findings[:50]]
        self.publish("findings", {"count": len(findings), "findings": sample})
        return self.correlator.feed(findings=findings)

    def _persist(self, changed: list[str]) -> list[Incident]:
        """Write the changed incidents to the state store and publish them."""
        if not changed:
            return []
        # Incidents the correlator merged into another: their rows hand over their alerts.
        for gone, into in list(self.correlator.merged.items()):
            if gone in self.rows and into in self.rows:
                self.store.merge_incidents(self.rows.pop(gone), self.rows[into])
                self.publish("incident", {"key": gone, "merged_into": into})
            elif gone in self.rows:  # the survivor has no row yet: it takes this one over
                self.rows[into] = self.rows.pop(gone)
            if gone not in self.rows:
                del self.correlator.merged[gone]
        wanted = set(changed)
        out = []
        for inc in self.correlator.incidents():
            if inc.id not in wanted:
                continue
            out.append(inc)
            doc = inc.to_json()
            # The recommended actions travel with the top cause they are for.
            causes = [
                {**c, "actions": doc["actions"]} if n == 0 else c
                for n, c in enumerate(doc["root_causes"])
            ]
            blast = inc.blast_radius.to_json() if inc.blast_radius else {}
            alerts = [a for a in inc.alerts if not a.startswith("finding:")]
            row_id = self.rows.get(inc.id)
            new = row_id is None
            if row_id is None:
                row = self.store.create_incident(
                    inc.title,
                    started_at=inc.start,
                    fingerprints=alerts,
                    root_causes=causes,
                    blast_radius=blast,
                    suppressed=doc["suppressed"],
                )
                row_id = self.rows[inc.id] = row.id
            else:
                self.store.set_incident_alerts(row_id, alerts)
                self.store.update_incident(
                    row_id,
                    title=inc.title,
                    ended_at=inc.end,
                    root_causes=causes,
                    blast_radius=blast,
                    suppressed=doc["suppressed"],
                )
            stored = self.store.incident(row_id)
            if inc.end is not None and stored is not None and stored.status != "resolved":
                self.store.set_incident_status(row_id, "resolved", by="foreshock")
            self.stats.incidents_changed += 1
            self.publish("incident", {"id": row_id, "key": inc.id, "new": new, **doc})
            if self.on_incident is not None:
                self.on_incident(inc, new)
        return out
