"""Time gates: maintenance windows for planned work, and the error-budget gate."""

from __future__ import annotations

from foreshock.act.guards.base import GuardContext
from foreshock.act.model import Plan, Refusal


class MaintenanceWindow:
    name = "maintenance-window"

    def check(self, plan: Plan, ctx: GuardContext) -> Refusal | None:
        if not (plan.disruptive and ctx.needs_window):
            return None
        windows = ctx.settings.windows
        if not windows:
            return Refusal(self.name, "the policy needs a maintenance window and none is set")
        if not any(w.contains(ctx.now) for w in windows):
            return Refusal(self.name, "outside every maintenance window", defer=True)
        return None


class ErrorBudget:
    name = "error-budget"

    def check(self, plan: Plan, ctx: GuardContext) -> Refusal | None:
        if not plan.disruptive:
            return None
        reason = ctx.budget.closed(plan, ctx.now)
        return None if reason is None else Refusal(self.name, reason, defer=True)
