"""What an incident's cause explains: which parts it reaches and takes, which symptoms look
like its doing, whether it still acts, and its ranking."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from foreshock.correlate.group import Group, Member
from foreshock.correlate.state import UPSTREAM_CACHE, State


@dataclass
class Acts:
    """What a group's cause shows on what it reaches itself, kept up as members join and
    resolve, for one ranking (`ranks`) and one set of members (`epoch`)."""

    ranks: int
    epoch: int
    seen: int = 0  # members (in joining order) counted
    live: set[str] = field(default_factory=set)  # of those, the ones still firing
    done: float = -math.inf  # when the latest of the others began or ended
    shown: set[str] = field(default_factory=set)  # the kinds of trouble they show

    def valid_for(self, g: Group) -> bool:
        return self.ranks == g.ranks and self.epoch == g.epoch

    def resolved(self, was: Member, end: float | None) -> bool:
        """Take a member's new end; False when it cannot be taken in (a counted end moved)."""
        if was.key in self.live:
            if end is not None:
                self.live.discard(was.key)
                self.done = max(self.done, end, was.start)
            return True
        return was.end is None


class Explaining(State):
    def _ensure_ranked(self, g: Group, now: float, active: list[Group]) -> bool:
        if not (g.entities and g.needs_ranking()):
            return False
        g.causes = self.ranker.rank(
            g.symptoms(),
            self.observable,
            top=5,
            start=g.start - 60,
            now=now,
            busy=self._busy(active, g),
            heat_elsewhere=self._elsewhere(active, g, "hot"),
            dark_elsewhere=self._elsewhere(active, g, "dark"),
        )
        self._explained_by_top(g)
        return g.reach is not None

    def _explained(self, g: Group, m: Member, i: int) -> bool:
        """Whether the group's cause explains this member: it reaches the member's entity
        and the symptom looks like what the cause does there. A member of a job the cause
        stalls is explained only by waiting: one that is down, hot or erroring has a cause of
        its own (a CDU's GPUs that throttle in a job a leaf switch stalled)."""
        if g.reach is None or not g.reach[i] or not g.causes:
            return False
        signs = m.trouble
        if not signs:
            return True
        if g.direct is None or not g.direct[i]:
            return False
        c = self.topo.index(g.causes[0].entity)
        if i == self.ranker.container[c] and not (
            "device" in signs and signs & self._shown_by_kind(c)
        ):
            # A node's log reports its GPU's errors; the node (or rack) losing power or
            # going down is not its part's doing, nor are a GPU's XIDs a NIC's.
            return False
        mech = self.ranker.mechanism[c]
        if mech is not None and not signs & mech:
            return False
        return not self.ranker.delayed[c] or self._heated(g, m.entity, signs)

    def _shown_by_kind(self, c: int) -> frozenset[str]:
        """The kinds of trouble parts of c's kind have shown so far, anywhere: what a part
        of that kind is known to be able to show."""
        return self._shows.get(self.topo.kind_of(self.topo.id_at(c)), frozenset())

    def _heated(self, g: Group, entity: str | None, signs: frozenset[str]) -> bool:
        """Lost cooling raises temperatures, then throttles, then shuts down (spec/topology):
        a part it takes down showed heat first, itself or in what it holds. A link that
        drops in a room running warm, with no heat of its own, failed for another reason."""
        if "thermal" in signs or entity is None or entity in g.hot:
            return True
        i = self.topo.index(entity)
        if signs == {"down"} and any(
            self.topo.id_at(up) in g.hot for up in self._local(i)[1:].tolist()
        ):
            # A part that only went dark (a GPU that shut down, its metrics gone) in an
            # enclosure that ran hot: the heat it showed is its rack's coolant or air.
            return True
        for e in g.hot:
            up = int(self.ranker.container[self.topo.index(e)])
            while up >= 0:
                if up == i:
                    return True
                up = int(self.ranker.container[up])
        return False

    def _explained_by_top(
        self, g: Group, known: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:
        """Set what the group's current top cause explains, after a ranking."""
        g.ranked_at = len(g.entities)
        g.ranks += 1
        if not g.causes:
            g.reach = g.direct = g.taken = None
            return
        cause = g.causes[0].entity
        g.reach, g.direct = known or self._explains(cause)
        if known is None and cause not in g.entities:
            self._or_its_siblings(g, cause)
        g.taken = np.zeros(len(self.topo), dtype=bool)
        g.taken[self.ranker.reach_of(self.topo.index(cause)).taken[:-1]] = True  # not itself
        g.took = min(
            (
                m.start
                for m in g.members.values()
                if m.entity is not None
                and m.entity in self.topo
                and g.taken[self.topo.index(m.entity)]
                and self._witness(g, m)
            ),
            default=math.inf,
        )

    def _or_its_siblings(self, g: Group, cause: str) -> None:
        """A cause suspected only from its container's log (an XID 79 whose PCI address no
        series or inventory names) may be any of the container's parts of its kind: until one
        of them shows trouble itself, the incident explains what any of them would (the GPU
        whose metrics then vanish)."""
        assert g.reach is not None
        assert g.direct is not None
        c = self.topo.index(cause)
        up = int(self.ranker.container[c])
        if up < 0 or self.topo.id_at(up) not in g.entities:
            return
        logged = any(
            x.symptom is not None and "device" in x.symptom.signs for x in g.on(self.topo.id_at(up))
        )
        if not logged:
            return
        kind = self.ranker.kind_code
        siblings = np.flatnonzero((self.ranker.container == up) & (kind == kind[c]))
        if any(self.topo.id_at(s) in g.entities for s in siblings.tolist()):
            return  # one of them shows trouble itself: the log is likely about that one
        reach, direct = g.reach.copy(), g.direct.copy()
        for s in siblings.tolist():
            r, d = self._explains(self.topo.id_at(s))
            reach |= r
            direct |= d
        g.reach, g.direct = reach, direct

    def _explains(self, cause: str) -> tuple[np.ndarray, np.ndarray]:
        """What a cause explains (what it reaches, its container whose logs report it, and
        the members of the synchronous jobs it stalls), and of that what it reaches directly
        (all but the stalled members)."""
        topo = self.topo
        c = topo.index(cause)
        reach = self.ranker.reach_of(c)
        direct = np.zeros(len(topo), dtype=bool)
        direct[reach.reach] = True
        up = int(self.ranker.container[c])
        if up >= 0:
            direct[up] = True
        mask = direct.copy()
        mask[reach.spread] = True
        return mask, direct

    def _fits(self, g: Group, cause: str, m: Member) -> bool:
        """Whether the alert shows the kind of trouble the cause (or a part inside it) makes,
        as joining an incident asks (step 3): two NICs' error counters in one row are not
        that row's cooling unit failing, although it reaches both, nor is a link that drops
        there without having run hot."""
        signs = m.trouble
        c = self.topo.index(cause)
        within = self._within(c)
        if signs and within is not None and not signs & within:
            return False
        return not signs or not self.ranker.delayed[c] or self._heated(g, m.entity, signs)

    def _within(self, c: int) -> frozenset[str] | None:
        """What a cause or a part inside it can do: a node whose log reported NVLink errors
        first stands for the NVSwitch inside it until the incident is ranked again."""
        if c not in self._mech_within:
            parts = self.topo.downstream_indices(self.topo.id_at(c), ["contains"])
            mechs = [self.ranker.mechanism[c], *(self.ranker.mechanism[p] for p in parts)]
            known = [m for m in mechs if m is not None]
            self._mech_within[c] = None if len(known) < len(mechs) else frozenset().union(*known)
        return self._mech_within[c]

    def _witness(self, g: Group, m: Member) -> bool:
        """Whether a member shows what its cause does (a node down under a lost feed), not
        only that it is in the incident (a disk filling up, a wait)."""
        signs = m.trouble
        mech = self.ranker.mechanism[self.topo.index(g.causes[0].entity)]
        return bool(signs) and (mech is None or bool(signs & mech))

    def _late(self, g: Group, m: Member, i: int) -> bool:
        """What the cause takes outright (power, containment) goes at once: a part it takes
        that first shows a window after the first part it took failed for another reason (a
        NIC whose cable goes bad twenty minutes into a UPS outage that spared it). The cause
        may warn long before it takes anything (a UPS on battery)."""
        return g.taken is not None and bool(g.taken[i]) and m.start > g.took + self.window

    @staticmethod
    def _same_trouble(g: Group, m: Member) -> bool:
        """Whether the member shows what the incident already showed on its entity (or names
        no kind of trouble)."""
        signs = m.trouble
        return not signs or any(
            x.symptom is not None and x.symptom.signs & signs for x in g.on(m.entity or "")
        )

    def _still_shows(self, g: Group, m: Member) -> bool:
        """Whether the member's entity still shows its trouble in the incident: firing, or
        resolved too recently to have been over. A GPU whose memory errors all cleared ten
        minutes ago, which now throttles in a row whose cooling fails, is done with them."""
        return any(x.end is None or x.end >= m.start - self.reopen for x in g.on(m.entity or ""))

    def _acting(self, g: Group, t: float) -> bool:
        """Whether the group's cause still shows, at t, more than waits on what it reaches
        itself: firing, or begun within the window. A job that stalls an hour after the GPU
        that once stalled it recovered waits for something else."""
        if g.direct is None:
            return True
        return self._acts(g)[0] >= t - self.window

    def _acts(self, g: Group) -> tuple[float, frozenset[str]]:
        """When the group's cause last showed more than waits on what it reaches itself (inf:
        it still does), and the kinds of trouble it showed there; kept until a member joins
        or resolves or the group is ranked again."""
        acts = self._acted.get(g.number)
        if acts is None or not acts.valid_for(g):
            acts = self._acted[g.number] = Acts(g.ranks, g.epoch)
        for key in g.order[acts.seen :]:
            x = g.members[key]
            if self._qualifies(g, x):
                acts.shown |= x.trouble
                if x.end is None:
                    acts.live.add(key)
                else:
                    acts.done = max(acts.done, x.end, x.start)
        acts.seen = len(g.order)
        return (math.inf if acts.live else acts.done), frozenset(acts.shown)

    def _qualifies(self, g: Group, x: Member) -> bool:
        """Whether a member shows more than a wait on what the group's cause reaches itself."""
        return (
            g.direct is not None
            and bool(x.trouble)
            and x.entity is not None
            and x.entity in self.topo
            and bool(g.direct[self.topo.index(x.entity)])
        )

    def _could_share(self, c: int, i: int, signs: frozenset[str]) -> bool:
        """Whether something upstream of both the cause and the part can make the trouble the
        part shows: the racks of two UPSes going down share the feed behind them, but two
        nodes reporting GPU XIDs share nothing that breaks GPUs."""
        both = np.intersect1d(self._upstream_of(c), self._upstream_of(i), assume_unique=True)
        mech = self.ranker.mechanism
        return any(
            (known := mech[int(u)]) is not None and signs <= known
            for u in both[~self.ranker.grouping[both]]
        )

    def _upstream_of(self, i: int) -> np.ndarray:
        known = self._upstream.get(i)
        if known is None:
            if len(self._upstream) > UPSTREAM_CACHE:
                self._upstream.clear()
            known = self._upstream[i] = self.topo.upstream_indices([self.topo.id_at(i)])
        return known

    def _local(self, i: int) -> np.ndarray:
        """An entity and its containers: where a symptom's own explanation lies."""
        out = [i]
        up = int(self.ranker.container[i])
        while up >= 0:
            out.append(up)
            up = int(self.ranker.container[up])
        idx = np.array(out, dtype=np.int64)
        return idx[~self.ranker.grouping[idx]]

    def _busy(self, active: list[Group], but: Group) -> np.ndarray:
        """Entities with symptoms in the other recent incidents."""
        mask = np.zeros(len(self.topo), dtype=bool)
        for h in active:
            if h is not but:
                mask[self._marked(h, "entities")] = True
        return mask

    def _elsewhere(self, active: list[Group], but: Group, what: str) -> np.ndarray | None:
        """Entities that showed heat (`hot`) or that they are down (`dark`) in the other
        recent incidents (None: none did)."""
        parts = [self._unexplained(h, what) for h in active if h is not but]
        parts = [p for p in parts if p.size]
        if not parts:
            return None
        mask = np.zeros(len(self.topo), dtype=bool)
        for p in parts:
            mask[p] = True
        return mask

    def _unexplained(self, h: Group, what: str) -> np.ndarray:
        """What a group marks (`hot`, `dark`), but for the heat its cooling cause already
        explains: a row whose coolant failed is no evidence for a room unit that also cools
        one of its racks."""
        marked = self._marked(h, what)
        if what != "hot" or h.reach is None or not h.causes or not marked.size:
            return marked
        if not self.ranker.delayed[self.topo.index(h.causes[0].entity)]:
            return marked
        outside: np.ndarray = marked[~h.reach[marked]]
        return outside

    def _marked(self, h: Group, what: str) -> np.ndarray:
        """The indices of a group's `entities`, or of those `hot` or `dark`, worked out again
        only when the set has changed (it only grows, until the group is cleared)."""
        marked: set[str] = getattr(h, what)
        key = (h.number, what)
        known = self._marks.get(key)
        if known is None or known[0] != (h.epoch, len(marked)):
            ids = np.array([self.topo.index(e) for e in marked if e in self.topo], dtype=np.int64)
            known = self._marks[key] = ((h.epoch, len(marked)), ids)
        return known[1]
