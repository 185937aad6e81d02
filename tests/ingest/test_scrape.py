"""The scraper against the live simulator in-process, and against misbehaving servers."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from foreshock.ingest.decoded import Decoded
from foreshock.ingest.scrape import (
    ACCEPT,
    CONNECT,
    HTTP_STATUS,
    INVALID_BODY,
    TIMEOUT,
    TOO_LARGE,
    ConfigError,
    HttpSD,
    JobDefaults,
    PipelineSink,
    Scraper,
    Target,
    add_target_labels,
    discover,
    parse_duration,
    sd_from_config,
    targets_from_config,
    targets_from_group,
)
from foreshock.ingest.series import SeriesTable
from foreshock.sim.fleet import FleetShape
from foreshock.sim.live import LiveConfig, LiveFleet, LiveServer
from foreshock.sim.metrics import metrics_of

SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PAGE = b'# TYPE x gauge\nx{a="1"} 1\nx{a="2"} 2\n'
LIMIT = 1 << 20


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    fleet = LiveFleet(LiveConfig(FleetShape(gpus=64), interval=10, fault_every=0))
    srv = LiveServer(fleet, port=0, speed=50)
    srv.start()
    yield srv
    srv.stop()


class Bad:
    """A tiny HTTP server misbehaving in the ways a scraper meets, and remembering headers."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.sd_ok = True
        self.sd_doc: list[dict[str, Any]] = []
        self.dripping = threading.Event()
        bad = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/ok":
                    bad.headers = dict(self.headers.items())
                    self._send(PAGE)
                elif path == "/om":
                    body = b'# TYPE x gauge\nx{a="1",instance="own"} 1 1700000000.5\n# EOF\n'
                    self._send(body, "application/openmetrics-text; version=1.0.0")
                elif path == "/binary":
                    self._send(bytes(range(256)) * 8)
                elif path == "/html":
                    self._send(b"<html><body>\n<h1>It works!</h1>\n</body></html>\n")
                elif path == "/huge":
                    self._send(b"x 1\n" * (LIMIT // 2))
                elif path == "/huge-unsized":  # no Content-Length: the limit holds while reading
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        for _ in range(LIMIT // 2 // 4096):
                            self.wfile.write(b"x 1\n" * 4096)
                elif path == "/drip":  # a page that takes a few seconds to arrive
                    bad.dripping.set()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.end_headers()
                    with contextlib.suppress(OSError):
                        for _ in range(30):
                            self.wfile.write(b"# still coming\n" * 64)
                            self.wfile.flush()
                            time.sleep(0.1)
                        self.wfile.write(PAGE)
                    self.close_connection = True
                elif path == "/slow":
                    time.sleep(1.5)
                    self._send(PAGE)
                elif path == "/sd":
                    if not bad.sd_ok:
                        self.send_error(500)
                        return
                    self._send(json.dumps(bad.sd_doc).encode(), "application/json")
                else:
                    self.send_error(404)

            def _send(self, body: bytes, ctype: str = "text/plain; version=0.0.4") -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the scraper hung up: it had read enough
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        Handler.protocol_version = "HTTP/1.1"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{self.address}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def bad() -> Iterator[Bad]:
    server = Bad()
    yield server
    server.stop()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


class TableSink:
    """A test sink: maps every page through a SeriesTable as the pipeline does."""

    def __init__(self, live: LiveServer) -> None:
        self.table = SeriesTable(live.fleet.topology)
        self.lock = threading.Lock()
        self.entities: set[int] = set()
        self.pages = 0
        self.samples = 0
        self.up: dict[str, float] = {}

    def accept(self, decoded: Decoded, source: str) -> None:
        with self.lock:
            batch = self.table.batch(
                decoded.labels, decoded.series, decoded.timestamps, decoded.values, source
            )
            self.entities.update(self.table.entity_of(batch.series).tolist())
            self.pages += 1
            self.samples += len(batch.series)
            for ls, v in zip(
                [decoded.labels[i] for i in decoded.series], decoded.values, strict=True
            ):
                if ls["__name__"] == "up":
                    self.up[ls["instance"]] = float(v)


def gpu_indices(live: LiveServer) -> set[int]:
    topo = live.fleet.topology
    return {topo.index(e.id) for e in topo.entities("gpu")}


# --- configuration -------------------------------------------------------------------------


def test_durations() -> None:
    assert parse_duration("15s", 1) == 15
    assert parse_duration("1m30s", 1) == 90
    assert parse_duration("500ms", 1) == 0.5
    assert parse_duration(2, 1) == 2
    assert parse_duration(None, 7) == 7
    assert parse_duration("15", 1) == 15
    for bad in ("fast", "1x", "-1s", "0s", "s"):
        with pytest.raises(ConfigError):
            parse_duration(bad, 1)


def test_static_targets_from_config() -> None:
    entries: list[dict[str, Any]] = [
        {"url": "http://gpu-001:9400/metrics", "job": "dcgm", "interval": "5s", "timeout": 2},
        {
            "job_name": "node",
            "scrape_interval": "30s",
            "static_configs": [
                {"targets": ["gpu-001:9100", "gpu-002:9100"], "labels": {"rack": "r1"}},
                {
                    "targets": ["gpu-003:9100"],
                    "labels": {"hostname": "gpu-003", "__scheme__": "https", "instance": "n3"},
                },
            ],
            "http_sd_configs": [{"url": "http://sd/targets", "refresh_interval": "2m"}],
        },
    ]
    ts = targets_from_config(entries)
    assert [t.url for t in ts] == [
        "http://gpu-001:9400/metrics",
        "http://gpu-001:9100/metrics",
        "http://gpu-002:9100/metrics",
        "https://gpu-003:9100/metrics",
    ]
    assert dict(ts[0].labels) == {"instance": "gpu-001:9400", "job": "dcgm"}
    assert (ts[0].interval, ts[0].timeout) == (5, 2)
    assert dict(ts[1].labels) == {"instance": "gpu-001:9100", "job": "node", "rack": "r1"}
    assert ts[1].interval == 30
    assert ts[1].timeout == 10
    assert dict(ts[3].labels) == {"hostname": "gpu-003", "instance": "n3", "job": "node"}
    sds = sd_from_config(entries)
    assert len(sds) == 1
    assert sds[0].refresh == 120
    assert sds[0].defaults.job == "node"
    assert len({*ts, *targets_from_config(entries)}) == 4  # hashable, equal by value
    with pytest.raises(ConfigError):
        targets_from_config([{"url": "gpu-001:9400"}])
    with pytest.raises(ConfigError):
        targets_from_config([{"static_configs": [{"targets": "gpu-001:9100"}]}])


def test_target_group_steering_labels() -> None:
    group = {
        "targets": ["h:9400"],
        "labels": {"__metrics_path__": "probe", "__param_module": "dcgm", "__meta_x": "y"},
    }
    (t,) = targets_from_group(group, JobDefaults(job="j", params={"a": "b"}))
    assert t.url == "http://h:9400/probe?a=b&module=dcgm"
    assert dict(t.labels) == {"instance": "h:9400", "job": "j"}  # `__` labels are not labels


def test_target_labels_follow_prometheus() -> None:
    scraped = [
        {"__name__": "m", "instance": "exporter-side", "a": "1"},
        {"__name__": "m", "job": "x", "exported_job": "taken", "instance": "i"},
        {"__name__": "m"},
    ]
    add_target_labels(scraped, {"instance": "h:9400", "job": "dcgm"}, honor_labels=False)
    assert scraped[0] == {
        "__name__": "m",
        "instance": "h:9400",
        "exported_instance": "exporter-side",
        "a": "1",
        "job": "dcgm",
    }
    assert scraped[1] == {
        "__name__": "m",
        "job": "dcgm",
        "exported_job": "taken",
        "exported_exported_job": "x",
        "instance": "h:9400",
        "exported_instance": "i",
    }
    assert scraped[2] == {"__name__": "m", "instance": "h:9400", "job": "dcgm"}
    honored = [{"__name__": "m", "instance": "exporter-side"}]
    add_target_labels(honored, {"instance": "h:9400", "job": "dcgm"}, honor_labels=True)
    assert honored == [{"__name__": "m", "instance": "exporter-side", "job": "dcgm"}]


# --- against the live simulator ------------------------------------------------------------


def test_scrape_once_dcgm_page(live: LiveServer) -> None:
    host = live.fleet.exposition.hosts[0]
    target = Target(
        f"http://{live.address}/dcgm/{host}/metrics",
        {"instance": f"{host}:9400", "job": "dcgm", "exporter": "dcgm"},
    )
    with Scraper() as scraper:
        result = scraper.scrape_once(target)
        again = scraper.scrape_once(target)  # the parser's per-target cache in use
    assert result.ok, result.error
    assert result.decoded is not None
    d = result.decoded
    page = [d.labels[i] for i in d.series if d.labels[i]["__name__"] not in SYNTHETIC]
    names = {ls["__name__"] for ls in page}
    assert names == {m.name for m in metrics_of("gpu")}
    assert {ls["gpu"] for ls in page} == {str(i) for i in range(8)}
    assert result.samples == len(page) == 8 * len(names)
    assert all(ls["instance"] == f"{host}:9400" and ls["job"] == "dcgm" for ls in page)
    assert not any(k.startswith("exported_") for ls in page for k in ls)
    up = {d.labels[i]["__name__"]: v for i, v in zip(d.series, d.values, strict=True)}
    assert up["up"] == 1
    assert up["scrape_samples_scraped"] == len(page)
    assert again.ok
    assert again.samples == result.samples
    assert np.all(d.timestamps == result.started)
    health = scraper.target_health(target)
    assert health is not None
    assert health.up
    assert health.scrapes == 2
    assert health.last_samples == result.samples
    assert health.last_error == ""


def test_http_sd_from_the_simulator(live: LiveServer) -> None:
    sd = HttpSD(f"http://{live.address}/sd", defaults=JobDefaults(job="fleet"))
    targets = discover(sd)
    hosts = live.fleet.exposition.hosts
    assert len(targets) == 2 * len(hosts) + 1
    by_url = {t.url: t for t in targets}
    for h in hosts:
        dcgm = by_url[f"http://{live.address}/dcgm/{h}/metrics"]
        node = by_url[f"http://{live.address}/node/{h}/metrics"]
        assert dict(dcgm.labels) == {"exporter": "dcgm", "instance": f"{h}:9400", "job": "fleet"}
        assert dict(node.labels) == {
            "exporter": "node",
            "hostname": h,
            "instance": f"{h}:9100",
            "job": "fleet",
        }
    facility = by_url[f"http://{live.address}/facility/metrics"]
    assert facility.labels["instance"] == "bms:9000"


def test_scraper_feeds_every_gpu(live: LiveServer) -> None:
    sink = TableSink(live)
    defaults = JobDefaults(job="fleet", interval=0.5, timeout=0.5)
    sd = HttpSD(f"http://{live.address}/sd", refresh=1.0, defaults=defaults)
    scraper = Scraper(sink, sd=[sd], workers=4)
    gpus = gpu_indices(live)
    scraper.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sink.lock:
                if sink.entities >= gpus and sink.pages >= 3 * len(scraper.targets()):
                    break
            time.sleep(0.1)
    finally:
        t0 = time.monotonic()
        assert scraper.stop(timeout=3)
        assert time.monotonic() - t0 < 3
    assert sink.entities >= gpus
    hosts = live.fleet.exposition.hosts
    assert len(scraper.targets()) == 2 * len(hosts) + 1
    assert sink.up == {t.instance: 1.0 for t in scraper.targets()}
    assert not scraper.failures
    health = scraper.health()
    assert all(h["up"] and h["scrapes"] >= 1 for h in health)
    node = sink.table.stats["scrape"]
    assert node.samples == sink.samples
    assert node.series > 0


def test_pipeline_sink_stores_like_remote_write(live: LiveServer, tmp_path: Path) -> None:
    from foreshock.api.ingest import IngestPipeline
    from foreshock.store.state.store import StateStore

    store = StateStore.open(str(tmp_path / "state.db"))
    try:
        pipeline = IngestPipeline(live.fleet.topology, store)
        host = live.fleet.exposition.hosts[0]
        target = Target(f"http://{live.address}/dcgm/{host}/metrics", {"instance": "x:9400"})
        with Scraper(PipelineSink(pipeline)) as scraper:
            result = scraper.scrape_once(target)
        assert result.decoded is not None
        PipelineSink(pipeline).accept(result.decoded, "scrape")
        stats = pipeline.stats()["sources"]["scrape"]
        assert stats["requests"] == 1
        assert stats["samples"] == stats["accepted"] == result.samples + 3
        assert stats["series"] == result.samples + 3
    finally:
        store.close()


# --- bad targets ---------------------------------------------------------------------------


def bad_targets(live: LiveServer, bad: Bad) -> dict[str, tuple[Target, str]]:
    def fast(url: str) -> Target:
        return Target(url, interval=0.5, timeout=0.4)

    return {
        "closed": (fast(f"http://127.0.0.1:{closed_port()}/metrics"), CONNECT),
        "404": (fast(f"http://{live.address}/dcgm/no-such-host/metrics"), HTTP_STATUS),
        "binary": (fast(bad.url("/binary")), INVALID_BODY),
        "html": (fast(bad.url("/html")), INVALID_BODY),
        "huge": (fast(bad.url("/huge")), TOO_LARGE),
        "huge-unsized": (fast(bad.url("/huge-unsized")), TOO_LARGE),
        "slow": (fast(bad.url("/slow")), TIMEOUT),
    }


def test_scrape_once_bad_targets(live: LiveServer, bad: Bad) -> None:
    scraper = Scraper(body_limit=LIMIT)
    try:
        for name, (target, reason) in bad_targets(live, bad).items():
            result = scraper.scrape_once(target)
            assert not result.ok, name
            assert result.reason == reason, (name, result.error)
            assert result.error, name
            assert result.decoded is not None  # up 0, as Prometheus records it
            assert result.decoded.values[0] == 0
            assert result.samples == 0
            health = scraper.target_health(target)
            assert health is not None
            assert not health.up
            assert health.last_error == result.error
        assert scraper.scrape_once(Target(bad.url("/ok"))).ok
        assert bad.headers["Accept"] == ACCEPT
        assert "X-Prometheus-Scrape-Timeout-Seconds" in bad.headers
    finally:
        scraper.stop()


def test_bad_targets_do_not_stop_the_others(live: LiveServer, bad: Bad) -> None:
    sink = TableSink(live)
    bads = bad_targets(live, bad)
    host = live.fleet.exposition.hosts[0]
    good = Target(f"http://{live.address}/dcgm/{host}/metrics", {"instance": "good"}, interval=0.3)
    targets = [t for t, _ in bads.values()] + [good]
    scraper = Scraper(sink, targets, workers=3, body_limit=LIMIT)
    scraper.start()
    try:
        # Generous: the machines are shared; the loop ends as soon as everything was seen.
        deadline = time.monotonic() + 60
        expected = {r for _, r in bads.values()}
        while time.monotonic() < deadline:
            good_health = scraper.target_health(good)
            enough = good_health is not None and good_health.scrapes >= 3
            if set(scraper.failures) >= expected and scraper.failures[TIMEOUT] >= 2 and enough:
                break
            time.sleep(0.1)
    finally:
        # The slow target's scrape is given up, not waited for: stop returns.
        assert scraper.stop(timeout=10)
    for name, (target, reason) in bads.items():
        health = scraper.target_health(target)
        assert health is not None, name
        assert not health.up, name
        assert set(health.failures) == {reason}, name
    assert scraper.failures[INVALID_BODY] >= 2
    assert scraper.failures[TOO_LARGE] >= 2
    health = scraper.target_health(good)
    assert health is not None
    assert health.up
    assert health.scrapes >= 3
    assert not health.failures
    assert sink.up["good"] == 1
    assert sink.entities >= {
        live.fleet.topology.index(e.id)
        for e in live.fleet.topology.entities("gpu")
        if e.labels.get("hostname") == host
    }


class PageSink:
    def __init__(self) -> None:
        self.pages: list[Decoded] = []

    def accept(self, decoded: Decoded, source: str) -> None:
        self.pages.append(decoded)


def test_a_scrape_the_stop_cuts_short_does_not_report_its_target_down(bad: Bad) -> None:
    """Stopping gives up the scrape in flight: that says nothing about the target, so no
    `up` 0 is handed over and its health is not marked down."""
    sink = PageSink()
    target = Target(bad.url("/drip"), {"instance": "drip"}, interval=10.0, timeout=10.0)
    scraper = Scraper(sink, [target], workers=1)
    scraper.start()
    try:
        assert bad.dripping.wait(10)
        time.sleep(0.3)  # well into its body
    finally:
        assert scraper.stop(timeout=5)
    assert sink.pages == []
    health = scraper.target_health(target)
    assert health is not None
    assert health.scrapes == 0
    assert not health.failures


def test_failing_sd_keeps_its_last_targets(bad: Bad) -> None:
    bad.sd_doc = [{"targets": [bad.address], "labels": {"__metrics_path__": "/ok"}}]
    scraper = Scraper(sd=[HttpSD(bad.url("/sd"), refresh=60)])
    try:
        (target,) = scraper.refresh()
        assert target.url == bad.url("/ok")
        assert target.labels["instance"] == bad.address
        bad.sd_ok = False
        assert scraper.refresh() == [target]
        assert scraper.sd_failures[HTTP_STATUS] == 1
        assert "500" in scraper.sd_errors[bad.url("/sd")]
        bad.sd_ok, bad.sd_doc = True, []
        assert scraper.refresh() == []
        assert scraper.health() == []
    finally:
        scraper.stop()


def test_openmetrics_page_with_timestamps_and_honor_labels(bad: Bad) -> None:
    scraper = Scraper(synthetic=False)
    try:
        plain = scraper.scrape_once(Target(bad.url("/om"), {"instance": "t", "job": "j"}))
        honored = scraper.scrape_once(Target(bad.url("/om"), {"instance": "t"}, honor_labels=True))
    finally:
        scraper.stop()
    assert plain.ok
    assert plain.decoded is not None
    assert plain.decoded.labels == [
        {"__name__": "x", "a": "1", "instance": "t", "exported_instance": "own", "job": "j"}
    ]
    assert plain.decoded.timestamps.tolist() == [1700000000.5]  # OpenMetrics: seconds
    assert honored.decoded is not None
    assert honored.decoded.labels == [{"__name__": "x", "a": "1", "instance": "own"}]


def test_stop_without_start_and_twice() -> None:
    scraper = Scraper(targets=[Target("http://127.0.0.1:1/metrics")])
    assert scraper.stop(timeout=1)
    assert scraper.stop(timeout=1)
    with pytest.raises(RuntimeError):
        scraper.start()
