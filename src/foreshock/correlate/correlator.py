"""Alerts, findings and events become incidents: one per cause.

Every firing of an alert goes to exactly one incident (an alert that fires again after it
resolved is a new firing: a job's stall refires for each fault that stalls the job). In time
order, each new firing (deduplicated on its fingerprint and start) joins the recent incident
whose current top cause explains its entity (reaches it along propagation relations, or stalls
the synchronous job it belongs to); failing that, the incident whose causes, re-ranked with the
new symptom, explain both it and most of what the incident held (two NICs under one leaf
switch become one incident about the switch); failing that, it starts an incident of its own.
Two faults that overlap in time stay apart because neither's cause explains the other's
symptoms, nor those that began well before it showed anything. An incident resolves when all
of its alerts have, and reopens if one fires again soon after.

Decisions depend only on the order of the alerts, never on how they were batched: feeding them
one by one in time order (the service) or all at once (`foreshock incidents`) gives the same
incidents.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from foreshock.correlate.group import Group, Member
from foreshock.correlate.render import render
from foreshock.diagnose.rank import AT_ONCE, CauseRanker, Symptom, ranker_for
from foreshock.diagnose.signs import alert_signs, classify
from foreshock.diagnose.symptoms import GENERIC_DETECTORS, LOOKBACK, SEVERITY, WEIGHT
from foreshock.model import Alert, Finding, Incident
from foreshock.topology import Topology

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


class Correlator:
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
        self._where: dict[int, tuple[int, np.ndarray]] = {}  # group → (grown, entity indices)
        self._upstream: dict[int, np.ndarray] = {}  # entity → what could reach it
        self._acted: dict[int, Acts] = {}  # group → what its cause shows itself, as it grows

    # --- input --------------------------------------------------------------------------

    def feed(self, alerts: Iterable[Alert] = (), findings: Iterable[Finding] = ()) -> list[str]:
        """Take alerts and findings (in any order within the call; they are placed in time
        order) and return the ids of the incidents they created or changed."""
        items: list[tuple[float, str, Member]] = []
        for a in alerts:
            items.append((a.starts_at, a.fingerprint, self._alert_member(a)))
        for f in findings:
            if f.detector in GENERIC_DETECTORS:
                continue  # any change of any gauge: shown, never evidence
            m = self._finding_member(f)
            items.append((m.start, m.key, m))
        items.sort(key=lambda x: (x[0], x[1]))
        changed = []
        for _, _, member in items:
            g = self._place(member)
            if g is not None:
                changed.append(f"inc-{g.number}")
        changed += [f"inc-{n}" for n in self.touched]
        self.touched.clear()
        return sorted(set(changed), key=lambda s: int(s[4:]))

    def _alert_member(self, a: Alert) -> Member:
        entity = a.entity or self.topo.map_labels(a.labels)
        if entity is not None:
            self._see(entity)
        name = a.labels.get("alertname", "")
        weight = SEVERITY.get(a.labels.get("severity", "warning").lower(), 0.5)
        symptom = (
            Symptom(entity, a.starts_at, weight, name, alert_signs(name, a.labels.get("xid")))
            if entity is not None
            else None
        )
        end = a.ends_at if a.status == "resolved" else None
        xid = a.labels.get("xid", "")
        return Member(
            a.fingerprint,
            entity,
            a.starts_at,
            end,
            symptom,
            True,
            int(xid) if xid.isdigit() else None,
            name,
        )

    def _finding_member(self, f: Finding) -> Member:
        key = f"finding:{f.kind}:{f.detector}:{f.entity}:{f.metric}"
        start = f.onset if f.onset is not None else f.raised_at
        symptom = None
        if f.entity is not None and f.entity in self.topo:
            self._see(f.entity)
            symptom = Symptom(
                f.entity,
                start,
                WEIGHT * f.score,
                f.metric,
                classify([f.metric]),
                f.kind == "prediction",
            )
        return Member(key, f.entity, start, None, symptom, False, None, f.metric)

    def _see(self, entity: str) -> None:
        if entity in self.topo:
            kind = self.topo.kind_of(entity)
            if kind not in self._kinds:
                self._kinds.add(kind)
                self.observable |= self.topo.kind_mask(kind)
                self._seen_version += 1

    # --- placement ----------------------------------------------------------------------

    def _place(self, m: Member) -> Group | None:
        known = self.by_key.get(m.key)
        if known is not None:
            old = known.members[m.key]
            if old.end is None or m.start <= old.end:
                return self._update(known, m)
            # The same alert firing again after it resolved is a new occurrence, and may have
            # another cause: a job's stall alerts fire anew for every fault that stalls it.
            m = replace(m, key=f"{m.key}@{m.start:.0f}", fingerprint=m.key)
            known = self.by_key.get(m.key)
            if known is not None:
                return self._update(known, m)
        if not m.is_alert:
            # Findings enrich the incident they fall into; alone they are not an incident
            # (they are stored and shown as findings), so a noisy detector cannot page anyone.
            g = self._join_existing(m)
            if g is not None:
                self.by_key[m.key] = g
            elif m.symptom is not None and m.symptom.warns:
                self._forewarned.append(m)
            return g
        g = self._join_existing(m)
        if g is None:
            # Nothing current explains it: a lone alert that comes and goes rejoins its own.
            g = self._flapping(m)
            if g is not None:
                g.add(m)
            else:
                g = self._new(m)
        self.by_key[m.key] = g
        return g

    def _update(self, g: Group, m: Member) -> Group | None:
        old = g.members[m.key]
        if old.end == m.end:
            return None
        was = g.resolve(m.key, m.end)
        acts = self._acted.get(g.number)
        if acts is not None and m.key in acts.live:
            acts.live.discard(m.key)
            if m.end is None:
                acts.live.add(m.key)
            else:
                acts.done = max(acts.done, m.end, was.start)
        elif acts is not None and was.end is not None:
            del self._acted[g.number]  # a counted end moved: count again
        return g

    def _active(self, t: float) -> list[Group]:
        out = []
        for g in reversed(self.groups):
            if g.last < t - self.window:
                continue
            end = g.end
            if end is None or end >= t - self.reopen:
                out.append(g)
        return out

    def _join_existing(self, m: Member) -> Group | None:
        if m.entity is None or m.entity not in self.topo:
            return self._join_unmapped(m)
        i = self.topo.index(m.entity)
        again = self._again(m, i)
        if again is not None:
            again.add(m)
            return again
        active = self._active(m.start)
        waits = m.symptom is not None and m.symptom.signs == {"stall"}
        kept: Group | None = None
        for g in active:
            # An entity already in an incident stays there, unless the incident's cause
            # cannot have done what it shows now (a GPU its job's stall brought in, that now
            # overheats) or it shows another kind of trouble than it did there, which a
            # cause that explains it better may claim first (a GPU that reported XID 48, now
            # hot in a row whose cooling failed).
            if m.entity in g.entities and (g.reach is None or self._explained(g, m, i)):
                if waits and not self._acting(g, m.start):
                    continue
                if self._same_trouble(g, m):
                    g.add(m)
                    return g
                kept = kept or g
        # A wait goes to the strongest cause that explains it and still acts: a job stalls
        # for the GPU that reported XID 48, not for a NIC's symbol errors beside it.
        best: Group | None = None
        for g in active:
            if g.dead:
                continue
            if self._ensure_ranked(g, m.start, active):
                self._absorb(g, active)
            if self._explained(g, m, i) and not self._late(g, m, i):
                if not waits:
                    g.add(m)
                    if g.taken is not None and g.taken[i] and self._witness(g, m):
                        g.took = min(g.took, m.start)
                    return g
                if self._acting(g, m.start) and (best is None or _llr(g) > _llr(best)):
                    best = g
        if best is not None and not best.dead:
            best.add(m)
            return best
        if kept is not None and not kept.dead:
            kept.add(m)
            return kept
        if m.symptom is None:
            return None
        ongoing = self._ongoing(m, i, active)
        if ongoing is not None:
            ongoing.add(m)
            return ongoing
        twins = self._twins(m, i, active)
        if twins is not None:
            return twins
        alone: float | None = None
        # The largest recent incidents first, and only a few: in a storm that has not yet
        # found its cause, each alert is tried against the likeliest merges, not all.
        tried = 0
        for g in sorted(active, key=lambda g: (-len(g.entities), -g.number)):
            if g.dead or not g.entities or not g.causes or tried >= TRIALS:
                continue
            top = g.causes[0].entity
            near = [e for e in self.topo.common_upstream([m.entity, top]) if e != top]
            if not near:
                continue
            # A merge through the same common cause that failed for this incident is not
            # retried until the incident has grown by half: in a storm, the alerts of one
            # branch all ask the same question.
            key = (top, frozenset(near))
            if len(g.entities) < 1.5 * g.failed.get(key, 0):
                continue
            tried += 1
            cands = np.array(sorted({self.topo.index(e) for e in near} | {self.topo.index(top)}))
            cands = cands[~self.ranker.grouping[cands]]
            busy = self._busy(active, g)
            rank = self.ranker.rank
            start = g.start - 60
            union = rank(
                [*g.symptoms(), m.symptom],
                self.observable,
                len(cands),
                start,
                now=m.start,
                busy=busy,
                candidates=cands,
            )
            if not union or union[0].entity == top:
                g.failed[key] = len(g.entities)
                continue
            reach, direct = self._explains(union[0].entity)
            # Reached directly, not only through a job both happen to share.
            inside = sum(direct[self.topo.index(e)] for e in g.entities if e in self.topo)
            if not reach[i] or inside < SHARE * len(g.entities):
                g.failed[key] = len(g.entities)
                continue
            if not self._fits(g, union[0].entity, m):
                continue  # about this alert, not the incident: others may still merge
            # One cause for both, against two independent ones starting together.
            current = rank(
                g.symptoms(),
                self.observable,
                1,
                start,
                now=m.start,
                busy=busy,
                candidates=np.array([self.topo.index(top)]),
            )
            if alone is None:
                own = rank(
                    [m.symptom],
                    self.observable,
                    1,
                    m.start - 60,
                    now=m.start,
                    busy=busy,
                    candidates=self._local(i),
                )
                alone = own[0].llr if own else 0.0
            if union[0].llr <= current[0].llr + alone - COINCIDENCE:
                g.failed[key] = len(g.entities)
                continue
            g.add(m)
            g.causes = union
            self._explained_by_top(g, (reach, direct))
            self._absorb(g, active)
            return g
        return None

    @staticmethod
    def _same_trouble(g: Group, m: Member) -> bool:
        """Whether the member shows what the incident already showed on its entity (or names
        no kind of trouble)."""
        signs = m.symptom.signs - {"stall"} if m.symptom is not None else frozenset()
        return not signs or any(
            x.symptom is not None and x.symptom.signs & signs for x in g.on(m.entity or "")
        )

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
                assert x.symptom is not None
                acts.shown |= x.symptom.signs - {"stall"}
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
            and x.symptom is not None
            and bool(x.symptom.signs - {"stall"})
            and x.entity is not None
            and x.entity in self.topo
            and bool(g.direct[self.topo.index(x.entity)])
        )

    def _fits(self, g: Group, cause: str, m: Member) -> bool:
        """Whether the alert shows the kind of trouble the cause (or a part inside it) makes,
        as joining an incident asks (step 3): two NICs' error counters in one row are not
        that row's cooling unit failing, although it reaches both, nor is a link that drops
        there without having run hot."""
        signs = m.symptom.signs - {"stall"} if m.symptom is not None else frozenset()
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
        signs = m.symptom.signs - {"stall"} if m.symptom is not None else frozenset()
        mech = self.ranker.mechanism[self.topo.index(g.causes[0].entity)]
        return bool(signs) and (mech is None or bool(signs & mech))

    def _late(self, g: Group, m: Member, i: int) -> bool:
        """What the cause takes outright (power, containment) goes at once: a part it takes
        that first shows a window after the first part it took failed for another reason (a
        NIC whose cable goes bad twenty minutes into a UPS outage that spared it). The cause
        may warn long before it takes anything (a UPS on battery)."""
        return g.taken is not None and bool(g.taken[i]) and m.start > g.took + self.window

    def _flapping(self, m: Member) -> Group | None:
        """The incident of an alert's earlier firing, when nothing current explains the new
        one and it fires within FLAP of that incident resolving: one part's warning that
        comes and goes is one problem, not one incident per firing. Not a wait (a job stalls
        anew for each fault that stalls it), nor what the incident's cause took outright."""
        g = self.by_key.get(m.fingerprint) if m.fingerprint else None
        if g is None or g.dead:
            return None
        if m.symptom is not None and m.symptom.signs == {"stall"}:
            return None
        i = self.topo.index(m.entity) if m.entity is not None and m.entity in self.topo else -1
        if i >= 0 and g.taken is not None and g.taken[i]:
            return None  # taken outright, back, and down again: not the same cause (`_again`)
        end = g.end
        return g if end is None or m.start - end <= FLAP else None

    def _again(self, m: Member, i: int) -> Group | None:
        """The incident of an alert's previous occurrence, for an alert that fired again while
        that incident's cause still explains what it shows (a GPU that stays hot while its
        CDU is down). A wait is not: a job stalls anew for each fault that stalls it."""
        if not m.fingerprint or m.symptom is None or not (m.symptom.signs - {"stall"}):
            return None
        g = self.by_key.get(m.fingerprint)
        if g is None or g.dead:
            return None
        end = g.end
        if end is not None and end < m.start - self.reopen:
            return None
        if not self._explained(g, m, i):
            return None
        # What the cause takes outright (power, containment) cannot come back while the
        # cause lasts: if it recovered and failed again, something else failed it.
        if g.taken is None or g.taken[i] or i == self.topo.index(g.causes[0].entity):
            return None
        return g

    def _ongoing(self, m: Member, i: int, active: list[Group]) -> Group | None:
        """The incident in which the alert's part is still alerting of the same kind of trouble,
        however long ago that began, when its cause explains the new alert: a GPU whose
        correctable-error warning has fired for an hour and now reports XID 48 is one problem,
        not two incidents; the same GPU running hot is another. A wait does not keep a part in
        an incident (a job stalls anew for each fault)."""
        signs = m.symptom.signs - {"stall"} if m.symptom is not None else frozenset()
        if m.entity is None or not signs:
            return None
        for g in reversed(self.groups):
            if g.dead or g in active or m.entity not in g.entities:
                continue
            firing = any(
                (x.end is None or x.end >= m.start)  # a batch knows ends still to come
                and x.symptom is not None
                and x.symptom.signs & signs
                for x in g.on(m.entity)
            )
            if firing and g.reach is None:
                self._ensure_ranked(g, m.start, active)  # it may never have been, alone so long
            if firing and self._explained(g, m, i):
                return g
        return None

    def _twins(self, m: Member, i: int, active: list[Group]) -> Group | None:
        """The same alert on the other parts of one container at once (the eight
        GPUs of a node whose power supply sags, each braking): pairwise, each part explains
        itself as well as the container explains two; all together, the container wins.
        Those incidents and this alert become one when one cause for all beats each its own
        by the coincidence margin for every extra fault."""
        up = int(self.ranker.container[i])
        if up < 0 or m.fingerprint:
            return None  # an alert firing again has a history of its own (`_flapping`)
        if m.symptom is None or "thermal" in m.symptom.signs:
            # Heat reaches every part a cooling loop serves together: siblings warming at
            # once say little about their container.
            return None
        held = self.topo.id_at(up)
        for g in active:
            if g.taken is not None and g.taken[up] and held in g.entities:
                # The container is already taken by something above it: its parts are that
                # outage's (GPUs gone dark in a node that went down with its rack).
                return None
        twins = [
            h
            for h in active
            if not h.dead
            and h.causes
            and len(h.entities) == 1
            and abs(h.start - m.start) <= TOGETHER
            and all(x.name == m.name and not x.fingerprint for x in h.members.values())
            and all(
                e in self.topo and int(self.ranker.container[self.topo.index(e)]) == up
                for e in h.entities
            )
        ][:TRIALS]
        if not twins:
            return None
        assert m.symptom is not None
        assert m.entity is not None
        ids = [m.entity, *(e for h in twins for e in h.entities)]
        # The container and what holds it, and what else all of them share upstream.
        near = {self.topo.index(e) for e in self.topo.common_upstream(ids)}
        cands = np.array(sorted(near | set(self._local(up).tolist())), dtype=np.int64)
        cands = cands[~self.ranker.grouping[cands]]
        if not len(cands):
            return None
        busy = self._busy(active, twins[0])
        for h in twins:
            busy[[self.topo.index(e) for e in h.entities]] = False
        start = min(h.start for h in twins) - 60
        symptoms = [m.symptom, *(x for h in twins for x in h.symptoms())]
        union = self.ranker.rank(
            symptoms, self.observable, 1, start, now=m.start, busy=busy, candidates=cands
        )
        if not union:
            return None
        reach, direct = self._explains(union[0].entity)
        if not all(direct[self.topo.index(e)] for e in ids):
            return None
        apart = sum(
            own[0].llr
            for x in symptoms
            for own in [
                self.ranker.rank(
                    [x],
                    self.observable,
                    1,
                    x.first - 60,
                    now=m.start,
                    busy=busy,
                    candidates=self._local(self.topo.index(x.entity or m.entity)),
                )
            ]
            if own
        )
        if union[0].llr <= apart - COINCIDENCE * len(twins):
            return None
        g = twins[0]
        g.add(m)
        for h in twins[1:]:
            for key, member in h.members.items():
                g.add(member)
                self.by_key[key] = g
            self._retire(h, g)
        g.causes = union
        self._explained_by_top(g, (reach, direct))
        self.touched.add(g.number)
        return g

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
                mask[self._indices(h)] = True
        return mask

    def _elsewhere(self, active: list[Group], but: Group, what: str) -> np.ndarray | None:
        """Entities that showed heat (`hot`) or that they are down (`dark`) in the other
        recent incidents (None: none did)."""
        ids = [
            self.topo.index(e)
            for h in active
            if h is not but
            for e in getattr(h, what)
            if e in self.topo
        ]
        if not ids:
            return None
        mask = np.zeros(len(self.topo), dtype=bool)
        mask[ids] = True
        return mask

    def _indices(self, h: Group) -> np.ndarray:
        """The group's entities in the topology, as indices (worked out again only when an
        entity joined it)."""
        known = self._where.get(h.number)
        if known is None or known[0] != h.grown:
            ids = [self.topo.index(e) for e in h.entities if e in self.topo]
            known = self._where[h.number] = (h.grown, np.array(ids, dtype=np.int64))
        return known[1]

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
        self.groups.remove(h)
        self._built.pop(h.number, None)
        self._where.pop(h.number, None)
        self._acted.pop(h.number, None)

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
            and m.symptom.signs != {"stall"}
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
            if m.symptom is None or m.symptom.signs != {"stall"}:
                own = m.symptom.signs - {"stall"} if m.symptom is not None else frozenset()
                acting[m.entity] = acting.get(m.entity, frozenset()) | own
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

    def _join_unmapped(self, m: Member) -> Group | None:
        """Alerts that name no known entity group with each other by name, never with
        mapped ones: nothing says what they are symptoms of."""
        name = m.name
        for g in self._active(m.start):
            if not g.entities and g.extra_name == name:
                g.add(m)
                return g
        return None

    def _new(self, m: Member) -> Group:
        self._count += 1
        g = Group(number=self._count, start=m.start, last=m.start)
        g.extra_name = m.name if m.entity is None or m.entity not in self.topo else ""
        g.add(m)
        self._precursors(g, m)
        self.groups.append(g)
        return g

    def _precursors(self, g: Group, m: Member) -> None:
        """Predictions raised in the hour before a new incident on what could have caused its
        first alert join it as symptoms at its start, as `foreshock rca` counts them: a room
        unit whose supply air trended warm before a GPU it cools ran hot."""
        self._forewarned = [w for w in self._forewarned if w.start >= m.start - LOOKBACK]
        if not self._forewarned or m.entity is None or m.entity not in self.topo:
            return
        up = self.topo.upstream_indices([m.entity])
        for w in list(self._forewarned):
            i = self.topo.index(w.entity) if w.entity is not None else -1
            if w.start <= m.start and (w.entity == m.entity or i in up) and w.symptom:
                self._forewarned.remove(w)
                early = replace(w, start=m.start, symptom=replace(w.symptom, first=m.start))
                g.add(early)
                self.by_key[w.key] = g

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
        signs = m.symptom.signs - {"stall"} if m.symptom is not None else frozenset()
        if not signs:
            return True
        if g.direct is None or not g.direct[i]:
            return False
        c = self.topo.index(g.causes[0].entity)
        if i == self.ranker.container[c] and "device" not in signs:
            # A node's log reports its GPU's errors; the node (or rack) losing power or
            # going down is not its part's doing.
            return False
        mech = self.ranker.mechanism[c]
        if mech is not None and not signs & mech:
            return False
        return not self.ranker.delayed[c] or self._heated(g, m.entity, signs)

    def _heated(self, g: Group, entity: str | None, signs: frozenset[str]) -> bool:
        """Lost cooling raises temperatures, then throttles, then shuts down (spec/topology):
        a part it takes down showed heat first, itself or in what it holds. A link that
        drops in a room running warm, with no heat of its own, failed for another reason."""
        if "thermal" in signs or entity is None or entity in g.hot:
            return True
        i = self.topo.index(entity)
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

    # --- output -------------------------------------------------------------------------

    def incidents(self) -> list[Incident]:
        """Every incident, diagnosed with all it holds now."""
        out = []
        for g in self.groups:
            stale = self._rendered.get(g.number) != self._seen_version
            if g.changed or stale or g.number not in self._built:
                # Ranked for showing, apart from the cause joins are judged by: what the
                # incidents look like between two alerts must not change what later alerts
                # join, or the service (which shows them after every batch) and a batch run
                # would disagree.
                causes = (
                    self.ranker.rank(g.symptoms(), self.observable, top=5, start=g.start - 60)
                    if g.entities
                    else []
                )
                self._built[g.number] = render(self.topo, g, causes)
                self._rendered[g.number] = self._seen_version
                g.changed = False
            out.append(self._built[g.number])
        return out

    def incident(self, incident_id: str) -> Incident | None:
        n = int(incident_id.removeprefix("inc-"))
        return next((i for i in self.incidents() if i.id == f"inc-{n}"), None)


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


def _llr(g: Group) -> float:
    return g.causes[0].llr if g.causes else -math.inf


def correlate(
    topo: Topology, alerts: Sequence[Alert], findings: Sequence[Finding] = ()
) -> list[Incident]:
    """Batch: every alert and finding, in time order, through one correlator."""
    c = Correlator(topo)
    c.feed(alerts, findings)
    return c.incidents()
