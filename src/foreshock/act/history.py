"""What the guards ask of the past, answered from the state store so that a restart (or a
kill -9) forgets nothing: starts in a window, ladders in flight, remediations per node, and
whether the breaker is tripped.

The audit log is the record of what was started (`decision="started"`); ladder rows in the
actions table say which remediations are still in flight.
"""

from __future__ import annotations

from sqlalchemy import func, select

from foreshock.store.state import StateStore
from foreshock.store.state.models import ActionRow, AuditRow

ACTOR = "foreshock-act"
LADDER = "ladder"  # the `step` of the action row that tracks a whole ladder
BREAKER_SUBJECT = "breaker"
ACTIVE = "active"
LADDER_DONE = ("done", "failed", "refused", "merged")


class History:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def started_since(self, since: float, *, disruptive_only: bool = True) -> list[AuditRow]:
        stmt = (
            select(AuditRow)
            .where(AuditRow.actor == ACTOR, AuditRow.decision == "started", AuditRow.at >= since)
            .order_by(AuditRow.id)
        )
        rows = self.store.all(stmt)
        if disruptive_only:
            rows = [r for r in rows if r.data.get("disruptive")]
        return rows

    def nodes_started_since(self, since: float) -> set[str]:
        return {r.subject for r in self.started_since(since)}

    def active_ladders(self) -> list[ActionRow]:
        stmt = (
            select(ActionRow)
            .where(ActionRow.step == LADDER, ActionRow.status == ACTIVE)
            .order_by(ActionRow.id)
        )
        return self.store.all(stmt)

    def nodes_in_flight(self) -> set[str]:
        """Nodes whose ladder has started a disruptive step and not finished."""
        return {r.target for r in self.active_ladders() if r.data.get("disrupted")}

    def remediations(self, node: str, since: float) -> int:
        """Ladders on `node` that completed (the node went through the whole ladder)."""
        stmt = select(func.count(ActionRow.id)).where(
            ActionRow.step == LADDER,
            ActionRow.target == node,
            ActionRow.status == "done",
            ActionRow.updated_at >= since,
        )
        with self.store.reader() as session:
            return int(session.scalar(stmt) or 0)

    def breaker_tripped(self) -> AuditRow | None:
        """The trip entry, if the breaker's last entry is a trip (a reset clears it)."""
        stmt = (
            select(AuditRow)
            .where(AuditRow.subject == BREAKER_SUBJECT)
            .order_by(AuditRow.id.desc())
            .limit(1)
        )
        rows = self.store.all(stmt)
        return rows[0] if rows and rows[0].decision == "tripped" else None
