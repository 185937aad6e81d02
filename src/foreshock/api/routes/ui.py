"""The web UI: server-rendered pages, a little plain JavaScript, plotly.js from the installed
`plotly` package. No build step: templates and static files ship in `foreshock.ui`.

Pages need a session (sign in with an API token at /ui/login); without one they redirect
there. Forms that change an incident carry the session's CSRF token.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from foreshock.api import views
from foreshock.api.auth import TokenStore
from foreshock.api.graphview import layout_graph
from foreshock.api.routes.api import MAX_ID
from foreshock.api.service import Service, service_dep
from foreshock.api.session import COOKIE, Session, check_csrf, session_of
from foreshock.store.state import InvalidTransition

UI = Path(__file__).resolve().parents[2] / "ui"


def _plotly_js() -> Path:
    """plotly.min.js as the installed `plotly` package ships it (found without importing
    plotly, which is slow to import and not needed otherwise)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the web UI needs the plotly package (pip install plotly)")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


PLOTLY_JS = _plotly_js()
ACTIONS = {"acknowledge": "acknowledged", "resolve": "resolved", "reopen": "open"}
MAX_FORM_BYTES = 64 << 10

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(UI / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)
_env.filters["ts"] = lambda t: (
    "" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(t)))
)
_env.filters["url"] = lambda s: quote(str(s), safe="/")


Handler = Callable[..., Any]


class SignIn(Exception):
    """No valid session: redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def render(name: str, session: Session | None, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(
        session=session, csrf=session.csrf if session else "", **context
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _session(request: Request) -> Session:
    session = session_of(request)
    if session is None:
        raise SignIn(request.url.path)
    return session


def _safe_next(target: str) -> str:
    # Only paths of this UI: never an absolute URL (an open redirect) or a scheme-relative one.
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items() if v}


def add_ui_routes(app: FastAPI) -> None:
    app.mount("/ui/static", StaticFiles(directory=UI / "static"), name="ui-static")

    @app.exception_handler(SignIn)
    async def sign_in(request: Request, exc: SignIn) -> Response:
        return RedirectResponse(f"/ui/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Pages answer errors as pages; everything else keeps FastAPI's JSON.
        path = request.url.path
        if not path.startswith("/ui/") or path.startswith("/ui/static/"):
            return await http_exception_handler(request, exc)
        response = render(
            "error.html", session_of(request), nav="", status=exc.status_code, detail=exc.detail
        )
        response.status_code = exc.status_code
        return response

    def page(path: str) -> Callable[[Handler], Handler]:
        return app.get(path, include_in_schema=False, response_class=HTMLResponse)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    @app.get("/ui/plotly.min.js", include_in_schema=False)
    async def plotly_js() -> FileResponse:
        return FileResponse(
            PLOTLY_JS,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(UI / "static" / "favicon.svg", media_type="image/svg+xml")

    @page("/ui/login")
    async def login_form(
        request: Request, next: str = "/ui/", error: str = "", token: str = ""
    ) -> Response:
        # A sign-in link (`foreshock demo` prints one) carries the token in the query.
        if token:
            return _sign_in(request, token, _safe_next(next))
        return render("login.html", None, next=_safe_next(next), error=error)

    @app.post("/ui/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request)
        return _sign_in(request, form.get("token", ""), _safe_next(form.get("next", "/ui/")))

    def _sign_in(request: Request, token: str, next_url: str) -> Response:
        tokens: TokenStore = request.app.state.tokens
        principal = tokens.check(token.strip())
        if principal is None or principal.role == "ingest":
            why = "that token is not valid" if principal is None else "ingest tokens cannot sign in"
            return render("login.html", None, next=next_url, error=why)
        cookie, _ = request.app.state.sessions.start(principal)
        response = RedirectResponse(next_url, status_code=303)
        settings = request.app.state.service.settings
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=settings.session_ttl_seconds,
            httponly=True,
            samesite="strict",
            secure=settings.session_cookie_secure,
            path="/",
        )
        return response

    @app.post("/ui/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        session = _session(request)
        check_csrf(request, session, (await _form(request)).get("csrf"))
        request.app.state.sessions.end(request.cookies.get(COOKIE))
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @page("/ui/")
    async def fleet(request: Request) -> HTMLResponse:
        session = _session(request)
        s = service_dep(request)
        summary = views.health_counts(await run_in_threadpool(s.health))
        kinds = s.topology.kind_counts()
        return render("fleet.html", session, nav="fleet", health=summary, kinds=kinds)

    @page("/ui/actions")
    async def actions(request: Request, subject: str = "") -> HTMLResponse:
        """The audit log, newest last: what the remediation loop decided, refused and did."""
        session = _session(request)
        s = service_dep(request)
        rows = await run_in_threadpool(s.store.audit_log, subject=subject[:1000] or None, limit=500)
        return render("actions.html", session, nav="actions", rows=rows, subject=subject)

    @page("/ui/incidents")
    async def incidents(
        request: Request,
        status: str = "",
        q: str = "",
        entity: str = "",
        before: int | None = None,
    ) -> HTMLResponse:
        session = _session(request)
        s = service_dep(request)
        statuses = [x for x in status.split(",") if x in ("open", "acknowledged", "resolved")]
        before = before if before is not None and 0 < before <= MAX_ID else None
        result = await run_in_threadpool(
            s.incident_page, statuses or None, entity or None, q[:200] or None, 50, before
        )
        return render(
            "incidents.html",
            session,
            nav="incidents",
            page=result,
            status=status,
            q=q,
            entity=entity,
        )

    @page("/ui/incidents/{incident_id}")
    async def incident(request: Request, incident_id: int) -> HTMLResponse:
        session = _session(request)
        s = service_dep(request)
        if not 0 < incident_id <= MAX_ID:
            raise HTTPException(404, f"no incident {incident_id}")
        row = await run_in_threadpool(s.incident_row, incident_id)
        detail = await run_in_threadpool(views.incident_detail, s.store, row)
        graph = await run_in_threadpool(views.causal_graph, s.topology, s.store, row)
        return render(
            "incident.html",
            session,
            nav="incidents",
            inc=detail,
            graph=graph,
            drawing=layout_graph(graph),
            can_change=session.principal.role in ("operator", "admin"),
        )

    @app.post("/ui/incidents/{incident_id}", include_in_schema=False)
    async def incident_action(request: Request, incident_id: int) -> Response:
        session = _session(request)
        form = await _form(request)
        check_csrf(request, session, form.get("csrf"))
        if session.principal.role not in ("operator", "admin"):
            raise HTTPException(403, "changing an incident needs the operator role")
        s = service_dep(request)
        if not 0 < incident_id <= MAX_ID:
            raise HTTPException(404, f"no incident {incident_id}")
        action = form.get("action", "")
        who = session.principal
        try:
            if action in ACTIONS:
                await run_in_threadpool(s.set_status, who, request, incident_id, ACTIONS[action])
            elif action == "comment" and form.get("text", "").strip():
                text = form["text"].strip()[:10_000].replace("\x00", "")
                await run_in_threadpool(s.comment, who, request, incident_id, text)
            else:
                raise HTTPException(422, "unknown action or empty comment")
        except InvalidTransition as e:
            raise HTTPException(409, str(e)) from None
        return RedirectResponse(f"/ui/incidents/{incident_id}", status_code=303)

    @page("/ui/entities/{entity_id:path}")
    async def entity(request: Request, entity_id: str) -> HTMLResponse:
        session = _session(request)
        s: Service = service_dep(request)
        s.known(entity_id)
        health = await run_in_threadpool(s.health)
        detail = await run_in_threadpool(
            views.entity_detail, s.topology, s.store, health, entity_id
        )
        blast = await run_in_threadpool(s.topology.blast_radius, entity_id)
        return render("entity.html", session, nav="fleet", e=detail, blast=blast)

    @page("/ui/live")
    async def live(request: Request) -> HTMLResponse:
        session = _session(request)
        s = service_dep(request)
        counts = await run_in_threadpool(s.store.incident_status_counts)
        health = views.health_counts(await run_in_threadpool(s.health))
        return render("live.html", session, nav="live", counts=counts, health=health)
