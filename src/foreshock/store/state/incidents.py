"""Incidents: alerts grouped into one problem, its ranked root causes, and its lifecycle.

open → acknowledged → resolved, and back: an acknowledgement can be withdrawn (→ open) and a
resolved incident reopened (→ open, which clears the acknowledgement and the resolution).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, delete, exists, func, select
from sqlalchemy.orm import Session, selectinload

from foreshock.store.state.base import (
    UNSET,
    InvalidTransition,
    NotFound,
    StoreBase,
    _Unset,
    chunks,
    one_or_many,
)
from foreshock.store.state.models import (
    INCIDENT_STATUSES,
    AlertRow,
    IncidentAlertRow,
    IncidentCommentRow,
    IncidentRow,
)

TRANSITIONS = {
    "open": {"acknowledged", "resolved"},
    "acknowledged": {"open", "resolved"},
    "resolved": {"open"},
}


class IncidentStore(StoreBase):
    def create_incident(
        self,
        title: str,
        *,
        started_at: float,
        fingerprints: Iterable[str] = (),
        root_causes: Sequence[Any] = (),
        blast_radius: Mapping[str, Any] | None = None,
        suppressed: Sequence[Any] = (),
        now: float | None = None,
    ) -> IncidentRow:
        at = self.now(now)
        row = IncidentRow(
            status="open",
            title=title,
            started_at=started_at,
            ended_at=None,
            root_causes=list(root_causes),
            blast_radius=dict(blast_radius or {}),
            suppressed=list(suppressed),
            acknowledged_by=None,
            acknowledged_at=None,
            resolved_at=None,
            created_at=at,
            updated_at=at,
            root_entity=root_entity(root_causes),
        )
        with self.writer.begin() as session:
            session.add(row)
            session.flush()
            self._link(session, row.id, fingerprints, at)
        return self._get(row.id)

    def add_incident_alerts(
        self, incident_id: int, fingerprints: Iterable[str], *, now: float | None = None
    ) -> list[str]:
        """Link alerts to an incident; returns those not linked before."""
        at = self.now(now)
        with self.writer.begin() as session:
            row = _lock(session, incident_id)
            added = self._link(session, incident_id, fingerprints, at)
            if added:
                row.updated_at = at
        return added

    def set_incident_alerts(
        self, incident_id: int, fingerprints: Iterable[str], *, now: float | None = None
    ) -> list[str]:
        """Make an incident's alerts exactly these (correlation moved some to another
        incident); returns those not linked before."""
        at = self.now(now)
        wanted = set(fingerprints)
        with self.writer.begin() as session:
            row = _lock(session, incident_id)
            links = IncidentAlertRow.incident_id == incident_id
            have = set(session.scalars(select(IncidentAlertRow.fingerprint).where(links)))
            gone = sorted(have - wanted)
            for chunk in chunks(gone):
                session.execute(
                    delete(IncidentAlertRow).where(links, IncidentAlertRow.fingerprint.in_(chunk))
                )
            added = self._link(session, incident_id, wanted - have, at)
            if added or gone:
                row.updated_at = at
        return added

    def update_incident(
        self,
        incident_id: int,
        *,
        title: str | None = None,
        ended_at: float | _Unset | None = UNSET,
        root_causes: Sequence[Any] | None = None,
        blast_radius: Mapping[str, Any] | None = None,
        suppressed: Sequence[Any] | None = None,
        now: float | None = None,
    ) -> IncidentRow:
        """Change what correlate and diagnose know; arguments left out stay as they are."""
        with self.writer.begin() as session:
            row = _lock(session, incident_id)
            if title is not None:
                row.title = title
            if ended_at is not UNSET:
                row.ended_at = ended_at
            if root_causes is not None:
                row.root_causes = list(root_causes)
                row.root_entity = root_entity(root_causes)
            if blast_radius is not None:
                row.blast_radius = dict(blast_radius)
            if suppressed is not None:
                row.suppressed = list(suppressed)
            row.updated_at = self.now(now)
        return self._get(incident_id)

    def set_incident_status(
        self, incident_id: int, status: str, *, by: str | None = None, now: float | None = None
    ) -> IncidentRow:
        """Acknowledge, resolve, withdraw an acknowledgement or reopen; the same status again
        is a no-op, so that two people acknowledging at once both succeed."""
        at = self.now(now)
        with self.writer.begin() as session:
            row = _lock(session, incident_id)
            if status != row.status:
                if status not in TRANSITIONS.get(row.status, set()):
                    raise InvalidTransition(f"incident {incident_id}: {row.status} → {status}")
                if status == "acknowledged":
                    row.acknowledged_by, row.acknowledged_at = by, at
                elif status == "resolved":
                    row.resolved_at = at
                else:
                    row.acknowledged_by = row.acknowledged_at = row.resolved_at = None
                row.status = status
                row.updated_at = at
        return self._get(incident_id)

    def comment_incident(
        self, incident_id: int, author: str, text: str, *, now: float | None = None
    ) -> IncidentCommentRow:
        at = self.now(now)
        with self.writer.begin() as session:
            _lock(session, incident_id).updated_at = at
            comment = IncidentCommentRow(incident_id=incident_id, at=at, author=author, text=text)
            session.add(comment)
        return comment

    def incident(self, incident_id: int) -> IncidentRow | None:
        """One incident with its alerts and comments loaded."""
        stmt = (
            select(IncidentRow)
            .where(IncidentRow.id == incident_id)
            .options(selectinload(IncidentRow.alerts), selectinload(IncidentRow.comments))
        )
        with self.reader() as session:
            return session.scalars(stmt).one_or_none()

    def incidents(
        self,
        *,
        status: str | Collection[str] | None = None,
        since: float | None = None,
        fingerprint: str | None = None,
        limit: int = 50,
        before: int | None = None,
        entity: str | Collection[str] | None = None,
        text: str | None = None,
    ) -> list[IncidentRow]:
        """Newest first; `since` bounds updated_at; page on with `before` = the last id seen;
        `entity` matches the top root cause's entity, `text` a substring of the title.
        Alerts and comments are not loaded: use `incident(id)` for those."""
        stmt = select(IncidentRow).order_by(IncidentRow.id.desc()).limit(limit)
        stmt = _filtered(stmt, status, since, fingerprint, entity, text)
        if before is not None:
            stmt = stmt.where(IncidentRow.id < before)
        return self.all(stmt)

    def count_incidents(
        self,
        *,
        status: str | Collection[str] | None = None,
        since: float | None = None,
        fingerprint: str | None = None,
        entity: str | Collection[str] | None = None,
        text: str | None = None,
    ) -> int:
        """How many incidents `incidents` would list without a limit."""
        stmt = _filtered(
            select(func.count()).select_from(IncidentRow), status, since, fingerprint, entity, text
        )
        with self.reader() as session:
            return int(session.scalar(stmt) or 0)

    def incident_status_counts(self) -> dict[str, int]:
        """Incidents per status (every status present, zero if none)."""
        stmt = select(IncidentRow.status, func.count()).group_by(IncidentRow.status)
        counts = dict.fromkeys(INCIDENT_STATUSES, 0)
        with self.reader() as session:
            counts.update({str(s): int(n) for s, n in session.execute(stmt)})
        return counts

    def _get(self, incident_id: int) -> IncidentRow:
        row = self.incident(incident_id)
        if row is None:  # pragma: no cover - only if deleted behind our back
            raise NotFound(f"no incident {incident_id}")
        return row

    def merge_incidents(
        self, source_id: int, into_id: int, *, now: float | None = None
    ) -> IncidentRow:
        """Correlation found that `source` is part of `into`: its alerts move over, and it is
        resolved with a title that says where they went (kept, not deleted: people may have
        acknowledged or commented on it)."""
        at = self.now(now)
        with self.writer.begin() as session:
            source = _lock(session, source_id)
            target = _lock(session, into_id)
            moved = list(
                session.scalars(
                    select(IncidentAlertRow.fingerprint).where(
                        IncidentAlertRow.incident_id == source_id
                    )
                )
            )
            session.execute(
                delete(IncidentAlertRow).where(IncidentAlertRow.incident_id == source_id)
            )
            self._link(session, into_id, moved, at)
            if not source.title.startswith("merged into"):
                source.title = f"merged into incident {into_id}: {source.title}"[:500]
            source.status, source.resolved_at, source.updated_at = "resolved", at, at
            source.ended_at = source.ended_at or at
            target.updated_at = at
        return self._get(into_id)

    def _link(
        self, session: Session, incident_id: int, fingerprints: Iterable[str], at: float
    ) -> list[str]:
        wanted = sorted(set(fingerprints))
        added: list[str] = []
        for chunk in chunks(wanted):
            stmt = select(AlertRow.fingerprint).where(AlertRow.fingerprint.in_(chunk))
            missing = set(chunk) - set(session.scalars(stmt))
            if missing:
                raise NotFound(f"no alerts with fingerprints {', '.join(sorted(missing))}")
            link = self.insert(IncidentAlertRow).values(
                [{"incident_id": incident_id, "fingerprint": fp, "added_at": at} for fp in chunk]
            )
            link = link.on_conflict_do_nothing(index_elements=["incident_id", "fingerprint"])
            added.extend(session.scalars(link.returning(IncidentAlertRow.fingerprint)))
        return sorted(added)


def _lock(session: Session, incident_id: int) -> IncidentRow:
    stmt = select(IncidentRow).where(IncidentRow.id == incident_id).with_for_update()
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return row


def root_entity(root_causes: Sequence[Any]) -> str | None:
    """The entity of the top-ranked cause, if the first cause is a mapping that names one."""
    if root_causes and isinstance(root_causes[0], Mapping):
        entity = root_causes[0].get("entity")
        return str(entity) if entity is not None else None
    return None


S = TypeVar("S", bound=Select[Any])


def _filtered(
    stmt: S,
    status: str | Collection[str] | None,
    since: float | None,
    fingerprint: str | None,
    entity: str | Collection[str] | None,
    text: str | None,
) -> S:
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        stmt = stmt.where(IncidentRow.status.in_(statuses))
    if since is not None:
        stmt = stmt.where(IncidentRow.updated_at >= since)
    if fingerprint is not None:
        linked = exists().where(
            IncidentAlertRow.incident_id == IncidentRow.id,
            IncidentAlertRow.fingerprint == fingerprint,
        )
        stmt = stmt.where(linked)
    if entity is not None:
        stmt = stmt.where(one_or_many(IncidentRow.root_entity, entity))
    if text:
        # LIKE with escaped wildcards: the text is matched literally, case-insensitively.
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(func.lower(IncidentRow.title).like(pattern.lower(), escape="\\"))
    return stmt
