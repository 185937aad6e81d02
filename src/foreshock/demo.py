"""`foreshock demo`: the simulator in live mode feeding the real pipeline.

Everything runs as it would in production, over real HTTP on localhost: the simulated fleet
serves dcgm-exporter, node_exporter and facility pages that Foreshock's scraper reads through
http_sd, its alert rules post Alertmanager webhooks with an ingest token, and the service
detects, correlates, diagnoses and serves the UI. Faults arrive every few minutes; each new
incident and its root cause is printed as it appears.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from foreshock.api.app import create_app
from foreshock.api.auth import TokenStore
from foreshock.api.ingest import IngestPipeline
from foreshock.api.settings import Settings
from foreshock.ingest.scrape import HttpSD, JobDefaults, PipelineSink, Scraper
from foreshock.model import Incident
from foreshock.sim.fleet import FleetShape
from foreshock.sim.live import AlertPusher, LiveConfig, LiveFleet, LiveServer
from foreshock.store.state import StateStore

Say = Callable[[str], None]
SHOW_FROM = 3  # alerts an incident needs before it is printed (lone warnings are not news)


@dataclass(frozen=True)
class DemoOptions:
    gpus: int = 1024
    duration: float = 0.0  # real seconds; 0 runs until interrupted
    port: int = 8080
    host: str = "127.0.0.1"
    speed: float = 10.0  # simulated seconds per real second
    fault_every: float = 1200.0  # mean simulated seconds between faults
    scrape_every: float = 5.0  # real seconds
    seed: int = 0
    kind: str = "hgx"
    data_dir: str | None = None


class Demo:
    def __init__(self, options: DemoOptions, say: Say) -> None:
        self.options = options
        self.say = say
        self.seen: dict[str, str] = {}  # incident → the root cause last printed
        self.incidents = 0
        self._closers: list[Callable[[], object]] = []

    def run(self) -> int:
        o = self.options
        folder = Path(o.data_dir or tempfile.mkdtemp(prefix="foreshock-demo-"))
        folder.mkdir(parents=True, exist_ok=True)
        self.say(f"building a {o.gpus:,}-GPU {o.kind} fleet")
        shape = FleetShape(gpus=o.gpus, kind=o.kind, seed=o.seed)
        fleet = LiveFleet(LiveConfig(shape, 10.0, o.fault_every, seed=o.seed))
        store = StateStore.open(folder / "state.db")
        self._closers.append(store.close)
        ingest = IngestPipeline(fleet.topology, store)
        tokens = TokenStore()
        admin = tokens.mint("demo-admin", "admin")
        pusher_token = tokens.mint("demo-alertmanager", "ingest")
        settings = Settings(host=o.host, port=o.port, data_dir=str(folder), pipeline=False)
        app = create_app(settings, pipeline=ingest, tokens=tokens)
        state = app.state.service
        state.attach(ingest, on_incident=self._print)
        self._serve(app)
        base = f"http://{o.host}:{o.port}"
        exporters = LiveServer(fleet, o.host, 0, o.speed)
        exporters.start()
        self._closers.append(exporters.stop)
        AlertPusher(fleet, f"{base}/api/v1/alerts/alertmanager", pusher_token, every=30.0)
        sd = HttpSD(f"http://{exporters.address}/sd", 30.0, JobDefaults(interval=o.scrape_every))
        scraper = Scraper(PipelineSink(ingest), sd=[sd], workers=4)
        scraper.start()
        self._closers.append(scraper.stop)
        # The first fault comes soon, so that there is something to see within two minutes.
        first = fleet.inject("pdu_loss" if o.gpus >= 64 else "gpu_memory", delay=120.0)
        self.say(f"exporters on http://{exporters.address}, scraped every {o.scrape_every:g} s")
        self.say(f"Foreshock on {base}  (data in {folder})")
        self.say(f"sign in: {base}/ui/login?token={admin}")
        self.say(
            f"first fault: {first.truth.kind} at {first.truth.root}, in about "
            f"{120 / o.speed:.0f} s; then one every ~{o.fault_every / o.speed / 60:.0f} min"
        )
        return self._watch(fleet)

    def _serve(self, app: object) -> None:
        o = self.options
        config = uvicorn.Config(app, host=o.host, port=o.port, log_level="warning")  # type: ignore[arg-type]
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="foreshock-http", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if not server.started:
            raise RuntimeError(f"the service did not start on {o.host}:{o.port}")

        def stop() -> None:
            server.should_exit = True
            thread.join(5)

        self._closers.append(stop)

    def _watch(self, fleet: LiveFleet) -> int:
        o = self.options
        end = time.monotonic() + o.duration if o.duration > 0 else float("inf")
        told = 0
        try:
            while time.monotonic() < end:
                time.sleep(0.5)
                truth = fleet.truth()
                for t in truth[told:]:
                    self.say(f"fault {t['id']}: {t['kind']} at {t['root']} (truth, for comparison)")
                told = len(truth)
        except KeyboardInterrupt:
            pass
        finally:
            for close in reversed(self._closers):
                with contextlib.suppress(Exception):  # closing down: nothing more to report
                    close()
        return self.incidents

    def _print(self, incident: Incident, new: bool) -> None:
        """Each incident once it is more than a lone alert, and again when its cause changes."""
        if not incident.root_causes or len(incident.alerts) < SHOW_FROM:
            return
        top = incident.root_causes[0]
        if self.seen.get(incident.id) == top.entity:
            return
        again = incident.id in self.seen
        self.seen[incident.id] = top.entity
        if not again:
            self.incidents += 1
        blast = incident.blast_radius
        reach = f", {blast.gpus:,} GPUs and {len(blast.jobs)} jobs at risk" if blast else ""
        verb = "now" if again else "new"
        self.say(
            f"incident {incident.id} ({verb}): root cause {top.entity} ({top.kind}, score "
            f"{top.score:.2f}), {len(incident.alerts)} alerts{reach}"
        )
        if incident.actions:
            steps = ", ".join(a.step for a in incident.actions)
            self.say(f"    next: {steps}: {incident.actions[0].why}")
