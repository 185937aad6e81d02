"""Findings: anomalies and predictions from detection, open until they are closed."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import func, select, update

from foreshock.model import Finding
from foreshock.store.state.base import StoreBase, chunks, one_or_many
from foreshock.store.state.models import FindingRow


class FindingStore(StoreBase):
    def add_findings(self, findings: Iterable[Finding], *, now: float | None = None) -> list[int]:
        """Store a batch of findings, open; returns their ids in the order given."""
        at = self.now(now)
        rows = [_values(f, at) for f in findings]
        ids: list[int] = []
        if rows:
            with self.writer.begin() as session:
                for chunk in chunks(rows):
                    stmt = self.insert(FindingRow).returning(FindingRow.id)
                    # One row per statement keeps RETURNING in insertion order on both dialects.
                    ids.extend(int(session.scalar(stmt.values(row)) or 0) for row in chunk)
        return ids

    def close_findings(self, ids: Iterable[int], *, now: float | None = None) -> int:
        """Close open findings (cleared or handled); returns how many were open."""
        wanted = sorted(set(ids))
        at = self.now(now)
        closed = 0
        with self.writer.begin() as session:
            for chunk in chunks(wanted):
                stmt = (
                    update(FindingRow)
                    .where(FindingRow.id.in_(chunk), FindingRow.status == "open")
                    .values(status="closed", closed_at=at)
                )
                closed += len(session.scalars(stmt.returning(FindingRow.id)).all())
        return closed

    def finding(self, finding_id: int) -> FindingRow | None:
        with self.reader() as session:
            return session.get(FindingRow, finding_id)

    def findings(
        self,
        *,
        status: str | None = None,
        entity: str | Collection[str] | None = None,
        kind: str | None = None,
        since: float | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> list[FindingRow]:
        """Newest first; `since` bounds raised_at; page on with `before` = the last id seen."""
        stmt = select(FindingRow).order_by(FindingRow.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(FindingRow.status == status)
        if entity is not None:
            stmt = stmt.where(one_or_many(FindingRow.entity, entity))
        if kind is not None:
            stmt = stmt.where(FindingRow.kind == kind)
        if since is not None:
            stmt = stmt.where(FindingRow.raised_at >= since)
        if before is not None:
            stmt = stmt.where(FindingRow.id < before)
        return self.all(stmt)

    def open_finding_entities(self) -> dict[str, float]:
        """Entities with open findings, each with its highest score."""
        stmt = (
            select(FindingRow.entity, func.max(FindingRow.score))
            .where(FindingRow.status == "open", FindingRow.entity.is_not(None))
            .group_by(FindingRow.entity)
        )
        with self.reader() as session:
            return {str(e): float(s) for e, s in session.execute(stmt)}


def _values(f: Finding, at: float) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "entity": f.entity,
        "metric": f.metric,
        "raised_at": f.raised_at,
        "score": f.score,
        "detector": f.detector,
        "predicts": f.predicts,
        "onset": f.onset,
        "evidence": f.evidence,
        "status": "open",
        "closed_at": None,
        "created_at": at,
    }
