"""A real Foreshock server (uvicorn, loopback port) over a seeded store, and a headless
Chromium driven by Playwright. Without Chromium or Playwright the browser tests skip, or fail
under FORESHOCK_REQUIRE_INTEGRATION=1 (see tests/integration/servers/skip.py).

Screenshots go to artifacts/ui/ (ignored by git), one per page and theme.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(TESTS / "integration"), str(TESTS / "api")]

from api_seed import T0, Seeded, seed_power_incident  # noqa: E402
from live_server import serve  # noqa: E402
from servers.skip import skip_or_fail  # noqa: E402

from foreshock.api.app import ServiceState, create_app  # noqa: E402
from foreshock.api.auth import TokenStore  # noqa: E402
from foreshock.api.ingest import IngestPipeline  # noqa: E402
from foreshock.api.settings import Settings  # noqa: E402
from foreshock.ingest.remote_write import encode_write_request  # noqa: E402
from foreshock.sim.fleet import FleetShape, generate_fleet  # noqa: E402
from foreshock.store.state import StateStore  # noqa: E402
from foreshock.topology import Topology  # noqa: E402

ARTIFACTS = TESTS.parent / "artifacts" / "ui"


def chromium_path() -> str | None:
    """The Chromium binary: $FORESHOCK_CHROMIUM, else Debian's `chromium` on PATH."""
    given = os.environ.get("FORESHOCK_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    return shutil.which("chromium")


@dataclass
class LiveService:
    url: str
    state: ServiceState
    store: StateStore
    topology: Topology
    seeded: Seeded
    tokens: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    binary = chromium_path()
    if binary is None:
        skip_or_fail(
            "Chromium is not installed (apt-get install chromium, or set FORESHOCK_CHROMIUM)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveService]:
    entities, relations = generate_fleet(FleetShape(gpus=64))
    topology = Topology(entities, relations)
    with StateStore.open(tmp_path / "state.db") as store:
        seeded = seed_power_incident(store, topology)
        tokens = TokenStore()
        secrets = {role: tokens.mint(role, role) for role in ("viewer", "operator")}
        pipeline = IngestPipeline(topology, store)
        _ingest_series(pipeline, topology, seeded.symptoms[0])
        app = create_app(Settings(), pipeline, tokens)
        with serve(app) as url:
            yield LiveService(url, app.state.service, store, topology, seeded, secrets)


def _ingest_series(pipeline: IngestPipeline, topology: Topology, gpu_id: str) -> None:
    """A minute of one GPU's temperature and power, through remote_write as Prometheus sends it."""
    gpu = topology.entity(gpu_id)
    base = {
        "Hostname": gpu.labels["hostname"],
        "gpu": gpu.labels["gpu"],
        "UUID": gpu.labels["UUID"],
    }
    labels = [
        {"__name__": "DCGM_FI_DEV_GPU_TEMP", **base},
        {"__name__": "DCGM_FI_DEV_POWER_USAGE", **base},
    ]
    ms = int(T0 * 1000)
    samples = [
        [(ms + 5000 * i, 60.0 + i) for i in range(12)],
        [(ms + 5000 * i, 650.0 - 40 * i) for i in range(12)],
    ]
    body = encode_write_request(labels, samples)
    pipeline.ingest_remote_write(body, "application/x-protobuf", "snappy")


@dataclass
class Page:
    """A Playwright page that records console errors and uncaught exceptions."""

    page: Any
    errors: list[str]
    base: str

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser: Any, live: LiveService) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    p = context.new_page()
    errors: list[str] = []
    p.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    p.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    yield Page(p, errors, live.url)
    context.close()


def sign_in(page: Page, token: str, path: str = "/ui/") -> None:
    page.goto(path)
    page.page.fill("#token", token)
    page.page.click("#sign-in")
    page.page.wait_for_load_state("load")
