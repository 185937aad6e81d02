"""The circuit breaker: too many distinct nodes acted on in a sliding window stops everything.

It counts both against a fraction of the fleet and an absolute number (the lower binds). When
a new node would pass the limit the breaker trips, which is written to the audit log, and
then every node-changing step waits, returns to service included, until an operator resets it
(`foreshock act reset-breaker`). Notifications and silences still go out.
"""

from __future__ import annotations

from foreshock.act.guards.base import GuardContext
from foreshock.act.history import ACTOR, BREAKER_SUBJECT
from foreshock.act.model import Plan, Refusal


class CircuitBreaker:
    name = "breaker"

    def check(self, plan: Plan, ctx: GuardContext) -> Refusal | None:
        if not (plan.disruptive or plan.returning):
            return None
        tripped = ctx.history.breaker_tripped()
        if tripped is not None:
            return Refusal(self.name, f"tripped: {tripped.reason}; waiting for a reset", defer=True)
        if not plan.disruptive:
            return None
        s = ctx.settings
        nodes = ctx.history.nodes_started_since(ctx.now - s.breaker_window_s)
        if plan.node in nodes:
            return None
        limit = s.breaker_limit(ctx.fleet_size)
        if len(nodes) + 1 > limit:
            reason = (
                f"{len(nodes) + 1} nodes in {s.breaker_window_s:.0f} s would exceed {limit} "
                f"(min of {s.breaker_fraction:.0%} of {ctx.fleet_size} and {s.breaker_max_nodes})"
            )
            ctx.history.store.append_audit(
                actor=ACTOR,
                action="trip",
                subject=BREAKER_SUBJECT,
                decision="tripped",
                reason=reason,
                data={"nodes": sorted(nodes), "next": plan.node},
                at=ctx.now,
            )
            return Refusal(self.name, f"tripped: {reason}", defer=True)
        return None
