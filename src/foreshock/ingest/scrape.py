"""Scraping Prometheus text 0.0.4 and OpenMetrics endpoints (dcgm-exporter on :9400,
node_exporter on :9100, BMS gateways), with targets from configuration.

Targets come from a static list (YAML-friendly dicts, either `{"url": ...}` or Prometheus'
`static_configs` shape) and from Prometheus-style `http_sd` endpoints, re-read periodically.
A `Scraper` scrapes every target on its interval and hands each page, as a `Decoded`, to a
`SampleSink` (the ingest pipeline), as remote_write bodies are handed over.

Threads, not asyncio: parsing a page is CPU-bound Python (`ExpositionParser`), which would
stall an event loop, and the parser is stateful per target and not thread-safe. A bounded
pool of worker threads each runs `scrape_once` start to finish (fetch, parse, relabel,
hand over); a scheduler thread queues a target when it is due and never while it is still in
flight, so one target's parser is used by one thread at a time; a discovery thread re-reads
the http_sd endpoints so a slow SD server never delays a scrape. `httpx.Client` is shared:
its connection pool is thread-safe and keeps connections to exporters alive.

A bad target never stops the others: timeouts, refused connections, HTTP errors, bodies over
the byte limit and pages that hold no sample are each a failed scrape, counted by reason and
recorded in the target's health (`up`, duration, error text, samples). As Prometheus does,
every scrape also yields `up`, `scrape_duration_seconds` and `scrape_samples_scraped` for the
target, so a dead exporter is a series that says so (`up` 0), mapped to its host.
"""

from __future__ import annotations

import heapq
import logging
import queue
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import httpx
import numpy as np
import orjson

from foreshock.ingest.decoded import Decoded, DecodeError
from foreshock.ingest.exposition import ExpositionParser, is_openmetrics

log = logging.getLogger(__name__)

ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
USER_AGENT = "foreshock-scraper"
DEFAULT_INTERVAL = 15.0
DEFAULT_TIMEOUT = 10.0
DEFAULT_BODY_LIMIT = 64 << 20  # bytes of a page, after content decoding
DEFAULT_SD_REFRESH = 60.0
SOURCE = "scrape"

# Why a scrape failed; the keys of `Scraper.failures` and `TargetHealth.failures`.
TIMEOUT = "timeout"
CONNECT = "connection_failed"
HTTP_STATUS = "http_status"
TOO_LARGE = "body_too_large"
INVALID_BODY = "invalid_body"
TRANSPORT = "transport_error"
SINK = "sink_error"
UNEXPECTED = "error"  # anything else (a bug, or the client closed by stop())

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h|d|w|y)")
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}


class ConfigError(ValueError):
    """A scrape or http_sd configuration that cannot be used."""


def parse_duration(value: float | int | str | None, default: float) -> float:
    """Seconds from a number of seconds or a Prometheus duration ("15s", "1m30s", "500ms")."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise ConfigError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ConfigError(f"not a duration: {value!r}") from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not seconds > 0:
        raise ConfigError(f"a duration must be positive: {value!r}")
    return seconds


# --- targets -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=True)
class Target:
    """One endpoint to scrape and the labels its series get, as a Prometheus target after
    relabelling: `instance`, `job`, and whatever else the configuration adds (`hostname` for a
    node_exporter, whose series name no host). Labels with an empty value are dropped, and so
    are names starting with `__` (they steer discovery, they are not labels)."""

    url: str
    labels: Mapping[str, str] = field(default_factory=dict)
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    honor_labels: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"a target needs an http(s) URL, got {self.url[:100]!r}")
        if not self.interval > 0 or not self.timeout > 0:
            raise ConfigError("a target's interval and timeout must be positive")
        labels = {}
        for k, v in sorted(dict(self.labels).items()):
            if k.startswith("__") or not v:
                continue
            if not _LABEL_NAME.match(k):
                raise ConfigError(f"bad label name {k[:60]!r}")
            labels[k] = str(v)
        object.__setattr__(self, "labels", MappingProxyType(labels))
        object.__setattr__(self, "timeout", min(self.timeout, self.interval))

    def __hash__(self) -> int:
        return hash(
            (self.url, tuple(self.labels.items()), self.interval, self.timeout, self.honor_labels)
        )

    @property
    def key(self) -> str:
        """Stable identity for logs and health: the URL and its labels."""
        inner = ",".join(f'{k}="{v}"' for k, v in self.labels.items())
        return f"{self.url}{{{inner}}}"

    @property
    def instance(self) -> str:
        return self.labels.get("instance") or urlsplit(self.url).netloc


@dataclass(frozen=True)
class JobDefaults:
    """What a Prometheus `scrape_config` sets for all its targets."""

    job: str = ""
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    metrics_path: str = "/metrics"
    scheme: str = "http"
    honor_labels: bool = False
    params: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, doc: Mapping[str, Any]) -> JobDefaults:
        interval = parse_duration(doc.get("scrape_interval", doc.get("interval")), DEFAULT_INTERVAL)
        timeout = parse_duration(
            doc.get("scrape_timeout", doc.get("timeout")), min(DEFAULT_TIMEOUT, interval)
        )
        params = {str(k): str(v) for k, v in (doc.get("params") or {}).items()}
        return cls(
            job=str(doc.get("job_name", doc.get("job", "")) or ""),
            interval=interval,
            timeout=timeout,
            metrics_path=str(doc.get("metrics_path", "/metrics")),
            scheme=str(doc.get("scheme", "http")),
            honor_labels=bool(doc.get("honor_labels", False)),
            params=params,
        )


def targets_from_group(group: Mapping[str, Any], defaults: JobDefaults) -> list[Target]:
    """Targets of one Prometheus target group `{"targets": [...], "labels": {...}}` (a
    `static_configs` entry or one element of an http_sd answer). `__metrics_path__`,
    `__scheme__` and `__param_<name>` steer the URL; `instance` is the address unless given;
    `job` is the job's unless given."""
    addresses = group.get("targets")
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise ConfigError("a target group needs a list of address strings under 'targets'")
    raw = group.get("labels") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("a target group's 'labels' must be a mapping")
    labels = {str(k): str(v) for k, v in raw.items()}
    path = labels.get("__metrics_path__") or defaults.metrics_path
    scheme = labels.get("__scheme__") or defaults.scheme
    params = dict(defaults.params)
    params.update({k[8:]: v for k, v in labels.items() if k.startswith("__param_")})
    if not path.startswith("/"):
        path = "/" + path
    query = ("?" + urlencode(params)) if params else ""
    out = []
    for address in addresses:
        target_labels = dict(labels)
        target_labels.setdefault("instance", address)
        if defaults.job:
            target_labels.setdefault("job", defaults.job)
        out.append(
            Target(
                f"{scheme}://{address}{path}{query}",
                target_labels,
                interval=defaults.interval,
                timeout=defaults.timeout,
                honor_labels=defaults.honor_labels,
            )
        )
    return out


def targets_from_config(entries: Iterable[Mapping[str, Any]]) -> list[Target]:
    """Static targets from YAML-friendly dicts. Each entry is either one target
    (`{"url": "http://gpu-001:9400/metrics", "labels": {...}, "interval": "15s",
    "timeout": "5s", "job": "dcgm"}`) or a Prometheus `scrape_config` with `static_configs`
    (`{"job_name": "node", "scrape_interval": "30s", "static_configs": [{"targets":
    ["gpu-001:9100"], "labels": {"hostname": "gpu-001"}}]}`); `http_sd_configs` are read by
    `sd_from_config`."""
    out: list[Target] = []
    for doc in entries:
        if not isinstance(doc, Mapping):
            raise ConfigError("each scrape entry must be a mapping")
        defaults = JobDefaults.from_config(doc)
        if "url" in doc:
            labels = {str(k): str(v) for k, v in (doc.get("labels") or {}).items()}
            if defaults.job:
                labels.setdefault("job", defaults.job)
            url = str(doc["url"])
            labels.setdefault("instance", urlsplit(url).netloc)
            out.append(
                Target(url, labels, defaults.interval, defaults.timeout, defaults.honor_labels)
            )
        for group in doc.get("static_configs") or []:
            out += targets_from_group(group, defaults)
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class HttpSD:
    """A Prometheus `http_sd_configs` entry: GET `url` returns a JSON list of target groups."""

    url: str
    refresh: float = DEFAULT_SD_REFRESH
    defaults: JobDefaults = field(default_factory=JobDefaults)
    timeout: float = DEFAULT_TIMEOUT


def sd_from_config(entries: Iterable[Mapping[str, Any]]) -> list[HttpSD]:
    """The `http_sd_configs` of each scrape entry (same shapes as `targets_from_config`)."""
    out = []
    for doc in entries:
        defaults = JobDefaults.from_config(doc)
        for sd in doc.get("http_sd_configs") or []:
            if "url" not in sd:
                raise ConfigError("an http_sd config needs a 'url'")
            out.append(
                HttpSD(
                    str(sd["url"]),
                    parse_duration(sd.get("refresh_interval"), DEFAULT_SD_REFRESH),
                    defaults,
                )
            )
    return out


def discover(sd: HttpSD, client: httpx.Client | None = None) -> list[Target]:
    """Targets from one http_sd endpoint. Raises `ConfigError` for an answer that is not a
    list of target groups, `httpx.HTTPError` when the endpoint cannot be read."""
    own = client is None
    http = client if client is not None else httpx.Client()
    try:
        response = http.get(
            sd.url,
            timeout=sd.timeout,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        response.raise_for_status()
        try:
            doc = orjson.loads(response.content)
        except orjson.JSONDecodeError as e:
            raise ConfigError(f"http_sd answer is not JSON (byte {e.pos})") from None
    finally:
        if own:
            http.close()
    if not isinstance(doc, list):
        raise ConfigError("http_sd answer must be a JSON list of target groups")
    out: list[Target] = []
    for group in doc:
        if not isinstance(group, Mapping):
            raise ConfigError("http_sd target groups must be JSON objects")
        out += targets_from_group(group, sd.defaults)
    return list(dict.fromkeys(out))


# --- labels --------------------------------------------------------------------------------


def add_target_labels(
    label_sets: list[dict[str, str]], target_labels: Mapping[str, str], honor_labels: bool
) -> None:
    """Adds the target's labels to each scraped label set, in place, as Prometheus does.

    With honor_labels the scraped value wins and the target's is ignored. Otherwise the target's
    value wins, and a scraped label it displaces (any value, even an equal one) is kept as
    `exported_<name>`, or `exported_exported_<name>` if that is taken, and so on; displaced
    labels are placed shortest name first (Prometheus' `resolveConflictingExposedLabels`)."""
    if not target_labels:
        return
    items = list(target_labels.items())
    for labels in label_sets:
        if honor_labels:
            for k, v in items:
                if not labels.get(k):
                    labels[k] = v
            continue
        conflicts: list[tuple[str, str]] = []
        for k, v in items:
            old = labels.get(k)
            if old:
                conflicts.append((k, old))
            labels[k] = v
        if conflicts:
            conflicts.sort(key=lambda kv: len(kv[0]))
            for k, old in conflicts:
                name = "exported_" + k
                while labels.get(name):
                    name = "exported_" + name
                labels[name] = old


# --- scraping ------------------------------------------------------------------------------


class SampleSink(Protocol):
    """Where scraped samples go: the ingest pipeline, or a test's table."""

    def accept(self, decoded: Decoded, source: str) -> None: ...


class PipelineSink:
    """Hands scraped pages to an `IngestPipeline` as its remote_write path stores samples:
    under the pipeline's lock, counted per source, mapped by its series table into its hot
    window."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def accept(self, decoded: Decoded, source: str) -> None:
        self.pipeline.ingest_decoded(decoded, source)


@dataclass(frozen=True, slots=True)
class ScrapeResult:
    """One scrape. `decoded` holds the page's samples with the target labels added (None when
    the scrape failed); `reason` is one of the failure constants when `ok` is false."""

    target: Target
    ok: bool
    started: float  # unix seconds; the timestamp of samples without their own
    duration: float  # seconds
    decoded: Decoded | None = None
    reason: str = ""
    error: str = ""
    status: int | None = None
    bytes: int = 0
    samples: int = 0  # samples of the page, the synthetic `up` series not included


@dataclass
class TargetHealth:
    """What Prometheus shows on its targets page, and more."""

    target: Target
    up: bool = False
    last_scrape: float | None = None  # unix seconds of the last scrape's start
    last_duration: float = 0.0
    last_error: str = ""
    last_samples: int = 0
    scrapes: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        return {
            "url": self.target.url,
            "labels": dict(self.target.labels),
            "up": self.up,
            "last_scrape": self.last_scrape,
            "last_duration": self.last_duration,
            "last_error": self.last_error,
            "last_samples": self.last_samples,
            "scrapes": self.scrapes,
            "failures": dict(self.failures),
        }


class _TooLarge(Exception):
    pass


class _Slot:
    """Per-target state: its parser (not thread-safe, hence the lock) and its health."""

    __slots__ = ("health", "lock", "parser")

    def __init__(self, target: Target, cache_size: int | None) -> None:
        self.parser = (
            ExpositionParser() if cache_size is None else ExpositionParser(cache_size=cache_size)
        )
        self.lock = threading.Lock()
        self.health = TargetHealth(target)


class Scraper:
    """Scrapes static and discovered targets, each on its interval, with `workers` threads,
    handing every scrape to `sink` under `source`. `start()` then `stop()`; `scrape_once` works
    without starting anything."""

    def __init__(
        self,
        sink: SampleSink | None = None,
        targets: Sequence[Target] = (),
        sd: Sequence[HttpSD] = (),
        *,
        workers: int = 8,
        body_limit: int = DEFAULT_BODY_LIMIT,
        source: str = SOURCE,
        synthetic: bool = True,
        parser_cache_size: int | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if workers < 1:
            raise ValueError("a scraper needs at least one worker")
        self.sink = sink
        self.static = list(dict.fromkeys(targets))
        self.sd = list(sd)
        self.workers = workers
        self.body_limit = body_limit
        self.source = source
        self.synthetic = synthetic
        self.clock = clock
        self._parser_cache_size = parser_cache_size
        self._own_client = client is None
        self.client = client if client is not None else httpx.Client(follow_redirects=False)
        self.failures: Counter[str] = Counter()  # failed scrapes by reason, all targets
        self.sd_failures: Counter[str] = Counter()
        self.sd_errors: dict[str, str] = {}  # http_sd url → last error, "" when fine
        self._lock = threading.Lock()  # guards _slots, _sd_targets, counters, health
        self._slots: dict[Target, _Slot] = {}
        self._sd_targets: dict[str, list[Target]] = {}
        self._stop = threading.Event()
        self._changed = threading.Event()  # the target set changed: reschedule
        self._queue: queue.Queue[Target | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._in_flight: set[Target] = set()
        for t in self.static:
            self._slot(t)

    # --- targets --------------------------------------------------------------------------

    def _slot(self, target: Target) -> _Slot:
        with self._lock:
            slot = self._slots.get(target)
            if slot is None:
                slot = self._slots[target] = _Slot(target, self._parser_cache_size)
            return slot

    def targets(self) -> list[Target]:
        """Every target scraped now: the static ones and the last discovered ones."""
        with self._lock:
            found = list(self.static)
            for ts in self._sd_targets.values():
                found += ts
        return list(dict.fromkeys(found))

    def refresh(self) -> list[Target]:
        """Re-reads every http_sd endpoint; an endpoint that fails keeps its last targets (as
        Prometheus does) and its failure is counted. Returns the current targets."""
        for sd in self.sd:
            try:
                found = discover(sd, self.client)
            except (httpx.HTTPError, ConfigError) as e:
                reason = _reason(e)[0] if isinstance(e, httpx.HTTPError) else INVALID_BODY
                with self._lock:
                    self.sd_failures[reason] += 1
                    self.sd_errors[sd.url] = _short(e)
                log.warning("http_sd %s failed: %s", sd.url, _short(e))
                continue
            with self._lock:
                self._sd_targets[sd.url] = found
                self.sd_errors[sd.url] = ""
        current = self.targets()
        keep = set(current)
        with self._lock:
            for t in [t for t in self._slots if t not in keep]:
                del self._slots[t]
            for t in current:
                if t not in self._slots:
                    self._slots[t] = _Slot(t, self._parser_cache_size)
        self._changed.set()
        return current

    def health(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.health.snapshot() for s in self._slots.values()]

    def target_health(self, target: Target) -> TargetHealth | None:
        with self._lock:
            slot = self._slots.get(target)
            return None if slot is None else slot.health

    # --- one scrape -----------------------------------------------------------------------

    def scrape_once(self, target: Target) -> ScrapeResult:
        """Scrapes `target` now: fetch, parse, add the target labels (and, if `synthetic`, the
        `up`-style series). Never raises for what the target does; records its health."""
        return self._scrape_slot(target, self._slot(target))

    def _scrape_slot(self, target: Target, slot: _Slot) -> ScrapeResult:
        with slot.lock:
            result = self._scrape(target, slot.parser)
        if self._cut_short(result):
            return result  # says nothing of the target's health
        with self._lock:
            h = slot.health
            h.scrapes += 1
            h.up = result.ok
            h.last_scrape = result.started
            h.last_duration = result.duration
            h.last_error = result.error
            h.last_samples = result.samples if result.ok else 0
            if not result.ok:
                h.failures[result.reason] += 1
                self.failures[result.reason] += 1
        return result

    def _scrape(self, target: Target, parser: ExpositionParser) -> ScrapeResult:
        started = self.clock()
        t0 = time.monotonic()
        status: int | None = None
        size = 0
        try:
            body, content_type, status = self._fetch(target, t0)
            size = len(body)
            decoded = parser.parse(
                body, scrape_time=started, openmetrics=is_openmetrics(content_type)
            )
            if len(decoded) == 0 and len(decoded.stale_series) == 0 and decoded.dropped:
                why = "; ".join(decoded.problems[:2]) or "no sample could be read"
                raise DecodeError(f"not an exposition page: {why}")
        except Exception as e:  # a bad target must not take its worker down
            reason, error = _reason(e)
            if reason == HTTP_STATUS and isinstance(e, httpx.HTTPStatusError):
                status = e.response.status_code
            duration = time.monotonic() - t0
            up = self._synthetic([], target, started, duration, 0) if self.synthetic else None
            return ScrapeResult(target, False, started, duration, up, reason, error, status, size)
        duration = time.monotonic() - t0
        samples = len(decoded)
        add_target_labels(decoded.labels, target.labels, target.honor_labels)
        if self.synthetic:
            decoded = self._synthetic([decoded], target, started, duration, samples)
        return ScrapeResult(target, True, started, duration, decoded, "", "", status, size, samples)

    def _cut_short(self, result: ScrapeResult) -> bool:
        """A scrape that failed while the scraper was stopping was (or may have been) given up
        by the scraper itself: handing over its `up` 0 would report a healthy target down."""
        return not result.ok and self._stop.is_set()

    def _fetch(self, target: Target, t0: float) -> tuple[bytes, str | None, int]:
        headers = {
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip",
            "User-Agent": USER_AGENT,
            "X-Prometheus-Scrape-Timeout-Seconds": f"{target.timeout:g}",
        }
        deadline = t0 + target.timeout
        with self.client.stream(
            "GET", target.url, headers=headers, timeout=target.timeout
        ) as response:
            response.raise_for_status()
            declared = response.headers.get("content-length")
            encoded = response.headers.get("content-encoding", "").strip().lower()
            plain = encoded in ("", "identity")
            if plain and declared and declared.isdigit() and int(declared) > self.body_limit:
                raise _TooLarge(f"body of {declared} bytes; the limit is {self.body_limit}")
            chunks: list[bytes] = []
            got = 0
            for chunk in response.iter_bytes():  # decoded: the limit holds for gzip bombs too
                got += len(chunk)
                if got > self.body_limit:
                    raise _TooLarge(f"body over {self.body_limit} bytes")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(f"scrape took over {target.timeout:g}s")
                if self._stop.is_set():
                    raise httpx.ReadError("scraper stopping")
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type"), response.status_code

    def _synthetic(
        self, parts: list[Decoded], target: Target, at: float, duration: float, samples: int
    ) -> Decoded:
        """The page's samples followed by `up`, `scrape_duration_seconds` and
        `scrape_samples_scraped`, labelled with the target's labels alone."""
        up = 1.0 if parts else 0.0
        names = ("up", "scrape_duration_seconds", "scrape_samples_scraped")
        extra_labels = [{"__name__": n, **target.labels} for n in names]
        extra_values = np.array([up, duration, float(samples)])
        if not parts:
            return Decoded(
                labels=extra_labels,
                series=np.arange(3, dtype=np.int64),
                timestamps=np.full(3, at),
                values=extra_values,
                skipped={},
            )
        page = parts[0]
        n = len(page.labels)
        return Decoded(
            labels=[*page.labels, *extra_labels],
            series=np.concatenate([page.series, np.arange(n, n + 3, dtype=np.int64)]),
            timestamps=np.concatenate([page.timestamps, np.full(3, at)]),
            values=np.concatenate([page.values, extra_values]),
            skipped=page.skipped,
            stale_series=page.stale_series,
            stale_timestamps=page.stale_timestamps,
            repaired=page.repaired,
            problems=page.problems,
        )

    # --- the loop -------------------------------------------------------------------------

    def start(self) -> None:
        """Discovers once (so that the first scrapes include discovered targets), then starts
        the scheduler, the workers and, if there is http_sd, the discovery thread."""
        if self._threads or self._stop.is_set():
            raise RuntimeError("a scraper starts once")
        if self.sd:
            self.refresh()
        spawn = [(self._schedule, "scrape-scheduler")]
        spawn += [(self._work, f"scrape-worker-{i}") for i in range(self.workers)]
        if self.sd:
            spawn.append((self._discover_loop, "scrape-discovery"))
        for fn, name in spawn:
            t = threading.Thread(target=fn, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stops scheduling, lets each worker finish (or abandon) its scrape, and joins every
        thread within `timeout` seconds overall. Returns whether all of them ended. A worker
        blocked reading from a silent target ends within that target's timeout at the latest
        (threads are daemons, so they never hold the process). A scrape it cuts short is
        neither recorded nor handed over. A stopped scraper cannot be started again."""
        self._stop.set()
        self._changed.set()
        for _ in range(self.workers):
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        if not alive and self._own_client:
            self.client.close()
        self._threads = alive
        return not alive

    def __enter__(self) -> Scraper:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _discover_loop(self) -> None:
        refresh = min(sd.refresh for sd in self.sd)
        while not self._stop.wait(refresh):
            try:
                self.refresh()
            except Exception:  # pragma: no cover - refresh already catches what SD does
                log.exception("http_sd refresh failed")

    def _schedule(self) -> None:
        """Queues each target when due, spread over its interval by a stable offset (as
        Prometheus does), skipping a turn while the target is still in flight."""
        heap: list[tuple[float, int, Target]] = []
        serial = 0
        known: set[Target] = set()
        while not self._stop.is_set():
            if self._changed.is_set() or not known:
                self._changed.clear()
                current = set(self.targets())
                now = time.monotonic()
                for t in current - known:
                    offset = (zlib.crc32(t.key.encode()) % 1000) / 1000.0 * t.interval
                    heapq.heappush(heap, (now + min(offset, t.interval), serial, t))
                    serial += 1
                known = current
                heap = [e for e in heap if e[2] in known]
                heapq.heapify(heap)
            if not heap:
                self._changed.wait(0.5)
                continue
            due, _, target = heap[0]
            wait = due - time.monotonic()
            if wait > 0:
                self._changed.wait(min(wait, 0.5))
                continue
            heapq.heappop(heap)
            with self._lock:
                busy = target in self._in_flight
                if not busy:
                    self._in_flight.add(target)
            if not busy:
                self._queue.put(target)
            nxt = due + target.interval
            now = time.monotonic()
            if nxt < now:  # fell behind: skip the missed turns rather than bursting
                nxt += ((now - nxt) // target.interval + 1) * target.interval
            heapq.heappush(heap, (nxt, serial, target))
            serial += 1

    def _work(self) -> None:
        while True:
            target = self._queue.get()
            if target is None or self._stop.is_set():
                return
            try:
                with self._lock:
                    slot = self._slots.get(target)  # None: dropped by discovery meanwhile
                if slot is not None:
                    result = self._scrape_slot(target, slot)
                    page = None if self._cut_short(result) else result.decoded
                    if self.sink is not None and page is not None:
                        self._hand_over(page)
            except Exception:  # pragma: no cover - scrape_once does not raise
                log.exception("scrape of %s failed", target.url)
            finally:
                with self._lock:
                    self._in_flight.discard(target)

    def _hand_over(self, decoded: Decoded) -> None:
        assert self.sink is not None
        try:
            self.sink.accept(decoded, self.source)
        except Exception as e:
            with self._lock:
                self.failures[SINK] += 1
            log.warning("scrape sink refused a page: %s", _short(e))


def _short(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return text[:200]


def _reason(e: BaseException) -> tuple[str, str]:
    """A failure's reason and its error text."""
    if isinstance(e, httpx.TimeoutException):
        return TIMEOUT, f"timeout: {_short(e)}"
    if isinstance(e, httpx.HTTPStatusError):
        r = e.response
        return HTTP_STATUS, f"server returned HTTP status {r.status_code} {r.reason_phrase}"
    if isinstance(e, httpx.ConnectError):
        return CONNECT, f"connection failed: {_short(e)}"
    if isinstance(e, _TooLarge):
        return TOO_LARGE, _short(e)
    if isinstance(e, DecodeError):
        return INVALID_BODY, _short(e)
    if isinstance(e, httpx.HTTPError | OSError):
        return TRANSPORT, f"{type(e).__name__}: {_short(e)}"
    return UNEXPECTED, f"{type(e).__name__}: {_short(e)}"


__all__ = [
    "ACCEPT",
    "ConfigError",
    "HttpSD",
    "JobDefaults",
    "PipelineSink",
    "SampleSink",
    "ScrapeResult",
    "Scraper",
    "Target",
    "TargetHealth",
    "add_target_labels",
    "discover",
    "parse_duration",
    "sd_from_config",
    "targets_from_config",
    "targets_from_group",
]
