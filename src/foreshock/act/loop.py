"""The control loop: match → plan → guards → call with a deadline → validate → next step.

Crash safety rests on the action rows. A ladder (one policy, one trigger, one node) is one row
whose `data.next` is the step to do; each step is one row keyed `<ladder>#<i>:<action>`. A
step's row is set `running` (committed) before its actuator is called, and only a row in
`planned`, `deferred` or `approved` is ever called. So after a kill -9 a step is found either
not yet called (and runs), finished (and is skipped), or `running`: then its outcome is
unknown, it is never repeated, and its validator decides whether the ladder goes on. Every
decision goes to the audit log, and a call is recorded there as `started` before it is made.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from foreshock.act.actuators.base import Actuator, NodeState
from foreshock.act.execute import Router
from foreshock.act.guards import (
    AlwaysOpen,
    AnyTime,
    Checkpoints,
    ErrorBudgetGate,
    Guard,
    GuardContext,
    default_guards,
)
from foreshock.act.history import ACTIVE, ACTOR, LADDER, History
from foreshock.act.model import Plan, Refusal, Trigger, trigger_from_json
from foreshock.act.policy import Policy, Step
from foreshock.act.settings import GuardSettings
from foreshock.act.steps import StepRunner
from foreshock.act.validate import Validator, builtin_validators, merge
from foreshock.store.state import StateStore
from foreshock.store.state.models import ActionRow

# A repeat offender's ladder is replaced by this one: keep it out, and open an RMA ticket.
ESCALATION = (Step("drain", timeout_s=60.0), Step("rma", timeout_s=60.0))


class ControlLoop:
    def __init__(
        self,
        store: StateStore,
        policies: Sequence[Policy],
        actuators: Sequence[Actuator],
        *,
        fleet_size: int,
        settings: GuardSettings | None = None,
        guards: Sequence[Guard] | None = None,
        validators: Mapping[str, Validator] | None = None,
        checkpoints: Checkpoints | None = None,
        budget: ErrorBudgetGate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.history = History(store)
        self.policies = {p.name: p for p in policies}
        self.router = Router(actuators)
        self.fleet_size = fleet_size
        self.settings = settings or GuardSettings()
        self.guards = tuple(guards) if guards is not None else default_guards()
        self.validators = merge(builtin_validators(self.router.read), validators or {})
        self.checkpoints = checkpoints or AnyTime()
        self.budget = budget or AlwaysOpen()
        self.clock = clock
        self.steps = StepRunner(self)
        self._seen: dict[str, NodeState] = {}
        for p in policies:
            for s in p.steps:
                if s.validate is not None and s.validate not in self.validators:
                    raise ValueError(f"policy {p.name}: no validator named {s.validate!r}")

    # --- audit --------------------------------------------------------------------------

    def audit(
        self, action: str, subject: str, decision: str, reason: str = "", **data: Any
    ) -> None:
        self.store.append_audit(
            actor=ACTOR,
            action=action,
            subject=subject,
            decision=decision,
            reason=reason,
            data=data,
            at=self.clock(),
        )

    # --- intake -------------------------------------------------------------------------

    def match(self, trigger: Trigger) -> Policy | None:
        """The first policy that matches, in file order (like a routing tree without
        `continue`): one node gets one ladder at a time."""
        return next((p for p in self.policies.values() if p.match.matches(trigger)), None)

    def submit(self, trigger: Trigger) -> str | None:
        """Start the matching policy's ladder for the trigger's node; the ladder's key, or
        None when nothing matched or the node is already under remediation. Submitting the
        same trigger again changes nothing."""
        policy = self.match(trigger)
        if policy is None or not trigger.node:
            return None
        key = f"{policy.name}/{trigger.id}/{trigger.node}"
        if self.store.action(key) is not None:
            return key
        busy = [r.key for r in self.history.active_ladders() if r.target == trigger.node]
        status = "merged" if busy else ACTIVE
        data = {"next": 0, "trigger": trigger.to_json(), "escalated": False, "disrupted": False}
        _, created = self.store.create_action(
            key,
            policy=policy.name,
            step=LADDER,
            target=trigger.node,
            mode=policy.mode,
            status=status,
            data=data,
            now=self.clock(),
        )
        if created:
            if busy:
                self.audit(
                    "match",
                    trigger.node,
                    "merged",
                    f"already under remediation by {busy[0]}",
                    ladder=key,
                    trigger=trigger.to_json(),
                )
            else:
                self.audit(
                    "match",
                    trigger.node,
                    "matched",
                    f"policy {policy.name} ({policy.mode})",
                    ladder=key,
                    trigger=trigger.to_json(),
                )
        return None if busy else key

    # --- the loop -----------------------------------------------------------------------

    def tick(self) -> None:
        """Advance every open ladder as far as it can go now, oldest first."""
        self._seen = {}
        for ladder in self.history.active_ladders():
            self._advance(ladder)

    def node_state(self, node: str) -> NodeState:
        if node not in self._seen:
            self._seen[node] = self.router.read(node)
        return self._seen[node]

    def forget(self, node: str) -> None:
        self._seen.pop(node, None)

    def context(self, policy: Policy) -> GuardContext:
        return GuardContext(
            now=self.clock(),
            settings=self.settings,
            history=self.history,
            fleet_size=self.fleet_size,
            node_state=self.node_state,
            checkpoints=self.checkpoints,
            budget=self.budget,
            needs_window=policy.needs_window,
        )

    def refusal(self, plan: Plan, policy: Policy) -> Refusal | None:
        ctx = self.context(policy)
        for guard in self.guards:
            found = guard.check(plan, ctx)
            if found is not None:
                return found
        return None

    def _advance(self, ladder: ActionRow) -> None:
        for _ in range(2 * len(ESCALATION) + 64):  # bounded: a ladder has few steps
            policy = self.policies.get(ladder.policy)
            if policy is None:
                self._finish(ladder, "failed", f"policy {ladder.policy} is no longer loaded")
                return
            escalated = bool(ladder.data.get("escalated"))
            steps = ESCALATION if escalated else policy.steps
            i = int(ladder.data["next"])
            if i >= len(steps):
                self._finish(ladder, "rma" if escalated else "done", "ladder complete")
                return
            plan = self._plan(ladder, policy, steps[i], i, escalated)
            outcome = self.steps.run(plan, steps[i], policy, ladder)
            if outcome == "next":
                ladder = self._update_ladder(ladder, next=i + 1)
            elif outcome == "escalate":
                ladder = self._update_ladder(ladder, next=0, escalated=True)
            elif outcome in ("failed", "refused"):
                self._finish(ladder, outcome, f"step {plan.key} {outcome}")
                return
            else:
                return

    def _plan(self, ladder: ActionRow, policy: Policy, step: Step, i: int, esc: bool) -> Plan:
        trigger = trigger_from_json(ladder.data["trigger"])
        index = f"rma{i}" if esc else str(i)
        params: dict[str, Any] = {"entity": trigger.entity}
        gpu = re.search(r"(\d+)$", trigger.entity) if trigger.entity_kind == "gpu" else None
        if gpu is not None:  # `{gpu}` in a command: the index the GPU's id ends with
            params["gpu"] = gpu.group(1)
        params.update(step.params)
        return Plan(
            key=f"{ladder.key}#{index}:{step.action}",
            ladder=ladder.key,
            policy=policy.name,
            mode=policy.mode,
            index=i,
            action=step.action,
            node=ladder.target,
            trigger=trigger,
            params=MappingProxyType(params),
        )

    def _update_ladder(self, ladder: ActionRow, **changes: Any) -> ActionRow:
        data = {**ladder.data, **changes}
        return self.store.update_action(ladder.key, data=data, now=self.clock())

    def mark_disrupted(self, ladder_key: str) -> None:
        row = self.store.action(ladder_key)
        if row is not None and not row.data.get("disrupted"):
            self._update_ladder(row, disrupted=True)

    def _finish(self, ladder: ActionRow, status: str, reason: str) -> None:
        self.audit("ladder", ladder.target, status, reason, ladder=ladder.key)
        self.store.update_action(ladder.key, status=status, now=self.clock())
