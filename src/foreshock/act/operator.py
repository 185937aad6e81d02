"""What an operator does to the loop: approve a waiting step, reset a tripped breaker.

Both are audit entries under the operator's name, written through the state store, so they
work from any process (the CLI) while the loop runs elsewhere.
"""

from __future__ import annotations

from foreshock.act.history import BREAKER_SUBJECT, History
from foreshock.store.state import NotFound, StateStore


class OperatorError(ValueError):
    pass


def approve(store: StateStore, key: str, *, by: str, now: float | None = None) -> None:
    row = store.action(key)
    if row is None:
        raise NotFound(f"no action with key {key!r}")
    if row.status != "awaiting-approval":
        raise OperatorError(f"{key} is {row.status}, not awaiting approval")
    store.append_audit(
        actor=by,
        action=row.step.split(":", 1)[-1],
        subject=row.target,
        decision="approved",
        reason="operator approval",
        data={"key": key},
        at=now,
    )
    store.update_action(key, status="approved", now=now)


def reset_breaker(
    store: StateStore, *, by: str, reason: str = "", now: float | None = None
) -> bool:
    """Close a tripped breaker; False when it was not tripped."""
    if History(store).breaker_tripped() is None:
        return False
    store.append_audit(
        actor=by,
        action="reset",
        subject=BREAKER_SUBJECT,
        decision="reset",
        reason=reason or "operator reset",
        at=now,
    )
    return True
