"""The state tables as SQLAlchemy 2 typed ORM models.

Times are unix seconds in double precision, like every time in `foreshock.model`: they round-
trip exactly on SQLite and PostgreSQL (SQLite has no time zone type, so an aware datetime comes
back naive there), compare and index as plain numbers, and need no conversion at the edges.
In SQL, `to_timestamp(at)` (PostgreSQL) or `datetime(at, 'unixepoch')` (SQLite) reads them.

JSON is JSONB on PostgreSQL and JSON text on SQLite. Rows returned by `StateStore` are detached
snapshots: change state through the store's methods, never by setting attributes.

The migrations in `migrations/versions` create exactly this schema; a test compares the two.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from foreshock.model import Alert, Event, Finding

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
ALERT_STATUSES = ("firing", "resolved")
INCIDENT_STATUSES = ("open", "acknowledged", "resolved")
ACTION_MODES = ("shadow", "dry-run", "enforce")
FINDING_STATUSES = ("open", "closed")

Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        float: Double(),
        str: Text(),
        int: Integer(),
        bool: Boolean(),
    }


class AlertRow(Base):
    """The current state of one alert (one label set, one fingerprint)."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(_one_of("status", ALERT_STATUSES), name="status"),
        Index(None, "status"),
        Index(None, "entity"),
        Index(None, "last_received"),
    )

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    labels: Mapped[dict[str, str]] = mapped_column(Json)
    annotations: Mapped[dict[str, str]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[float]
    ends_at: Mapped[float | None]
    generator_url: Mapped[str]
    source: Mapped[str]
    entity: Mapped[str | None]
    first_received: Mapped[float]
    last_received: Mapped[float]
    changed_at: Mapped[float]  # when status, times, annotations or entity last changed
    receive_count: Mapped[int]  # copies received, duplicates included

    def to_alert(self) -> Alert:
        return Alert(
            fingerprint=self.fingerprint,
            labels=self.labels,
            annotations=self.annotations,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            generator_url=self.generator_url,
            status=self.status,
            source=self.source,
            entity=self.entity,
        )


class AlertHistoryRow(Base):
    """One change of an alert: new, resolved, refired, reopened or updated (not duplicates)."""

    __tablename__ = "alert_history"
    __table_args__ = (Index(None, "fingerprint", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(
        String(64), ForeignKey("alerts.fingerprint", ondelete="CASCADE")
    )
    at: Mapped[float]
    change: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[float]
    ends_at: Mapped[float | None]
    annotations: Mapped[dict[str, str]] = mapped_column(Json)
    entity: Mapped[str | None]


class EventRow(Base):
    """An XID or SXID as the kernel log reported it."""

    __tablename__ = "events"
    __table_args__ = (Index(None, "time"), Index(None, "entity", "time"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    time: Mapped[float | None]
    host: Mapped[str | None]
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[int]
    pci: Mapped[str]
    text: Mapped[str]
    severity: Mapped[str | None]
    entity: Mapped[str | None]
    received_at: Mapped[float]

    def to_event(self) -> Event:
        return Event(
            time=self.time,
            host=self.host,
            kind=self.kind,
            code=self.code,
            pci=self.pci,
            text=self.text,
            severity=self.severity,
            entity=self.entity,
        )


class IncidentRow(Base):
    """Alerts grouped into one problem, with its ranked root causes and its lifecycle."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(_one_of("status", INCIDENT_STATUSES), name="status"),
        Index(None, "status"),
        Index(None, "updated_at"),
        Index(None, "root_entity"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    title: Mapped[str]
    started_at: Mapped[float]
    ended_at: Mapped[float | None]
    root_causes: Mapped[list[Any]] = mapped_column(Json)
    blast_radius: Mapped[dict[str, Any]] = mapped_column(Json)
    suppressed: Mapped[list[Any]] = mapped_column(Json)
    acknowledged_by: Mapped[str | None]
    acknowledged_at: Mapped[float | None]
    resolved_at: Mapped[float | None]
    created_at: Mapped[float]
    updated_at: Mapped[float]
    root_entity: Mapped[str | None]  # the top-ranked root cause's entity, kept in step

    # Loaded by StateStore.incident() only; elsewhere reading them raises instead of querying.
    alerts: Mapped[list[IncidentAlertRow]] = relationship(
        viewonly=True, lazy="raise", order_by="IncidentAlertRow.fingerprint"
    )
    comments: Mapped[list[IncidentCommentRow]] = relationship(
        viewonly=True, lazy="raise", order_by="IncidentCommentRow.id"
    )


class IncidentAlertRow(Base):
    __tablename__ = "incident_alerts"
    __table_args__ = (Index(None, "fingerprint"),)

    incident_id: Mapped[int] = mapped_column(
        Id, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(
        String(64), ForeignKey("alerts.fingerprint", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[float]


class IncidentCommentRow(Base):
    __tablename__ = "incident_comments"
    __table_args__ = (Index(None, "incident_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(Id, ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[float]
    author: Mapped[str]
    text: Mapped[str]


class FindingRow(Base):
    """An anomaly or prediction from detection; open until closed (it cleared, or was handled)."""

    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint(_one_of("status", FINDING_STATUSES), name="status"),
        Index(None, "entity"),
        Index(None, "status"),
        Index(None, "raised_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str | None]
    metric: Mapped[str]
    raised_at: Mapped[float]
    score: Mapped[float]
    detector: Mapped[str]
    predicts: Mapped[str | None]
    onset: Mapped[float | None]
    evidence: Mapped[str]
    status: Mapped[str] = mapped_column(String(16))
    closed_at: Mapped[float | None]
    created_at: Mapped[float]

    def to_finding(self) -> Finding:
        return Finding(
            kind=self.kind,
            entity=self.entity,
            metric=self.metric,
            raised_at=self.raised_at,
            score=self.score,
            detector=self.detector,
            predicts=self.predicts,
            onset=self.onset,
            evidence=self.evidence,
        )


class ActionRow(Base):
    """One remediation step, created once per idempotency key."""

    __tablename__ = "actions"
    __table_args__ = (
        CheckConstraint(_one_of("mode", ACTION_MODES), name="mode"),
        Index(None, "status"),
        Index(None, "incident_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    incident_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("incidents.id", ondelete="SET NULL")
    )
    policy: Mapped[str]
    step: Mapped[str]
    target: Mapped[str]
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int]
    retryable: Mapped[bool]  # whether the last error may be retried
    error: Mapped[str | None]
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[float]
    updated_at: Mapped[float]


class AuditRow(Base):
    """One decision, refusal or call. Append-only: the database rejects UPDATE and DELETE."""

    __tablename__ = "audit"
    __table_args__ = (Index(None, "at"), Index(None, "subject"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[float]
    actor: Mapped[str]
    action: Mapped[str]
    subject: Mapped[str]
    decision: Mapped[str]
    reason: Mapped[str]
    data: Mapped[dict[str, Any]] = mapped_column(Json)
