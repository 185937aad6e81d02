"""The domain: frozen dataclasses every stage shares."""

from foreshock.model.alert import Alert, fingerprint
from foreshock.model.blast import BlastRadius
from foreshock.model.event import Event
from foreshock.model.finding import Finding
from foreshock.model.incident import Action, Incident, RootCause, Suppression
from foreshock.model.samples import SampleBatch, Series
from foreshock.model.topology import (
    DEFAULT_RELATION_TYPES,
    Entity,
    Propagation,
    Relation,
    RelationType,
)

__all__ = [
    "DEFAULT_RELATION_TYPES",
    "Action",
    "Alert",
    "BlastRadius",
    "Entity",
    "Event",
    "Finding",
    "Incident",
    "Propagation",
    "Relation",
    "RelationType",
    "RootCause",
    "SampleBatch",
    "Series",
    "Suppression",
    "fingerprint",
]
