"""The one interface every guard implements, and what it may look at.

A guard is asked about one plan at a time and answers None (go) or a Refusal saying why not;
the loop records every refusal in the audit log with the guard's name and reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from foreshock.act.actuators.base import NodeState
from foreshock.act.history import History
from foreshock.act.model import Plan, Refusal
from foreshock.act.settings import GuardSettings


class Checkpoints(Protocol):
    """Whether a synchronous job is at a checkpoint boundary now (safe to interrupt)."""

    def at_boundary(self, job: str, now: float) -> bool: ...


class ErrorBudgetGate(Protocol):
    """The SLO work fills this in: None when disruptive work may go, else the reason not."""

    def closed(self, plan: Plan, now: float) -> str | None: ...


class AlwaysOpen:
    def closed(self, plan: Plan, now: float) -> str | None:
        return None


class AnyTime:
    """No checkpoint information: every moment counts as a boundary."""

    def at_boundary(self, job: str, now: float) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class PeriodicCheckpoints:
    """Jobs that checkpoint every `period_s` from `origin`; a boundary lasts `slack_s`."""

    schedule: dict[str, tuple[float, float]]  # job -> (origin, period_s)
    slack_s: float = 60.0

    def at_boundary(self, job: str, now: float) -> bool:
        if job not in self.schedule:
            return True
        origin, period = self.schedule[job]
        return (now - origin) % period < self.slack_s


@dataclass(frozen=True, slots=True)
class GuardContext:
    now: float
    settings: GuardSettings
    history: History
    fleet_size: int  # nodes Foreshock may act on (GPU nodes): the breaker's denominator
    node_state: Callable[[str], NodeState]
    checkpoints: Checkpoints
    budget: ErrorBudgetGate
    needs_window: bool  # the plan's policy is planned work


class Guard(Protocol):
    name: str

    def check(self, plan: Plan, ctx: GuardContext) -> Refusal | None: ...
