"""Rate, concurrency, per-job and repeat-offender limits."""

from __future__ import annotations

from foreshock.act.guards.base import GuardContext
from foreshock.act.model import Plan, Refusal

REPAIRS = frozenset({"gpu_reset", "reboot", "repave"})


class RateLimit:
    name = "rate"

    def check(self, plan: Plan, ctx: GuardContext) -> Refusal | None:
        if not plan.disruptive:
            return None
        s = ctx.settings
        started = len(ctx.history.started_since(ctx.now - s.rate_window_s))
        if started >= s.rate_max:
            return Refusal(
                self.name,
                f"{started} disruptive steps in the last {s.rate_window_s:.0f} s "
                f"(limit {s.rate_max})",
                defer=True,
            )
        return None


class Concurrency:
    name = "concurrency"

    def check(self, plan: Plan, ctx: GuardContext) -> Refusal | None:
        if not plan.disruptive:
            return None
        in_flight = ctx.history.nodes_in_flight()
        if plan.node in in_flight:
            return None  # a later step of a remediation already under way
        if len(in_flight) >= ctx.settings.max_in_flight:
            return Refusal(
                self.name,
                f"{len(in_flight)} node(s) already under remediation "
                f"(limit {ctx.settings.max_in_flight}): {', '.join(sorted(in_flight))}",
                defer=True,
            )
        return None


class JobBoundary:
    """A synchronous job loses all its progress since its last checkpoint when any one node
    goes, so disruptive steps on its nodes wait for a checkpoint boundary, where the loop
    admits every pending step of that job in the same pass: one interruption, not one per
    node."""

    name = "job"

    def check(self, plan: Plan, ctx: GuardContext) -> Refusal | None:
        job = plan.trigger.job
        if not plan.disruptive or job is None:
            return None
        if ctx.history.nodes_in_flight() & {plan.node}:
            return None  # the job was already interrupted for this node
        if not ctx.checkpoints.at_boundary(job, ctx.now):
            return Refusal(self.name, f"waiting for job {job}'s next checkpoint", defer=True)
        return None


class RepeatOffender:
    name = "repeat-offender"

    def check(self, plan: Plan, ctx: GuardContext) -> Refusal | None:
        if plan.action not in REPAIRS:
            return None
        s = ctx.settings
        done = ctx.history.remediations(plan.node, ctx.now - s.repeat_window_s)
        if done >= s.repeat_max:
            return Refusal(
                self.name,
                f"{plan.node} was remediated {done} times in {s.repeat_window_s / 86400:.0f} "
                f"days (limit {s.repeat_max}): RMA instead of another {plan.action}",
                escalate="rma",
            )
        return None
