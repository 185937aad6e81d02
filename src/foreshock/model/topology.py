"""Entities, relations and how faults travel along them (spec/topology.md)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class Propagation(enum.Enum):
    """How a fault of the `from` side reaches the `to` side of a relation."""

    TOTAL = "total"  # the dependent is lost at once (power, containment)
    DELAYED = "delayed"  # degrades after a lag (cooling: temperature, throttling, shutdown)
    DEGRADED = "degraded"  # slows or cuts what depends on it (links, NVLink, services)
    JOB = "job"  # a host's fault reaches its job; a synchronous job stalls on every member
    NONE = "none"  # documented but does not carry faults (configuration may declare these)

    @property
    def propagates(self) -> bool:
        return self is not Propagation.NONE


@dataclass(frozen=True, slots=True)
class RelationType:
    name: str
    propagation: Propagation
    help: str = ""
    # What a fault travelling this way looks like where it arrives (diagnose/signs.py names
    # the classes); empty means anything.
    signs: tuple[str, ...] = ()


DEFAULT_RELATION_TYPES: Mapping[str, RelationType] = MappingProxyType(
    {
        t.name: t
        for t in (
            RelationType(
                "contains",
                Propagation.TOTAL,
                "a failure of the container takes its contents",
                # Anything but link errors: those travel along links (connects, nvlinks).
                ("down", "power", "thermal", "device", "stall"),
            ),
            RelationType(
                "powers",
                Propagation.TOTAL,
                "loss of power takes everything downstream",
                ("power", "down"),
            ),
            RelationType(
                "cools",
                Propagation.DELAYED,
                "degraded cooling raises temperatures with a delay, then throttling, then shutdown",
                ("thermal", "down"),
            ),
            RelationType(
                "connects",
                Propagation.DEGRADED,
                "link errors and flaps slow or cut the traffic",
                ("network", "down"),
            ),
            RelationType(
                "nvlinks",
                Propagation.DEGRADED,
                "NVLink errors affect every GPU of the domain",
                ("network",),
            ),
            RelationType(
                "hosts",
                Propagation.JOB,
                "a fault of any host reaches the job; a synchronous job stalls on every member",
            ),
            RelationType("serves", Propagation.DEGRADED, "a failing service fails its callers"),
        )
    }
)


def _frozen_labels(labels: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(labels))


@dataclass(frozen=True, slots=True)
class Entity:
    """A thing in the fleet that can fail or suffer: rack, node, GPU, switch, CDU, job..."""

    id: str
    kind: str
    # Read-only view; excluded from hashing because mappings are not hashable.
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.labels, MappingProxyType):
            object.__setattr__(self, "labels", _frozen_labels(self.labels))

    @property
    def is_sync_job(self) -> bool:
        return self.kind == "job" and self.labels.get("sync") == "true"


@dataclass(frozen=True, slots=True)
class Relation:
    """A directed edge that points the way a fault travels: depended-on → dependent."""

    source: str
    target: str
    type: str
