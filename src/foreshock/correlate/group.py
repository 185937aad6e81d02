"""One open incident while it is being built: its members, its symptoms and its current cause.

The cause is re-ranked when the incident's symptomatic entities have doubled since the last
ranking (and whenever a join needed a new cause): often enough to follow a storm as it grows,
rarely enough that a 10,000-alert storm is ranked about fourteen times, not 10,000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from foreshock.diagnose.rank import Cause, Symptom


@dataclass
class Member:
    """An alert or a finding in an incident, by its key (the alert's fingerprint)."""

    key: str
    entity: str | None
    start: float
    end: float | None  # set once resolved
    symptom: Symptom | None
    is_alert: bool
    xid: int | None = None
    name: str = ""  # the alert name, or the finding's metric
    fingerprint: str = ""  # the alert's, where the key names one of its occurrences

    @property
    def trouble(self) -> frozenset[str]:
        """The kinds of trouble it shows besides waiting (empty: it only waits, or names no
        kind of trouble)."""
        return self.symptom.signs - {"stall"} if self.symptom is not None else frozenset()

    @property
    def waits(self) -> bool:
        """Whether all it shows is that its job waits (an NCCL watchdog, a stalled job)."""
        return self.symptom is not None and self.symptom.signs == {"stall"}

    @property
    def ident(self) -> str:
        """What the incident lists: the alert's fingerprint, or the finding's key."""
        return self.fingerprint or self.key


@dataclass(eq=False)  # one incident is itself: comparing two field by field is needless work
class Group:
    number: int
    start: float
    last: float  # when the latest member began
    members: dict[str, Member] = field(default_factory=dict)
    causes: list[Cause] = field(default_factory=list)
    reach: np.ndarray | None = None  # mask of what the top cause explains
    direct: np.ndarray | None = None  # of those, what it reaches itself (not by a job's stall)
    taken: np.ndarray | None = None  # of those, what it takes outright (power, containment)
    took: float = math.inf  # when the first part the top cause takes showed
    ranked_at: int = 0  # symptomatic entities when last ranked
    entities: set[str] = field(default_factory=set)
    changed: bool = True
    dead: bool = False  # absorbed into another group
    # (top cause, common upstream) → entities when a merge through it last failed
    failed: dict[tuple[str, frozenset[str]], int] = field(default_factory=dict)
    extra_name: str = ""  # for incidents of unmapped alerts: the alert name they share
    hot: set[str] = field(default_factory=set)  # entities that showed heat
    dark: set[str] = field(default_factory=set)  # entities that showed they are down
    ranks: int = 0  # bumps whenever what the top cause explains is set
    epoch: int = 0  # bumps whenever the members are cleared
    order: list[str] = field(default_factory=list)  # members' keys, as they joined
    keys_at: dict[str, list[str]] = field(default_factory=dict)  # entity → its members' keys

    @property
    def open(self) -> bool:
        return any(m.end is None for m in self.members.values())

    @property
    def end(self) -> float | None:
        if self.open or not self.members:
            return None
        return max(m.end or m.start for m in self.members.values())

    def symptoms(self) -> list[Symptom]:
        return [m.symptom for m in self.members.values() if m.symptom is not None]

    def on(self, entity: str) -> list[Member]:
        """The members on one entity."""
        return [self.members[k] for k in self.keys_at.get(entity, ())]

    def resolve(self, key: str, end: float | None) -> Member:
        """Set a member's end; returns it as it was."""
        old = self.members[key]
        self.members[key] = replace(old, end=end)
        self.changed = True
        return old

    def clear(self) -> None:
        self.members, self.keys_at, self.order = {}, {}, []
        self.entities, self.hot, self.dark = set(), set(), set()
        self.epoch += 1

    def add(self, member: Member) -> None:
        if member.key not in self.members:
            self.order.append(member.key)
            if member.entity is not None:
                self.keys_at.setdefault(member.entity, []).append(member.key)
        self.members[member.key] = member
        self.last = max(self.last, member.start)
        self.start = min(self.start, member.start)
        if member.entity is not None:
            self.entities.add(member.entity)
            if member.symptom is not None and "thermal" in member.symptom.signs:
                self.hot.add(member.entity)
            if member.symptom is not None and "down" in member.symptom.signs:
                self.dark.add(member.entity)
        self.changed = True

    def needs_ranking(self) -> bool:
        return not self.causes or len(self.entities) >= 2 * max(1, self.ranked_at)
