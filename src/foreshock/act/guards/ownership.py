"""Ownership and opt-out: never touch what someone else took out, nor nodes that opted out."""

from __future__ import annotations

from foreshock.act.guards.base import GuardContext
from foreshock.act.model import Plan, Refusal


class Ownership:
    name = "ownership"

    def check(self, plan: Plan, ctx: GuardContext) -> Refusal | None:
        if not (plan.disruptive or plan.returning):
            return None
        state = ctx.node_state(plan.node)
        if not state.exists:
            return Refusal(self.name, f"{plan.node} does not exist in the scheduler")
        if state.foreign:
            what = "return" if plan.returning else plan.action
            return Refusal(
                self.name,
                f"{plan.node} is held by {state.held_by} (reason {state.reason!r}); "
                f"Foreshock will not {what} a node it does not own",
            )
        return None


class OptOut:
    name = "opt-out"

    def check(self, plan: Plan, ctx: GuardContext) -> Refusal | None:
        if not plan.disruptive:
            return None
        label = ctx.settings.opt_out_label
        sources = (plan.trigger.labels, ctx.node_state(plan.node).labels)
        if any(labels.get(label, "").lower() == "true" for labels in sources):
            return Refusal(self.name, f"{plan.node} carries {label}=true")
        return None
