"""Browser sessions: sign in once with a token, then a cookie.

The UI's sign-in form takes an API token, checks it like a bearer token, and answers with a
session cookie (HttpOnly, SameSite=Strict). Sessions live in memory: a restart signs everyone
out, which is acceptable for a control plane's UI and keeps no secret on disk. The cookie holds
a random id; only its SHA-256 is kept, as for tokens.

Requests that change something with a cookie (not a bearer token) must also carry the
session's CSRF token, in the `X-CSRF-Token` header or a `csrf` form field.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from foreshock.api.auth import Principal, allows, require

COOKIE = "foreshock_session"
CSRF_HEADER = "x-csrf-token"
_SAFE = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf: str
    expires: float


class Sessions:
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl_seconds
        self.clock = clock
        self._by_hash: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, principal: Principal) -> tuple[str, Session]:
        """A new session: the cookie value (returned once) and the session."""
        cookie = secrets.token_urlsafe(32)
        session = Session(principal, secrets.token_urlsafe(24), self.clock() + self.ttl)
        with self._lock:
            now = self.clock()
            for key in [k for k, s in self._by_hash.items() if s.expires <= now]:
                del self._by_hash[key]
            self._by_hash[_digest(cookie)] = session
        return cookie, session

    def get(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        with self._lock:
            session = self._by_hash.get(_digest(cookie))
        if session is None or session.expires <= self.clock():
            return None
        return session

    def end(self, cookie: str | None) -> None:
        if cookie:
            with self._lock:
                self._by_hash.pop(_digest(cookie), None)

    def __len__(self) -> int:
        return len(self._by_hash)


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def session_of(request: Request) -> Session | None:
    sessions: Sessions = request.app.state.sessions
    return sessions.get(request.cookies.get(COOKIE))


def check_csrf(request: Request, session: Session, form_value: str | None = None) -> None:
    sent = request.headers.get(CSRF_HEADER) or form_value or ""
    if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise HTTPException(403, "missing or wrong CSRF token")


def authorize(role: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency like `auth.require`, that also takes a session cookie: 401 with
    neither, 403 with a role too low (or a cookie request that changes state without CSRF)."""
    bearer = require(role)

    def dependency(request: Request) -> Principal:
        if request.headers.get("authorization") or COOKIE not in request.cookies:
            return bearer(request)
        session = session_of(request)
        if session is None:
            raise HTTPException(401, "the session has expired; sign in again")
        principal = session.principal
        request.state.principal = principal
        if not allows(principal.role, role):
            on_denied = getattr(request.app.state, "on_denied", None)
            if on_denied is not None:
                on_denied(principal, request, role)
            raise HTTPException(403, f"role {principal.role!r} may not do this; needs {role!r}")
        if request.method not in _SAFE:
            check_csrf(request, session)
        return principal

    return dependency
