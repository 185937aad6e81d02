"""Guards every step passes, in the order they are asked; the first refusal wins.

Ownership and opt-out come first (they never change), then the repeat-offender check (it
redirects to RMA), then the time gates, and the breaker last but one so that it only counts
nodes that every other guard would let through. Idempotency is not a guard here: the loop
never runs a step whose action row is already past `planned` (see loop.py).
"""

from foreshock.act.guards.base import (
    AlwaysOpen,
    AnyTime,
    Checkpoints,
    ErrorBudgetGate,
    Guard,
    GuardContext,
    PeriodicCheckpoints,
)
from foreshock.act.guards.breaker import CircuitBreaker
from foreshock.act.guards.limits import Concurrency, JobBoundary, RateLimit, RepeatOffender
from foreshock.act.guards.ownership import OptOut, Ownership
from foreshock.act.guards.schedule import ErrorBudget, MaintenanceWindow


def default_guards() -> tuple[Guard, ...]:
    return (
        Ownership(),
        OptOut(),
        RepeatOffender(),
        MaintenanceWindow(),
        ErrorBudget(),
        JobBoundary(),
        Concurrency(),
        RateLimit(),
        CircuitBreaker(),
    )


__all__ = [
    "AlwaysOpen",
    "AnyTime",
    "Checkpoints",
    "CircuitBreaker",
    "Concurrency",
    "ErrorBudget",
    "ErrorBudgetGate",
    "Guard",
    "GuardContext",
    "JobBoundary",
    "MaintenanceWindow",
    "OptOut",
    "Ownership",
    "PeriodicCheckpoints",
    "RateLimit",
    "RepeatOffender",
    "default_guards",
]
