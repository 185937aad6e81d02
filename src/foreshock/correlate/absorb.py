"""One incident taking in others once its cause has grown to explain them, and what stays
behind because that cause could never have done it."""

from __future__ import annotations

import math

import numpy as np

from foreshock.correlate.explain import Explaining
from foreshock.correlate.group import Group, Member
from foreshock.correlate.state import SHARE
from foreshock.diagnose.rank import AT_ONCE


class Absorbing(Explaining):
    def _absorb(self, g: Group, active: list[Group]) -> None:
        """Once a group's cause has grown to explain other recent groups (the PDU behind two
        racks that each started an incident), they become one."""
        assert g.reach is not None
        reach = g.reach
        # A larger incident is not swallowed by a smaller one whose cause happens to reach it
        # (a GPU's own alert, through its job, reaching a whole job's storm): the larger one's
        # own ranking decides whether it explains the smaller. Timing is judged only for those
        # the cause reaches at all, which in a storm is rarely any.
        near = [
            h
            for h in active
            if h is not g
            and h.entities
            and len(h.entities) <= len(g.entities)
            and sum(reach[self.topo.index(e)] for e in h.entities if e in self.topo)
            >= SHARE * len(h.entities)
        ]
        if not near:
            return
        onset = self._onset(g)
        assert g.taken is not None
        taken = g.taken.copy()
        taken[self.topo.index(g.causes[0].entity)] = True
        left: list[tuple[Group, dict[str, Member]]] = []
        for h in near:
            share, foreign = self._inside(g, h, onset, taken)
            if share < SHARE:
                continue
            # What the cause could never have done stays behind as an incident of its own (a
            # link that dropped amid a cooling unit's storm); the rest goes with the cause,
            # which may grow to explain it (the UPSes of one feed).
            stay = {k: m for k, m in h.members.items() if m.entity in foreign}
            for key, member in h.members.items():
                if key not in stay:
                    g.add(member)
                    self.by_key[key] = g
            if stay:
                left.append((h, stay))
                continue
            self._retire(h, g)
        for h, stay in left:
            self._keep_only(h, stay)

    def _retire(self, h: Group, into: Group) -> None:
        """A group whose members all went to another: it is merged into that one."""
        h.clear()
        h.dead = True
        self.merged[f"inc-{h.number}"] = f"inc-{into.number}"
        self._let_go(h)

    def _keep_only(self, h: Group, stay: dict[str, Member]) -> None:
        """A group the absorbing cause left some members of keeps them and looks for
        their cause again."""
        h.clear()
        h.start = h.last = min(m.start for m in stay.values())
        for m in stay.values():
            h.add(m)
        h.causes, h.failed = [], {}
        h.reach = h.direct = h.taken = None
        h.ranked_at, h.took = 0, math.inf
        self.touched.add(h.number)

    def _onset(self, g: Group) -> float:
        """When the group's cause first showed: its earliest symptom on what the cause reaches
        itself that is more than a wait."""
        assert g.direct is not None
        times = [
            m.start
            for m in g.members.values()
            if m.entity is not None
            and m.entity in self.topo
            and m.symptom is not None
            and not m.waits
            and g.direct[self.topo.index(m.entity)]
        ]
        return min(times, default=g.start)

    def _inside(
        self, g: Group, h: Group, onset: float, taken: np.ndarray
    ) -> tuple[float, set[str]]:
        """The share of h's entities g's cause explains or, if lower, of those that show
        more than a wait, and those of h's entities it could never have caused. The stalls
        of a job that a leaf switch's failure also stalls do not carry the GPU whose XID 48
        began them into the switch's incident.

        Whether the cause explains an entity depends on when it began, when the cause first
        showed (`onset`) and what the cause takes outright (`taken`: power, containment).
        What it only degrades (heat, links) may show long before anything else does. What
        it takes goes at once, and a job it stalls waits once it has failed: what showed
        well before had another cause (a rack's leak minutes before the UPS behind it
        failed). A wait it reaches only through a job must come after: a job spans racks,
        so through it nearly any cause reaches any storm (the stalls a CDU caused a minute
        before an NVSwitch of the same job failed)."""
        assert g.reach is not None
        assert g.direct is not None
        first: dict[str, float] = {}
        acting: dict[str, frozenset[str]] = {}  # entity → the signs it shows besides waiting
        for m in h.members.values():
            if m.entity is None or m.entity not in self.topo:
                continue
            first[m.entity] = min(first.get(m.entity, m.start), m.start)
            if not m.waits:
                acting[m.entity] = acting.get(m.entity, frozenset()) | m.trouble
        c = self.topo.index(g.causes[0].entity)
        mech, delayed = self._within(c), bool(self.ranker.delayed[c])
        hot = {e: frozenset({"thermal"}) if e in h.hot else frozenset() for e in acting}
        shown = self._acts(g)[1]  # what the cause shows itself
        inside: set[str] = set()
        foreign: set[str] = set()  # what the cause could never have done, whenever it began
        acts = 0
        for e, t in first.items():
            i = self.topo.index(e)
            if not g.reach[i]:
                continue
            if (
                e in acting
                and g.direct[i]
                and (
                    (mech is not None and acting[e] and not acting[e] & mech)
                    or (delayed and acting[e] and not self._heated(g, e, acting[e] | hot[e]))
                )
            ):
                # As in `_explained`: what the cause reaches shows what the cause does (a CDU
                # heats; it does not break DRAM).
                foreign.add(e)
                continue
            if e in acting and not g.direct[i]:
                # Reached only through a job, a part that shows the very trouble the cause
                # makes, at the same moment, is the same outage seen from a job (the racks of
                # a feed whose UPSes each alerted first); anything else there is not its doing
                # (a GPU's ECC warning in the job of another GPU that failed).
                makes = self.ranker.mechanism[c]  # its own, not its parts'
                same = (
                    makes is not None
                    and bool(acting[e])
                    and acting[e] <= makes & shown
                    and self._could_share(c, i, acting[e])
                )
                ok = same and t >= onset - AT_ONCE
                if not same:
                    foreign.add(e)
            elif e in acting and not taken[i]:
                ok = True
            elif e in acting or g.direct[i]:
                ok = t >= onset - AT_ONCE
            else:
                ok = t >= onset
            if ok:
                inside.add(e)
                acts += e in acting
        share = len(inside) / max(1, len(h.entities))
        return (min(share, acts / len(acting)) if acting else share), foreign
