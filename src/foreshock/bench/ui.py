"""`foreshock bench ui`: the fleet map of a 100,000-GPU fleet in headless Chromium, and the
incident list at 10,000 incidents.

A real server (uvicorn on a loopback port) over a SQLite state store seeded with 10,000
incidents (a tenth of them open, rooted on racks), firing alerts on 2% of the GPUs and a few
hundred findings. `fleet_map_render_seconds` is from navigation start to plotly's first
complete draw of the map (`window.foreshockFleetRendered`), median over warm loads, measured
by Chromium itself; the first load in a fresh browser is the baseline.
`incident_list_ms` is one page (50, newest first, with the total) of GET /api/v1/incidents
over HTTP; its baseline is the same list returned whole, all 10,000 rows.

Chromium is Debian's `chromium` (or $FORESHOCK_CHROMIUM), driven by Playwright; without it
the fleet map figure is left out and the context says why.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from foreshock.api.app import create_app
from foreshock.api.auth import TokenStore
from foreshock.api.ingest import IngestPipeline
from foreshock.api.settings import Settings
from foreshock.bench.registry import BenchOptions, BenchResult, Figure, median_ms, timed
from foreshock.model import Alert, Finding, fingerprint
from foreshock.sim import FleetShape, generate_fleet
from foreshock.store.state import StateStore
from foreshock.store.state.models import IncidentRow
from foreshock.topology import Topology

INCIDENTS = 10_000
ALERTED_FRACTION = 0.02
FINDINGS = 300
T0 = 1_700_000_000.0


def bench_ui(options: BenchOptions) -> BenchResult:
    gpus = options.gpus or 100_000
    rng = random.Random(0)
    entities, relations = generate_fleet(FleetShape(gpus=gpus))
    topology = Topology(entities, relations)
    del entities, relations
    context: dict[str, Any] = {"gpus": gpus, "entities": len(topology), "incidents": INCIDENTS}
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp, StateStore.open(Path(tmp) / "state.db") as store:
        context.update(_seed(store, topology, rng))
        tokens = TokenStore()
        token = tokens.mint("bench", "viewer")
        app = create_app(Settings(), IngestPipeline(topology, store), tokens)
        with _serve(app) as base:
            auth = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
                page_ms, whole_ms = _incident_list(client, options.repeat)
                filtered_ms = median_ms(
                    lambda: _get(client, "/api/v1/incidents", {"status": "open", "q": "rack"}),
                    options.repeat,
                )
                map_bytes = len(_get(client, "/api/v1/fleet/map").content)
            figures.append(
                Figure(
                    "incident_list_ms",
                    page_ms,
                    "ms",
                    f"the same list returned whole ({INCIDENTS:,} rows)",
                    whole_ms,
                )
            )
            figures.append(Figure("incident_list_filtered_ms", filtered_ms, "ms"))
            context["fleet_map_json_bytes"] = map_bytes
            chromium = os.environ.get("FORESHOCK_CHROMIUM") or shutil.which("chromium")
            if chromium is None:
                context["fleet_map"] = "not measured: Chromium not found"
            else:
                warm, cold = _fleet_map_render(base, token, chromium, max(3, options.repeat // 4))
                figures.insert(
                    0,
                    Figure(
                        "fleet_map_render_seconds",
                        warm,
                        "s",
                        "first load in a fresh browser (plotly.js not yet cached)",
                        cold,
                    ),
                )
    return BenchResult("ui", tuple(figures), context)


def _seed(store: StateStore, topology: Topology, rng: random.Random) -> dict[str, Any]:
    gpus = [e.id for e in topology.entities("gpu")]
    racks = [e.id for e in topology.entities("rack")] or gpus
    alerted = rng.sample(gpus, max(1, int(len(gpus) * ALERTED_FRACTION)))
    alerts = []
    for i, g in enumerate(alerted):
        labels = {"alertname": "GpuXidError", "entity": g}
        alerts.append(
            Alert(fingerprint(labels), labels, {}, starts_at=T0 + i, entity=g, source="bench")
        )
    store.upsert_alerts(alerts, now=T0)
    findings = [
        Finding("anomaly", g, "DCGM_FI_DEV_GPU_TEMP", T0, 0.8, "zscore")
        for g in rng.sample(gpus, min(FINDINGS, len(gpus)))
    ]
    store.add_findings(findings, now=T0)
    rows = []
    for i in range(INCIDENTS):
        rack = racks[i % len(racks)]
        status = "open" if i % 10 == 0 else "acknowledged" if i % 10 == 1 else "resolved"
        rows.append(
            {
                "status": status,
                "title": f"GPUs of rack {rack} down",
                "started_at": T0 + i,
                "ended_at": None,
                "root_causes": [{"entity": rack, "score": 0.7, "evidence": ["bench"]}],
                "blast_radius": {},
                "suppressed": [],
                "acknowledged_by": "bench" if status != "open" else None,
                "acknowledged_at": T0 + i if status != "open" else None,
                "resolved_at": T0 + i if status == "resolved" else None,
                "created_at": T0 + i,
                "updated_at": T0 + i,
                "root_entity": rack,
            }
        )
    # One transaction of batched rows: creating them one by one would time the fsyncs.
    with store.writer.begin() as session:
        session.execute(store.insert(IncidentRow), rows)
    return {"alerts_firing": len(alerts), "findings_open": len(findings)}


def _get(client: httpx.Client, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
    r = client.get(path, params=params)
    r.raise_for_status()
    return r


def _incident_list(client: httpx.Client, repeat: int) -> tuple[float, float]:
    _get(client, "/api/v1/incidents")  # warm the connection and caches
    page_ms = median_ms(lambda: _get(client, "/api/v1/incidents"), repeat)
    whole = _whole_list(client)
    whole_ms = 1000 * statistics.median(timed(whole) for _ in range(max(1, repeat // 4)))
    return page_ms, whole_ms


def _whole_list(client: httpx.Client) -> Any:
    def run() -> None:
        before = None
        while True:
            params: dict[str, Any] = {"limit": 500}
            if before is not None:
                params["before"] = before
            page = _get(client, "/api/v1/incidents", params).json()
            before = page["next_before"]
            if before is None:
                return

    return run


def _fleet_map_render(base: str, token: str, chromium: str, runs: int) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{base}/ui/login")
            page.fill("#token", token)
            page.click("#sign-in")
            page.wait_for_load_state("load")
            times = []
            for _ in range(runs + 1):
                page.goto(f"{base}/ui/", wait_until="commit")
                page.wait_for_function("window.foreshockFleetRendered > 0", timeout=120_000)
                times.append(page.evaluate("window.foreshockFleetRendered") / 1000.0)
        finally:
            browser.close()
    return statistics.median(times[1:]), times[0]


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="bench-ui-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the bench server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
