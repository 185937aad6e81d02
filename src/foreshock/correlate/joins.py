"""Where a new alert goes when no current cause explains it: the incident of its earlier
firing, the incident its part still alerts in, its siblings' incidents, or an incident whose
cause, re-ranked with it, explains both."""

from __future__ import annotations

import numpy as np

from foreshock.correlate.absorb import Absorbing
from foreshock.correlate.group import Group, Member
from foreshock.correlate.state import COINCIDENCE, FLAP, SHARE, TOGETHER, TRIALS


class Joining(Absorbing):
    def _again(self, m: Member, i: int) -> Group | None:
        """The incident of an alert's previous occurrence, for an alert that fired again while
        that incident's cause still explains what it shows (a GPU that stays hot while its
        CDU is down). A wait is not: a job stalls anew for each fault that stalls it."""
        if not m.fingerprint or not m.trouble:
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

    def _flapping(self, m: Member) -> Group | None:
        """The incident of an alert's earlier firing, when nothing current explains the new
        one and it fires within FLAP of that incident resolving: one part's warning that
        comes and goes is one problem, not one incident per firing. Not a wait (a job stalls
        anew for each fault that stalls it), nor what the incident's cause took outright."""
        g = self.by_key.get(m.fingerprint) if m.fingerprint else None
        if g is None or g.dead:
            return None
        if m.waits:
            return None
        i = self.topo.index(m.entity) if m.entity is not None and m.entity in self.topo else -1
        if i >= 0 and g.taken is not None and g.taken[i]:
            return None  # taken outright, back, and down again: not the same cause (`_again`)
        end = g.end
        return g if end is None or m.start - end <= FLAP else None

    def _ongoing(self, m: Member, i: int, active: list[Group]) -> Group | None:
        """The incident in which the alert's part is still alerting of the same kind of trouble,
        however long ago that began, when its cause explains the new alert: a GPU whose
        correctable-error warning has fired for an hour and now reports XID 48 is one problem,
        not two incidents; the same GPU running hot is another. A wait does not keep a part in
        an incident (a job stalls anew for each fault)."""
        signs = m.trouble
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

    def _union(self, m: Member, i: int, active: list[Group]) -> Group | None:
        """The incident whose causes, re-ranked with the alert over the nearest common upstream
        entities, explain both and most of what the incident held directly, when one cause
        beats two independent ones by the coincidence margin (step 6)."""
        assert m.symptom is not None
        assert m.entity is not None
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
