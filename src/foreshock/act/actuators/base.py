"""What every actuator shares: its result, what it reads back about a node, and its protocol.

Like Alertmanager's notifiers, an actuator says whether a failure may be retried: a timeout or
a 429 from a PodDisruptionBudget may pass, an unknown node or a foreign owner will not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

OWNER = "foreshock"
REASON_PREFIX = f"{OWNER}:"  # Slurm: reasons Foreshock writes start with this
LABEL_PREFIX = "foreshock.io/"  # Kubernetes: labels Foreshock writes live under this


@dataclass(frozen=True, slots=True)
class ActuatorResult:
    ok: bool
    retryable: bool = False
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def success(cls, detail: str = "", **data: Any) -> ActuatorResult:
        return cls(True, False, detail, MappingProxyType(data))

    @classmethod
    def failure(cls, detail: str, *, retryable: bool, **data: Any) -> ActuatorResult:
        return cls(False, retryable, detail, MappingProxyType(data))


@dataclass(frozen=True, slots=True)
class NodeState:
    """A node as its scheduler sees it. `held_by` is who took it out of service: "foreshock",
    another owner's name or reason, or None when it is in service."""

    name: str
    state: str  # scheduler words: IDLE, DRAINED, DRAINING, Ready, SchedulingDisabled, ...
    held_by: str | None = None
    reason: str = ""
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    drained: bool = False  # out of service and empty of work
    exists: bool = True

    @property
    def foreign(self) -> bool:
        return self.held_by is not None and self.held_by != OWNER


@dataclass(frozen=True, slots=True)
class Call:
    """One request to an actuator. `reason` is the text an owner reads (`incident-7 drain`)."""

    action: str
    node: str
    reason: str
    key: str = ""
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    dry_run: bool = False  # check preconditions and plan, change nothing


class Actuator(Protocol):
    name: str
    actions: frozenset[str]  # the step actions this actuator carries out

    def run(self, call: Call) -> ActuatorResult: ...

    def read(self, node: str) -> NodeState: ...
