"""The HTTP service: ingest endpoints, the REST API, the web UI, health probes and metrics.

    app = create_app(Settings.load("foreshock.yaml"))
    uvicorn.run(app, host=settings.host, port=settings.port)

Every route but /healthz and /readyz needs a bearer token (see `auth`) or, for the API and
the UI, a session cookie from signing in (see `session`). The REST API is in `routes.api`,
the UI in `routes.ui`; changes are published on `ServiceState.broadcaster` (see `stream`).

Bodies are read with a limit (Content-Length is checked first, then the bytes as they stream
in), and decoding and store writes run in the thread pool. Bad input gets a 4xx naming the
problem; a 500 means a bug, is logged, and is counted in `foreshock_http_internal_errors_total`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from starlette.concurrency import run_in_threadpool

from foreshock.api.auth import Principal, TokenStore, require
from foreshock.api.fleetmap import LayoutCache
from foreshock.api.health import HealthCache
from foreshock.api.ingest import (
    IngestError,
    IngestPipeline,
    PayloadTooLarge,
    media_type,
)
from foreshock.api.metrics import render_metrics
from foreshock.api.routes.api import add_api_routes
from foreshock.api.routes.ui import add_ui_routes
from foreshock.api.service import NotReady
from foreshock.api.session import Sessions
from foreshock.api.settings import Settings
from foreshock.api.stream import Broadcaster
from foreshock.collector import settle

if TYPE_CHECKING:
    from foreshock.ingest.scrape import Scraper
    from foreshock.model import Incident
    from foreshock.pipeline import Pipeline

log = logging.getLogger("foreshock.api")

WRITE_PATH = "/api/v1/write"
_TEXT_ERROR_PATHS = (WRITE_PATH, "/api/v1/events/kmsg")


class ServiceState:
    """What the routes share: the pipeline once open, the change stream, caches of derived
    views, browser sessions, and counters.

    `broadcaster.publish(kind, data)` (thread-safe) reaches every SSE client; `queues` maps a
    name to a callable giving that queue's depth, exported as `foreshock_queue_depth`."""

    def __init__(self, settings: Settings, pipeline: IngestPipeline | None) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.error: str | None = None
        self.requests: Counter[tuple[str, str, int]] = Counter()  # (method, route, status)
        self.internal_errors = 0
        self.in_flight = 0
        self.lock = threading.Lock()
        self.broadcaster = Broadcaster(queue_size=settings.stream_queue_size)
        self.health_cache = HealthCache(lambda: self.broadcaster.version)
        self.layouts = LayoutCache()
        self.sessions = Sessions(settings.session_ttl_seconds)
        self.queues: dict[str, Callable[[], int]] = {}
        self.stages: Pipeline | None = None  # detect → correlate → diagnose, once attached
        self.scraper: Scraper | None = None

    def open(self) -> None:
        try:
            self.pipeline = IngestPipeline.open(self.settings)
        except Exception as e:  # readyz reports it; the process stays up for the probes
            log.exception("could not open the topology or the state store")
            self.error = f"{type(e).__name__}: {e}"[:500]
            return
        settle()  # the topology and tables just loaded live as long as the process
        if self.settings.pipeline:
            self.attach(self.pipeline)
        if self.settings.scrape_targets or self.settings.scrape_sd_urls:
            self.scrape(self.pipeline)

    def scrape(self, ingest: IngestPipeline) -> None:
        """Scrape the configured exporters into `ingest`, as remote_write bodies arrive."""
        from foreshock.ingest.scrape import HttpSD, JobDefaults, PipelineSink, Scraper, Target

        every = self.settings.scrape_interval
        targets = [Target(url, interval=every) for url in self.settings.scrape_targets]
        sd = [
            HttpSD(url, defaults=JobDefaults(interval=every))
            for url in self.settings.scrape_sd_urls
        ]
        self.scraper = Scraper(PipelineSink(ingest), targets, sd)
        self.scraper.start()

    def attach(
        self, ingest: IngestPipeline, on_incident: Callable[[Incident, bool], None] | None = None
    ) -> Pipeline:
        """Run detection, correlation and diagnosis behind `ingest`, publishing what they
        find on the change stream."""
        from foreshock.pipeline import Pipeline

        stages = Pipeline(ingest, self.broadcaster.publish, on_incident=on_incident).start()
        self.stages = stages
        self.queues["pipeline"] = lambda: stages.depth
        return stages


def pipeline_dep(request: Request) -> IngestPipeline:
    state: ServiceState = request.app.state.service
    if state.pipeline is None:
        raise NotReady()
    return state.pipeline


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) one that says or turns out to be larger than `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise IngestError("Content-Length is not a number") from None
        if size > limit:
            raise PayloadTooLarge(f"body of {size} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"body larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    settings: Settings,
    pipeline: IngestPipeline | None = None,
    tokens: TokenStore | None = None,
) -> FastAPI:
    """The service. Without a `pipeline`, the topology and store named by `settings` are
    opened in the background at startup; /readyz answers 503 until they are."""
    state = ServiceState(settings, pipeline)
    owned = pipeline is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opener = None
        if state.pipeline is None:
            opener = threading.Thread(target=state.open, name="foreshock-open", daemon=True)
            opener.start()
        try:
            yield
        finally:
            if opener is not None:
                opener.join()
            if state.scraper is not None:
                state.scraper.stop()
            if state.stages is not None:
                state.stages.stop()
            if owned and state.pipeline is not None:
                state.pipeline.close()

    app = FastAPI(
        title="Foreshock",
        summary="Reliability control plane for GPU clusters",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.service = state
    app.state.sessions = state.sessions
    if tokens is None:
        token_file = settings.token_file
        tokens = (
            TokenStore.load(token_file)
            if token_file and Path(token_file).exists()
            else (TokenStore())
        )
    app.state.tokens = tokens

    def on_denied(principal: Principal, request: Request, needed: str) -> None:
        if state.pipeline is not None:
            try:
                state.pipeline.store.append_audit(
                    actor=principal.name,
                    action=f"{request.method} {request.url.path}",
                    subject=request.url.path,
                    decision="denied",
                    reason=f"role {principal.role} lacks {needed}",
                )
            except Exception:
                log.exception("could not write the audit entry of a denied request")

    app.state.on_denied = on_denied
    _install_handlers(app, state)
    _add_routes(app, state)
    add_api_routes(app)
    add_ui_routes(app)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("foreshock")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def _install_handlers(app: FastAPI, state: ServiceState) -> None:
    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Any:
        with state.lock:
            state.in_flight += 1
        try:
            response = await call_next(request)
        finally:
            with state.lock:
                state.in_flight -= 1
        route = request.scope.get("route")
        path = getattr(route, "path", "other")
        with state.lock:
            state.requests[(request.method, path, response.status_code)] += 1
        return response

    @app.exception_handler(IngestError)
    async def ingest_error(request: Request, exc: IngestError) -> Response:
        if request.url.path in _TEXT_ERROR_PATHS:
            return PlainTextResponse(exc.message + "\n", status_code=exc.status)
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(NotReady)
    async def not_ready(request: Request, exc: NotReady) -> Response:
        return JSONResponse({"detail": "not ready: the topology or store is not open"}, 503)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        with state.lock:
            state.internal_errors += 1
        return JSONResponse({"detail": "internal error"}, status_code=500)


# What an ingest route may answer besides success, for the OpenAPI schema.
_INGEST_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in (
        (400, "Malformed body"),
        (401, "No valid bearer token"),
        (403, "Role may not post data"),
        (413, "Body too large"),
        (415, "Unsupported content type or encoding"),
        (422, "Well-formed but not acceptable"),
        (503, "Not ready: the topology or store is not open"),
    )
}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    code: _INGEST_ERRORS[code] for code in (401, 403, 503)
}


def _add_routes(app: FastAPI, state: ServiceState) -> None:
    limit = state.settings.max_body_bytes
    ingest = Depends(require("ingest"))
    viewer = Depends(require("viewer"))
    scraper = Depends(require("viewer", also=("ingest",)))
    ready = Depends(pipeline_dep)

    async def body_of(request: Request, source: str, p: IngestPipeline) -> bytes:
        try:
            return await read_body(request, limit)
        except IngestError as e:
            p.reject(source, e.status)
            raise

    @app.post(WRITE_PATH, status_code=204, dependencies=[ingest], responses=_INGEST_ERRORS)
    async def remote_write(request: Request, p: IngestPipeline = ready) -> Response:
        """Prometheus remote_write 1.0 (snappy-compressed protobuf)."""
        body = await body_of(request, "remote_write", p)
        h = request.headers
        await run_in_threadpool(
            p.ingest_remote_write, body, h.get("content-type"), h.get("content-encoding")
        )
        return Response(status_code=204)

    @app.post("/v1/metrics", dependencies=[ingest], responses=_INGEST_ERRORS)
    async def otlp_metrics(request: Request, p: IngestPipeline = ready) -> Response:
        """OTLP/HTTP metrics, protobuf or JSON; answers an empty ExportMetricsServiceResponse
        in the request's encoding."""
        body = await body_of(request, "otlp", p)
        h = request.headers
        await run_in_threadpool(
            p.ingest_otlp, body, h.get("content-type"), h.get("content-encoding")
        )
        if media_type(h.get("content-type")) == "application/json":
            return Response(b"{}", media_type="application/json")
        return Response(
            ExportMetricsServiceResponse().SerializeToString(),
            media_type="application/x-protobuf",
        )

    async def alerts(request: Request, p: IngestPipeline, shape: str, who: Principal) -> Any:
        source = "alertmanager" if shape == "webhook" else "api-v2"
        body = await body_of(request, source, p)
        result = await run_in_threadpool(
            p.ingest_alerts, body, request.headers.get("content-type"), shape
        )
        await run_in_threadpool(
            _audit, p, who, request, "accepted", {"alerts": result.received, "new": result.new}
        )
        if result.new or result.changed:
            state.broadcaster.publish("alerts", {"new": result.new, "changed": result.changed})
        return result

    @app.post("/api/v1/alerts/alertmanager", responses=_INGEST_ERRORS)
    async def alertmanager_webhook(
        request: Request, who: Principal = ingest, p: IngestPipeline = ready
    ) -> dict[str, int]:
        """Alertmanager webhook (version 4): Foreshock as a receiver."""
        result = await alerts(request, p, "webhook", who)
        return _as_dict(result)

    @app.post("/api/v2/alerts", responses=_INGEST_ERRORS)
    async def api_v2_alerts(
        request: Request, who: Principal = ingest, p: IngestPipeline = ready
    ) -> Response:
        """Alerts as Prometheus, vmalert or Grafana post them to an Alertmanager; answers 200
        with an empty body, as Alertmanager does."""
        await alerts(request, p, "api-v2", who)
        return Response(status_code=200)

    @app.post("/api/v1/events/kmsg", responses=_INGEST_ERRORS)
    async def kmsg(
        request: Request, who: Principal = ingest, p: IngestPipeline = ready
    ) -> dict[str, int]:
        """Kernel log lines (text/plain): XID and SXID lines become events."""
        body = await body_of(request, "kmsg", p)
        result = await run_in_threadpool(p.ingest_kmsg, body, request.headers.get("content-type"))
        await run_in_threadpool(_audit, p, who, request, "accepted", {"events": result.stored})
        if result.stored:
            state.broadcaster.publish("events", {"stored": result.stored})
        return {"parsed": result.parsed, "skipped": result.skipped}

    @app.get("/api/v1/ingest/stats", dependencies=[viewer], responses=_READ_ERRORS)
    async def ingest_stats(p: IngestPipeline = ready) -> dict[str, Any]:
        """Per-source counters: samples, series, unmapped, refused, skipped by reason."""
        return await run_in_threadpool(p.stats)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "Not ready yet"}})
    async def readyz() -> Response:
        if state.pipeline is not None:
            return JSONResponse({"status": "ready"})
        detail = state.error or "opening the topology and the state store"
        return JSONResponse({"status": "not ready", "detail": detail}, status_code=503)

    @app.get(
        "/metrics",
        dependencies=[scraper],
        responses={**_READ_ERRORS, 200: {"content": {"text/plain": {}}}},
        response_class=PlainTextResponse,
    )
    async def metrics() -> Response:
        text = await run_in_threadpool(render_metrics, state)
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def _audit(
    p: IngestPipeline, who: Principal, request: Request, decision: str, data: dict[str, Any]
) -> None:
    try:
        p.store.append_audit(
            actor=who.name,
            action=f"{request.method} {request.url.path}",
            subject=request.url.path,
            decision=decision,
            data=data,
        )
    except Exception:  # the data is stored; a failed audit entry is logged, not a 500
        log.exception("could not write an audit entry")


def _as_dict(result: Any) -> dict[str, int]:
    return {name: getattr(result, name) for name in result.__slots__}


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory foreshock.api.app:app_from_env`: settings from the file
    named by FORESHOCK_CONFIG (if set) and FORESHOCK_* variables."""
    return create_app(Settings.load(os.environ.get("FORESHOCK_CONFIG") or None))
