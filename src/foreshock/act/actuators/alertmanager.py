"""Alertmanager silences: create one for a node under remediation, expire it afterwards.

Silences carry `createdBy: foreshock` and a `[node=<name>]` tag in the comment, which is how
Foreshock finds its own silences again (to reuse one on a retry, or to expire it) and never
touches anyone else's.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from foreshock.act.actuators.base import OWNER, ActuatorResult, Call, NodeState
from foreshock.sim.timefmt import rfc3339

DEFAULT_DURATION_S = 4 * 3600.0
# Alertmanager is an internal service: never send its requests through an HTTP(S) proxy.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class AlertmanagerActuator:
    name = "alertmanager"
    actions = frozenset({"silence", "unsilence"})

    def __init__(
        self, url: str, *, node_label: str = "node", timeout_s: float = 10.0, clock: Any = time.time
    ) -> None:
        self.url = url.rstrip("/")
        self.node_label = node_label
        self.timeout_s = timeout_s
        self.clock = clock

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with _HTTP.open(req, timeout=self.timeout_s) as resp:
            text = resp.read()
        return json.loads(text) if text.strip() else None

    def silences(self, node: str) -> list[dict[str, Any]]:
        """Foreshock's active silences for `node`."""
        query = urllib.parse.urlencode({"filter": f'{self.node_label}="{node}"'})
        found = self._request("GET", f"/api/v2/silences?{query}") or []
        tag = f"[node={node}]"
        return [
            s
            for s in found
            if s.get("createdBy") == OWNER
            and tag in s.get("comment", "")
            and s.get("status", {}).get("state") in {"active", "pending"}
        ]

    def read(self, node: str) -> NodeState:
        held = OWNER if self.silences(node) else None
        return NodeState(node, "silenced" if held else "unsilenced", held_by=held)

    def run(self, call: Call) -> ActuatorResult:
        try:
            return self._run(call)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")[:200]
            return ActuatorResult.failure(
                f"alertmanager {exc.code}: {body}", retryable=exc.code >= 500 or exc.code == 429
            )
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            return ActuatorResult.failure(f"alertmanager unreachable: {exc}", retryable=True)

    def _run(self, call: Call) -> ActuatorResult:
        existing = self.silences(call.node)
        if call.action == "silence":
            if existing:
                return ActuatorResult.success("already silenced", silence_id=existing[0]["id"])
            now = self.clock()
            duration = float(call.params.get("duration_s", DEFAULT_DURATION_S))
            matchers = [{"name": self.node_label, "value": call.node, "isRegex": False}]
            for name, value in dict(call.params.get("matchers", {})).items():
                matchers.append({"name": name, "value": str(value), "isRegex": False})
            body = {
                "matchers": matchers,
                "startsAt": rfc3339(now),
                "endsAt": rfc3339(now + duration),
                "createdBy": OWNER,
                "comment": f"{OWNER}: {call.reason} [node={call.node}]",
            }
            if call.dry_run:
                return ActuatorResult.success(f"would silence {call.node} for {duration:.0f} s")
            made = self._request("POST", "/api/v2/silences", body)
            return ActuatorResult.success(f"silenced {call.node}", silence_id=made["silenceID"])
        if call.action == "unsilence":
            if call.dry_run:
                return ActuatorResult.success(f"would expire {len(existing)} silence(s)")
            for silence in existing:
                self._request("DELETE", f"/api/v2/silence/{silence['id']}")
            return ActuatorResult.success(f"expired {len(existing)} silence(s)")
        return ActuatorResult.failure(f"alertmanager cannot {call.action}", retryable=False)
