"""An actuator that changes nothing and records every call, with a model of node state.

It keeps drains, owners and reasons like a scheduler would, so guards and validators see the
same answers they would see from Slurm, and tests can mark nodes as drained by someone else.
With `journal`, every call is appended and fsynced to a file before it returns, which is how
the kill -9 test proves that no call ran twice across a crash.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from foreshock.act.actuators.base import OWNER, ActuatorResult, Call, NodeState
from foreshock.act.model import STEP_ACTIONS

_OUT = {"cordon", "drain", "reboot", "repave", "maintenance", "rma"}
_BACK = {"resume", "uncordon"}


@dataclass
class _Node:
    held_by: str | None = None
    reason: str = ""
    labels: dict[str, str] = field(default_factory=dict)


class DryRunActuator:
    name = "dry-run"
    actions = STEP_ACTIONS

    def __init__(
        self,
        nodes: list[str] | None = None,
        journal: str | Path | None = None,
        latency_s: float = 0.0,
    ) -> None:
        self.calls: list[Call] = []
        self._nodes = {n: _Node() for n in nodes or []}
        self._journal = Path(journal) if journal is not None else None
        self._lock = threading.Lock()
        self.latency_s = latency_s  # simulated call time, so a kill can land mid-call
        if self._journal is not None and self._journal.exists():
            for line in self._journal.read_text().splitlines():
                if line.strip():  # a torn last line after a kill is skipped by json below
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("applied"):
                        self._apply(entry["action"], entry["node"], entry.get("reason", ""))

    def hold(self, node: str, owner: str, reason: str = "") -> None:
        """Mark a node as taken out by `owner` (someone else's drain, for tests)."""
        with self._lock:
            self._nodes.setdefault(node, _Node()).held_by = owner
            self._nodes[node].reason = reason or f"{owner}: maintenance"

    def label(self, node: str, key: str, value: str) -> None:
        with self._lock:
            self._nodes.setdefault(node, _Node()).labels[key] = value

    def run(self, call: Call) -> ActuatorResult:
        with self._lock:
            self.calls.append(call)
            node = self._nodes.setdefault(call.node, _Node())
            foreign = call.action in _OUT | _BACK and node.held_by not in (None, OWNER)
            if self._journal is not None:
                self._append(call, applied=not (foreign or call.dry_run))
            if foreign:
                return ActuatorResult.failure(
                    f"{call.node} is held by {node.held_by}", retryable=False
                )
            if call.dry_run:
                return ActuatorResult.success(f"would {call.action} {call.node}")
            self._apply(call.action, call.node, call.reason)
        if self.latency_s:
            time.sleep(self.latency_s)
        return ActuatorResult.success(f"{call.action} {call.node}")

    def _apply(self, action: str, name: str, reason: str) -> None:
        node = self._nodes.setdefault(name, _Node())
        if action in _OUT:
            node.held_by, node.reason = OWNER, f"{OWNER}: {reason}"
        elif action in _BACK:
            node.held_by, node.reason = None, ""

    def read(self, node: str) -> NodeState:
        with self._lock:
            n = self._nodes.get(node, _Node())
            state = "DRAINED" if n.held_by else "IDLE"
            return NodeState(
                node, state, n.held_by, n.reason, dict(n.labels), drained=n.held_by is not None
            )

    def _append(self, call: Call, *, applied: bool) -> None:
        assert self._journal is not None
        entry = {
            "key": call.key,
            "action": call.action,
            "node": call.node,
            "reason": call.reason,
            "applied": applied,
        }
        line = json.dumps(entry) + "\n"
        fd = os.open(self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
