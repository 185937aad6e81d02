"""What a correlator holds while it builds incidents, and the constants of its rules.

The correlator is split by what its methods do, each layer building on the one before:
`explain` (what an incident's cause explains), `absorb` (one incident taking in others),
`joins` (where a new alert goes when no current cause explains it) and `correlator` (the
order of the rules, input and output).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from foreshock.correlate.group import Group, Member
from foreshock.diagnose.rank import CauseRanker, ranker_for
from foreshock.model import Incident
from foreshock.topology import Topology

if TYPE_CHECKING:
    from foreshock.correlate.explain import Acts

WINDOW = 600.0  # an incident takes new alerts for this long after its latest one began
REOPEN = 300.0  # a resolved incident reopens if one of its alerts fires again this soon
SHARE = 0.5  # a re-ranked cause must explain this share of an incident's entities to merge
TRIALS = 8  # incidents an unexplained alert is tried against
# A part's alert firing again this soon after its incident resolved is the same problem:
# Alertmanager's default repeat_interval, after which it reminds of a problem still there.
FLAP = 4 * 3600.0
COINCIDENCE = math.log(10)
# Alerts of one event on sibling parts start within two 15 s scrapes of each other; heat that
# spreads part by part takes longer.
TOGETHER = 30.0  # two independent faults starting together are rarer than one
UPSTREAM_CACHE = 100_000  # entities whose upstream is kept


class State:
    """The incidents being built, how to find them, and what is kept worked out."""

    def __init__(self, topo: Topology, window: float = WINDOW, reopen: float = REOPEN) -> None:
        self.topo = topo
        self.ranker: CauseRanker = ranker_for(topo)
        self.window = window
        self.reopen = reopen
        self.groups: list[Group] = []
        self.by_key: dict[str, Group] = {}
        self.observable = np.zeros(len(topo), dtype=bool)
        self._kinds: set[str] = set()
        self._built: dict[int, Incident] = {}
        self._count = 0
        self.merged: dict[str, str] = {}  # incident id → the incident it was merged into
        self.touched: set[int] = set()  # groups that gave or took members since the last feed
        self._mech_within: dict[int, frozenset[str] | None] = {}
        self._seen_version = 0  # bumps when a new kind becomes observable
        self._rendered: dict[int, int] = {}  # group → the version it was rendered with
        # Predictions that joined no incident: the precursors of an incident yet to come.
        self._forewarned: list[Member] = []
        self._upstream: dict[int, np.ndarray] = {}  # entity → what could reach it
        self._acted: dict[int, Acts] = {}  # group → what its cause shows itself, as it grows
        # (group, "entities", "hot" or "dark") → (the set's epoch and size, their indices)
        self._marks: dict[tuple[int, str], tuple[tuple[int, int], np.ndarray]] = {}
        self.latest = -math.inf  # when the latest alert or finding began
        # Keys of occurrences whose incident was forgotten → when they ended.
        self._gone: dict[str, float] = {}
        # Kind → the kinds of trouble its entities have shown, as alerts were placed.
        self._shows: dict[str, frozenset[str]] = {}

    def _active(self, t: float) -> list[Group]:
        """The incidents that take new alerts at t, newest first."""
        out = []
        for g in reversed(self.groups):
            if g.last < t - self.window:
                continue
            end = g.end
            if end is None or end >= t - self.reopen:
                out.append(g)
        return out

    def _let_go(self, g: Group) -> None:
        """Drop a group from those being built, and all that is kept worked out for it."""
        self.groups.remove(g)
        for kept in (self._built, self._rendered, self._acted):
            kept.pop(g.number, None)
        for what in ("entities", "hot", "dark"):
            self._marks.pop((g.number, what), None)
