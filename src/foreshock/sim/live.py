"""Live mode: the simulator stepping in (simulated or real) time, serving its exporters.

Prometheus scrapes it like a fleet: one dcgm-exporter and one node_exporter per host, and BMS
points, listed for `http_sd_configs` at /sd. Faults keep arriving at random, drawn from the
published mix; /truth tells what was injected so far.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from foreshock.sim.exposition import Exposition, counts
from foreshock.sim.faults import FAULTS, Context, Injection
from foreshock.sim.fleet import FleetShape, generate_fleet
from foreshock.sim.layout import Layout
from foreshock.sim.physics import Physics
from foreshock.sim.scenario import fits, state_for
from foreshock.sim.state import Array, LogLine
from foreshock.topology import Topology


@dataclass(frozen=True)
class LiveConfig:
    shape: FleetShape
    interval: float = 10.0
    fault_every: float = 300.0  # mean simulated seconds between faults; 0 for none
    faults: tuple[str, ...] | None = None  # kinds to draw from; None for the whole library
    seed: int = 0
    start: float | None = None  # simulated start; default: now


class LiveFleet:
    def __init__(self, config: LiveConfig) -> None:
        self.config = config
        entities, relations = generate_fleet(config.shape)
        self.topology = Topology(entities, relations)
        self.layout = Layout.of(self.topology)
        start = config.start if config.start is not None else float(int(time.time()))
        self.now = start
        self.physics = Physics(self.layout, start, config.seed)
        self.exposition = Exposition(self.layout)
        self.rng = np.random.default_rng([config.seed, 7])
        self.injections: list[Injection] = []
        self.history: list[Injection] = []
        self.latest: dict[str, Array] = {}
        self.steps = 0
        self.lock = threading.Lock()
        self.listeners: list[Callable[[float, dict[str, Array], list[LogLine]], None]] = []
        kinds = config.faults or tuple(FAULTS)
        self._kinds = [k for k in kinds if self._roots(k)]
        self._next_fault = start + self._gap()

    def _gap(self) -> float:
        if self.config.fault_every <= 0:
            return float("inf")
        return float(self.rng.exponential(self.config.fault_every))

    def _roots(self, kind: str) -> list[str]:
        return list(fits(FAULTS[kind], self.topology))

    def inject(self, kind: str, root: str | None = None, delay: float | None = None) -> Injection:
        """Plan a fault now; it fails `delay` simulated seconds from now (default 30-120 s)."""
        fault = FAULTS[kind]
        taken = {i.truth.root for i in self.injections}
        if root is None:
            free = [r for r in self._roots(kind) if r not in taken]
            if not free:
                raise ValueError(f"every part that can suffer {kind} already has a fault")
            root = free[int(self.rng.integers(len(free)))]
        delay = float(self.rng.uniform(30, 120)) if delay is None else delay
        onset = self.now + round(delay / self.config.interval) * self.config.interval
        ctx = Context(
            self.layout,
            np.random.default_rng([self.config.seed, 8, len(self.history)]),
            f"fault-{len(self.history) + 1}",
            earliest=self.now,
        )
        inj = fault.plan(ctx, root, onset)
        with self.lock:
            self.injections.append(inj)
            self.history.append(inj)
        return inj

    def step(self) -> dict[str, Array]:
        """Advance one interval; returns the step's series ([rows, 1] each)."""
        while self._next_fault <= self.now and self._kinds:
            taken = {i.truth.root for i in self.injections}
            kinds = [k for k in self._kinds if any(r not in taken for r in self._roots(k))]
            if kinds:
                weights = np.array([FAULTS[k].weight for k in kinds])
                self.inject(str(self.rng.choice(kinds, p=weights / weights.sum())))
            self._next_fault += self._gap()
        state = state_for(self.layout, np.array([self.now]), self.injections, self.config.interval)
        series = self.physics.run(state, [self.config.seed, 9, self.steps])
        # Every planned line goes to the listeners; each keeps those of its own step.
        logs = [x for i in self.injections for x in i.logs]
        with self.lock:
            self.latest = {k: v[:, -1] for k, v in series.items()}
            self.steps += 1
            # Keep a fault while it can still change anything (its repair reboot included).
            self.injections = [i for i in self.injections if i.truth.end + 60 > self.now]
        for listener in self.listeners:
            listener(self.now, series, logs)
        self.now += self.config.interval
        return series

    def samples_per_step(self) -> int:
        with self.lock:
            return counts(self.latest)

    def truth(self) -> list[dict[str, Any]]:
        with self.lock:
            return [i.truth.to_json() for i in self.history]


class AlertPusher:
    """Evaluates the alert rules as the fleet steps and posts what changed to a webhook, as
    Alertmanager posts to its receivers (webhook v4, `Authorization: Bearer <token>`).

    Pushes run every `every` simulated seconds on a thread of their own; a failed push is
    retried with the next one, which carries the current state of every alert it sent."""

    def __init__(
        self, fleet: LiveFleet, url: str, token: str | None = None, every: float = 30.0
    ) -> None:
        from foreshock.sim.alerting import AlertEngine

        self.fleet, self.url, self.token, self.every = fleet, url, token, every
        cfg = fleet.config
        self.engine = AlertEngine(
            fleet.layout, fleet.now, fleet.now + 7 * 86_400, cfg.interval, cfg.seed
        )
        self._sent: dict[str, float | None] = {}  # fingerprint → end time last sent
        self._next = fleet.now + every
        self.posted = 0
        self.failures = 0
        self.last_error = ""
        # One worker posts in order: an older "firing" must never land after a "resolved".
        self._queue: queue.Queue[list[dict[str, Any]]] = queue.Queue()
        threading.Thread(target=self._worker, daemon=True).start()
        fleet.listeners.append(self._on_step)

    def _on_step(self, now: float, series: dict[str, Array], logs: list[LogLine]) -> None:
        self.engine.feed(np.array([now]), series, logs)
        if now >= self._next:
            self._next = now + self.every
            payloads = self.pending(now)
            if payloads:
                self._queue.put(payloads)

    def _worker(self) -> None:
        while True:
            self._post(self._queue.get())

    def pending(self, now: float) -> list[dict[str, Any]]:
        """Webhook payloads for the alerts that are new or changed since the last push."""
        from foreshock.sim.alerting import webhook_payloads

        changed = []
        for a in self.engine.snapshot(now):
            if self._sent.get(a.fingerprint, "unsent") != a.ends_at:
                changed.append(a)
        for a in changed:
            self._sent[a.fingerprint] = a.ends_at
        return webhook_payloads(changed, at=now) if changed else []

    def _post(self, payloads: list[dict[str, Any]]) -> None:
        import urllib.error
        import urllib.request

        for body in payloads:
            req = urllib.request.Request(
                self.url,
                data=json.dumps(body).encode(),
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            if self.token:
                req.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(req, timeout=10):
                    self.posted += 1
            except (urllib.error.URLError, OSError) as exc:
                self.failures += 1
                self.last_error = str(exc)
                # Forget what failed, so that the next push carries it again.
                for a in body.get("alerts", []):
                    self._sent.pop(a.get("fingerprint", ""), None)


class LiveServer:
    """Serves a LiveFleet over HTTP and steps it every `interval / speed` real seconds."""

    def __init__(
        self, fleet: LiveFleet, host: str = "127.0.0.1", port: int = 0, speed: float = 1.0
    ):
        self.fleet = fleet
        self.speed = speed
        self._stop = threading.Event()
        self._cache: dict[str, tuple[int, bytes]] = {}
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        bound_host, bound_port = self.httpd.server_address[:2]
        self.address = f"{bound_host!s}:{bound_port}"
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if not self.fleet.steps:
            self.fleet.step()
        for target in (self.httpd.serve_forever, self._run):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def _run(self) -> None:
        period = self.fleet.config.interval / self.speed
        next_tick = time.monotonic() + period
        while not self._stop.wait(max(0.0, next_tick - time.monotonic())):
            self.fleet.step()
            next_tick += period

    def render(self, path: str) -> bytes | None:
        fleet = self.fleet
        with fleet.lock:
            latest, steps = fleet.latest, fleet.steps
        hit = self._cache.get(path)
        if hit is not None and hit[0] == steps:
            return hit[1]
        ex = fleet.exposition
        parts = path.strip("/").split("/")
        text: str | None
        if path == "/metrics":
            text = ex.dcgm(latest) + ex.node(latest) + ex.facility(latest)
        elif len(parts) == 3 and parts[0] == "dcgm" and parts[2] == "metrics":
            text = ex.dcgm(latest, parts[1]) if parts[1] in ex.hosts else None
        elif len(parts) == 3 and parts[0] == "node" and parts[2] == "metrics":
            text = ex.node(latest, parts[1]) if parts[1] in ex.hosts else None
        elif path == "/facility/metrics":
            text = ex.facility(latest)
        elif path == "/sd":
            text = json.dumps(self.targets())
        elif path == "/truth":
            text = json.dumps({"faults": fleet.truth()})
        elif path == "/healthz":
            text = "ok\n"
        else:
            text = None
        if text is None:
            return None
        body = text.encode()
        self._cache[path] = (steps, body)
        return body

    def targets(self) -> list[dict[str, Any]]:
        """Every exporter of the fleet, for Prometheus `http_sd_configs`.

        `instance` is set to what it would be on a real fleet (host:9400 for dcgm-exporter,
        host:9100 for node_exporter) so that targets stay distinct although one address serves
        them all. node_exporter series carry no host label of their own, so their targets add
        `hostname`; dcgm-exporter series name their host already.
        """
        out: list[dict[str, Any]] = []
        for h in self.fleet.exposition.hosts:
            dcgm = {"__metrics_path__": f"/dcgm/{h}/metrics", "instance": f"{h}:9400"}
            node = {"__metrics_path__": f"/node/{h}/metrics", "instance": f"{h}:9100"}
            dcgm["exporter"], node["exporter"], node["hostname"] = "dcgm", "node", h
            out += [
                {"targets": [self.address], "labels": dcgm},
                {"targets": [self.address], "labels": node},
            ]
        facility = {"__metrics_path__": "/facility/metrics", "instance": "bms:9000"}
        facility["exporter"] = "bms"
        out.append({"targets": [self.address], "labels": facility})
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = server.render(self.path.split("?")[0])
                if body is None:
                    self.send_error(404, "no such exporter")
                    return
                # http_sd accepts exactly `application/json`, nothing appended.
                json_doc = self.path in ("/sd", "/truth")
                ctype = (
                    "application/json" if json_doc else "text/plain; version=0.0.4; charset=utf-8"
                )
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # scrapes every few seconds would drown the terminal

        return Handler
