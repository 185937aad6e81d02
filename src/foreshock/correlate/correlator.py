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
from dataclasses import replace

from foreshock.correlate.group import Group, Member
from foreshock.correlate.joins import Joining
from foreshock.correlate.render import render
from foreshock.correlate.state import FLAP
from foreshock.diagnose.rank import Symptom
from foreshock.diagnose.signs import alert_signs, classify
from foreshock.diagnose.symptoms import GENERIC_DETECTORS, LOOKBACK, SEVERITY, WEIGHT
from foreshock.model import Alert, Finding, Incident
from foreshock.topology import Topology


class Correlator(Joining):
    """The rules in their order (`_join_existing`), input (`feed`) and output
    (`incidents`); what the rules ask of an incident lives in the layers below."""

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
        self.latest = max(self.latest, m.start)  # not its end: a batch knows ends to come
        if m.entity is not None:
            # Seen as placed, not as read: a batch must not know what a stream learns later.
            self._see(m.entity)
        if m.trouble and m.entity is not None and m.entity in self.topo:
            kind = self.topo.kind_of(m.entity)
            self._shows[kind] = self._shows.get(kind, frozenset()) | m.trouble
        if f"{m.key}@{m.start:.0f}" in self._gone:
            return None  # news of a later firing whose incident was forgotten
        if m.key in self._gone:
            if m.start <= self._gone[m.key]:
                return None  # news of an occurrence whose incident was forgotten
            del self._gone[m.key]
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
        if acts is not None and not acts.resolved(was, m.end):
            del self._acted[g.number]  # a counted end moved: count again
        return g

    def _join_existing(self, m: Member) -> Group | None:
        if m.entity is None or m.entity not in self.topo:
            return self._join_unmapped(m)
        i = self.topo.index(m.entity)
        again = self._again(m, i)
        if again is not None:
            again.add(m)
            return again
        active = self._active(m.start)
        waits = m.waits
        kept: Group | None = None
        for g in active:
            # An entity already in an incident stays there, unless the incident's cause
            # cannot have done what it shows now (a GPU its job's stall brought in, that now
            # overheats) or it shows another kind of trouble than it did there, which a
            # cause that explains it better may claim first (a GPU that reported XID 48, now
            # hot in a row whose cooling failed), and that no longer holds it once its trouble
            # there is over (`_still_shows`).
            if m.entity in g.entities and (g.reach is None or self._explained(g, m, i)):
                if waits and not self._acting(g, m.start):
                    continue
                if self._same_trouble(g, m):
                    g.add(m)
                    return g
                if self._still_shows(g, m):
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
        return self._union(m, i, active)

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

    def forget(self) -> list[Incident]:
        """Let go of the incidents no alert can join any more, and return them as they
        stand: all resolved more than FLAP before the latest alert, which is longer than any
        rule looks back. A service that runs for months keeps only what can still change (the
        state store keeps the rest); a batch never needs to call this."""
        horizon = self.latest - FLAP
        old = [
            g
            for g in self.groups
            if g.last < horizon and (end := g.end) is not None and end < horizon
        ]
        if not old:
            return []
        done = {g.number for g in old}
        shown = [i for i in self.incidents() if int(i.id.removeprefix("inc-")) in done]
        for g in old:
            for key, member in g.members.items():
                if self.by_key.get(key) is g:
                    del self.by_key[key]
                    self._gone[key] = member.end if member.end is not None else member.start
            self._let_go(g)
        # Occurrences forgotten for as long again cannot be news any more.
        self._gone = {k: t for k, t in self._gone.items() if t >= horizon - FLAP}
        return shown

    def incident(self, incident_id: str) -> Incident | None:
        n = int(incident_id.removeprefix("inc-"))
        return next((i for i in self.incidents() if i.id == f"inc-{n}"), None)


def _llr(g: Group) -> float:
    return g.causes[0].llr if g.causes else -math.inf


def correlate(
    topo: Topology, alerts: Sequence[Alert], findings: Sequence[Finding] = ()
) -> list[Incident]:
    """Batch: every alert and finding, in time order, through one correlator."""
    c = Correlator(topo)
    c.feed(alerts, findings)
    return c.incidents()
