"""One step of a ladder, as a small state machine over its action row's status.

    planned/deferred/approved → (approval?) awaiting-approval
                              → (guards) deferred | refused | escalated
                              → running → validating → done
                                        ↘ failed, or planned again for a retryable failure
    running found at the start of a pass (the process died mid-call) → validating or failed

`run` returns what the ladder does next: "next", "wait", "escalate", "failed" or "refused".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from foreshock.act.actuators.base import ActuatorResult, Call
from foreshock.act.execute import call_with_timeout
from foreshock.act.model import Plan
from foreshock.act.policy import Policy, Step
from foreshock.store.state.models import ActionRow

if TYPE_CHECKING:
    from foreshock.act.loop import ControlLoop

CALLABLE = ("planned", "deferred", "approved")


class StepRunner:
    def __init__(self, loop: ControlLoop) -> None:
        self.loop = loop

    def _set(self, row: ActionRow, status: str, *, attempt: bool = False, **data: Any) -> ActionRow:
        return self._write(row, status, data, attempt=attempt)

    def _write(
        self, row: ActionRow, status: str, data: dict[str, Any], *, attempt: bool = False
    ) -> ActionRow:
        return self.loop.store.update_action(
            row.key,
            status=status,
            attempt=attempt,
            data={**row.data, **data},
            now=self.loop.clock(),
        )

    def run(self, plan: Plan, step: Step, policy: Policy, ladder: ActionRow) -> str:
        loop = self.loop
        row, created = loop.store.create_action(
            plan.key,
            policy=plan.policy,
            step=f"{plan.index}:{plan.action}",
            target=plan.node,
            mode=plan.mode,
            status="planned",
            data={"ladder": plan.ladder},
            now=loop.clock(),
        )
        if created:
            loop.audit(
                plan.action,
                plan.node,
                "planned",
                f"step {plan.index} of {policy.name}",
                key=plan.key,
                mode=plan.mode,
            )
        status = row.status
        if status in ("done", "failed", "refused"):
            return "next" if status == "done" else status
        if status == "escalated":
            return "escalate"
        if status == "awaiting-approval":
            return "wait"
        if status == "running":
            return self._recover(plan, step, row)
        if status == "validating":
            return self._validate(plan, step, row)
        if status in CALLABLE:
            return self._try(plan, step, policy, row)
        raise ValueError(f"action {plan.key} has unknown status {status!r}")

    def _recover(self, plan: Plan, step: Step, row: ActionRow) -> str:
        reason = "found running after a restart: the call's outcome is unknown; not repeated"
        self.loop.audit(plan.action, plan.node, "recovered", reason, key=plan.key)
        return self._after_unknown(plan, step, row)

    def _after_unknown(self, plan: Plan, step: Step, row: ActionRow) -> str:
        if step.validate is not None:
            row = self._set(row, "validating", deadline=self.loop.clock() + step.validate_timeout_s)
            return self._validate(plan, step, row)
        self.loop.audit(
            plan.action, plan.node, "failed", "outcome unknown and no validator", key=plan.key
        )
        self._set(row, "failed")
        return "failed"

    def _validate(self, plan: Plan, step: Step, row: ActionRow) -> str:
        loop = self.loop
        assert step.validate is not None
        loop.forget(plan.node)
        try:
            passed, detail = loop.validators[step.validate](plan.node)
        except Exception as exc:  # a broken check is a failed check, not a dead loop
            passed, detail = False, f"{type(exc).__name__}: {exc}"
        if passed:
            loop.audit(
                plan.action, plan.node, "validated", f"{step.validate}: {detail}", key=plan.key
            )
            self._set(row, "done")
            return "next"
        if loop.clock() < float(row.data.get("deadline", 0.0)):
            if row.data.get("pending") != detail:
                loop.audit(
                    plan.action, plan.node, "validating", f"{step.validate}: {detail}", key=plan.key
                )
                self._set(row, "validating", pending=detail)
            return "wait"
        loop.audit(
            plan.action,
            plan.node,
            "validation-failed",
            f"{step.validate} did not pass within {step.validate_timeout_s:.0f} s: {detail}",
            key=plan.key,
        )
        self._set(row, "failed")
        return "failed"

    def _try(self, plan: Plan, step: Step, policy: Policy, row: ActionRow) -> str:
        loop = self.loop
        # only enforce mode waits for an operator: shadow and dry-run change nothing
        if step.approval and row.status != "approved" and plan.mode == "enforce":
            loop.audit(
                plan.action,
                plan.node,
                "awaiting-approval",
                f"`foreshock act approve {plan.key}` to go on",
                key=plan.key,
            )
            self._set(row, "awaiting-approval")
            return "wait"
        refusal = loop.refusal(plan, policy)
        if refusal is not None:
            data = {"key": plan.key, "guard": refusal.guard}
            if refusal.escalate:
                loop.audit(plan.action, plan.node, "refused", refusal.reason, **data)
                loop.audit(
                    "escalate", plan.node, "escalated", f"ladder goes to {refusal.escalate}", **data
                )
                self._set(row, "escalated")
                return "escalate"
            if refusal.defer:
                if row.data.get("deferred") != refusal.reason or row.status != "deferred":
                    loop.audit(plan.action, plan.node, "deferred", refusal.reason, **data)
                    self._set(row, "deferred", deferred=refusal.reason)
                return "wait"
            loop.audit(plan.action, plan.node, "refused", refusal.reason, **data)
            self._set(row, "refused")
            return "refused"
        if plan.mode == "shadow":
            loop.audit(
                plan.action, plan.node, "shadow", f"would {plan.action} {plan.node}", key=plan.key
            )
            self._set(row, "done", shadow=True)
            return "next"
        actuator = loop.router.for_action(plan.action)
        if actuator is None:
            loop.audit(
                plan.action, plan.node, "failed", f"no actuator can {plan.action}", key=plan.key
            )
            self._set(row, "failed")
            return "failed"
        call = Call(
            plan.action,
            plan.node,
            f"{plan.trigger.id} {plan.action}",
            plan.key,
            plan.params,
            dry_run=plan.mode == "dry-run",
        )
        if plan.mode == "dry-run":
            result = call_with_timeout(actuator, call, step.timeout_s)
            ok = result is not None and result.ok
            loop.audit(
                plan.action,
                plan.node,
                "dry-run",
                "timed out" if result is None else result.detail,
                key=plan.key,
                ok=ok,
            )
            self._set(row, "done" if ok else "failed")
            return "next" if ok else "failed"
        if plan.disruptive:
            loop.mark_disrupted(plan.ladder)
        row = self._set(row, "running", attempt=True)
        loop.audit(
            plan.action,
            plan.node,
            "started",
            f"{actuator.name} {plan.action}",
            key=plan.key,
            disruptive=plan.disruptive,
            attempt=row.attempts,
        )
        result = call_with_timeout(actuator, call, step.timeout_s)
        loop.forget(plan.node)
        return self._record(plan, step, row, result)

    def _record(self, plan: Plan, step: Step, row: ActionRow, result: ActuatorResult | None) -> str:
        loop = self.loop
        if result is None:
            loop.audit(
                plan.action,
                plan.node,
                "timed-out",
                f"no answer in {step.timeout_s:.0f} s; outcome unknown, not repeated",
                key=plan.key,
            )
            return self._after_unknown(plan, step, row)
        extra = {k: v for k, v in result.data.items() if isinstance(v, str | int | float)}
        if result.ok:
            loop.audit(
                plan.action, plan.node, "succeeded", result.detail, key=plan.key, result=extra
            )
            if step.validate is None:
                self._write(row, "done", extra)
                return "next"
            row = self._write(
                row, "validating", {"deadline": loop.clock() + step.validate_timeout_s, **extra}
            )
            return self._validate(plan, step, row)
        if result.retryable and row.attempts <= step.retries:
            loop.audit(
                plan.action,
                plan.node,
                "failed",
                f"{result.detail} (will retry)",
                key=plan.key,
                retryable=True,
            )
            self._set(row, "planned", error=result.detail)
            return "wait"
        loop.audit(
            plan.action,
            plan.node,
            "failed",
            result.detail,
            key=plan.key,
            retryable=result.retryable,
        )
        self._set(row, "failed", error=result.detail)
        return "failed"
