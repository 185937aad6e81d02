"""Rank the root causes of an incident over the topology.

Every entity upstream of a symptom is a candidate, including those with no telemetry and no
alert of their own (a leaf switch, an NVSwitch, a PDU). Each candidate is a hypothesis, scored
as a log-likelihood ratio against "these symptoms are unrelated background":

- what a candidate reaches is expected to show symptoms with a probability that depends on how
  the fault travels (spec/topology.md): power and containment take their targets outright, so
  those show almost surely and at once; cooling, links and NVLink only degrade theirs, so many
  stay quiet; a synchronous job's stall shows on every member whichever member failed, so those
  symptoms confirm a cause without singling one out;
- a symptom it reaches is evidence for it, an *observable* entity it reaches that stays quiet is
  evidence against it, unless something that contains that entity shows a symptom (a node that
  is down does not report its GPUs: the node's alert stands for them);
- causes come first: the earliest symptoms are on the cause, its container or what it reaches
  first; fault priors per kind (domain/gpu-failures.md) break near-ties, and of two equal
  explanations the narrower one wins.

Large incidents (thousands of symptomatic entities) are ranked in two passes: a sample of the
symptoms estimates which candidates cover most of them, and only those, with every candidate
that has a symptom of its own among the earliest, are scored in full.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from foreshock.model import Propagation
from foreshock.topology import Topology

# Chance that an entity a fault reaches shows a symptom, by how the fault travels there, and
# the chance that an unrelated entity shows one in the same window.
P_TOTAL = 0.9
P_DEGRADED = 0.3
P_DELAYED = 0.1  # cooling: most of what it reaches warms without alarm for many minutes
P_JOB = 0.9
P_BACKGROUND = 0.01
# Relative fault rates per kind (domain/gpu-failures.md §4: GPUs fail far more often than
# switches, switches than power equipment). Unknown kinds get a low default.
PRIORS: Mapping[str, float] = {
    "gpu": 1.0,
    "node": 0.6,
    "nic": 0.3,
    "nvswitch": 0.1,
    "nvlink_domain": 0.05,
    "switch": 0.1,
    "rack": 0.01,  # a rack fails as a whole rarely (a leak); its power and cooling do
    "pdu": 0.02,
    "power_shelf": 0.05,  # StepFun: power supply failures are 25 of 584 node faults
    "ups": 0.01,
    "utility_feed": 0.005,
    "cdu": 0.03,
    "crah": 0.02,
    "storage": 0.02,
    "service": 0.1,
    "job": 0.05,
}
# Kinds that only group things by place: they cannot fail as a whole except through their
# power or cooling, which are entities of their own, so they are never ranked as causes.
GROUPING_KINDS = frozenset({"site", "hall", "row", "pod", "zone", "region"})
DEFAULT_PRIOR = 0.02
SETTLE = 300.0  # seconds for what a fault reaches to show it (`for` durations, scrapes)
# Lost cooling shows over the time the air or the coolant takes to warm, tens of minutes
# (domain/gpu-failures.md: minutes to hours from a CDU's flow decay to throttling).
WARMING = 1800.0
# A prediction (a trend, a precursor) weighs a fraction of an alert until what it foretold
# shows in what it reaches; then it is as strong as a critical alert on the candidate (its
# detectors raise about one false prediction in 1,000 GPU-hours), and the candidate was seen
# failing, so how rarely its kind fails no longer counts against it.
CONFIRMED = 1.0
MISFIT = 0.25  # weight of a symptom unlike what the candidate's fault produces
AT_ONCE = 120.0  # seconds within which what power or containment takes shows it
JOB_LAG = 30.0  # seconds before a synchronous job's stall shows on its members (a timeout)
UNRELATED = 50.0  # penalty of a candidate that explains none of the incident's new symptoms
FULL_CANDIDATES = 96  # candidates scored in full in a large incident
SAMPLE = 256  # symptoms sampled to shortlist them
ELSEWHERE = 0.5  # weight of a hot part in another open incident (a warning's)
REACH_CACHE = 8_000_000  # entity indices of reaches remembered (64 MB)


@dataclass(frozen=True, slots=True)
class Symptom:
    entity: str
    first: float  # when it began
    weight: float = 1.0  # how strong (severity, score)
    source: str = ""  # the alert name or metric that showed it
    signs: frozenset[str] = frozenset()  # thermal, power, network, down, device, stall
    warns: bool = False  # a prediction: what it foretells is still to come


@dataclass(frozen=True, slots=True)
class Cause:
    entity: str
    kind: str
    score: float  # 0..1 (softmax over the candidates)
    explains: int
    symptomatic: int
    evidence: tuple[str, ...] = field(default_factory=tuple)
    metric: str | None = None
    llr: float = 0.0
    alternatives: tuple[str, ...] = ()  # entities it cannot be told apart from


class Reach(NamedTuple):
    """What a fault of one entity reaches (with itself), what of that it takes outright
    (with itself), and the members of the synchronous jobs it stalls."""

    reach: np.ndarray
    taken: np.ndarray
    spread: np.ndarray

    @property
    def size(self) -> int:
        return len(self.reach) + len(self.taken) + len(self.spread)


class CauseRanker:
    """What the ranking needs from one topology, computed once: containers, how far power and
    containment reach, and what a synchronous job's stall fans out to."""

    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        n = len(topo)
        self.n = n
        self.total_types = [
            name for name, t in topo.relation_types.items() if t.propagation is Propagation.TOTAL
        ]
        src, dst = topo.relation_indices("contains")
        self.container = np.full(n, -1, dtype=np.int64)
        self.container[dst] = src
        self.is_job = topo.kind_mask("job")
        self.fan = _job_fan_out(topo, self.container)
        self.endpoint = np.zeros(n, dtype=bool)
        self.endpoint[topo.relation_indices("connects")[1]] = True
        self.node_jobs = _member_jobs(n, self.fan)
        self.mechanism = self._mechanisms(topo)
        self.feeder = self._sole_feeders(topo)
        self.delayed = self._delayed_only(topo)
        self.kind_code = np.zeros(n, dtype=np.int64)
        for code, kind in enumerate(sorted(topo.kind_counts())):
            self.kind_code[topo.kind_mask(kind)] = code
        # Parts that hold no parts of their own, inside something (a host's GPUs and NICs).
        self.leafs = self.container >= 0
        self.leafs[self.container[self.container >= 0]] = False
        self.grouping = np.zeros(n, dtype=bool)
        for kind in GROUPING_KINDS:
            self.grouping |= topo.kind_mask(kind)
        self._reach: dict[int, Reach] = {}
        self._reach_size = 0
        self.prior = np.full(n, math.log(DEFAULT_PRIOR))
        for kind, p in PRIORS.items():
            self.prior[topo.kind_mask(kind)] = math.log(p)

    def rank(
        self,
        symptoms: Sequence[Symptom],
        observable: np.ndarray | None = None,
        top: int = 5,
        start: float | None = None,
        now: float | None = None,
        busy: np.ndarray | None = None,
        candidates: np.ndarray | None = None,
        heat_elsewhere: np.ndarray | None = None,
        dark_elsewhere: np.ndarray | None = None,
    ) -> list[Cause]:
        """`now`, when given, is how far the incident has got: silence only counts against a
        cause once what it reaches has had time to show (SETTLE seconds). `busy` marks
        entities with symptoms elsewhere (other open incidents): not quiet, not evidence.
        `candidates`, when given, are the only causes considered. `heat_elsewhere` and
        `dark_elsewhere` mark what runs hot and what is down in the other open incidents."""
        topo, n = self.topo, self.n
        first = self._first(symptoms, start)
        if not first:
            return []
        idx = np.fromiter(first, np.int64, len(first))
        sym = np.zeros(n, dtype=bool)
        sym[idx] = True
        weight = np.zeros(n)
        when = np.full(n, np.inf)
        signs: dict[str, np.ndarray] = {}
        known = np.zeros(n, dtype=bool)
        stalled = np.zeros(n, dtype=bool)  # shows only that its job waits
        warned = np.zeros(n, dtype=bool)
        for i, s in first.items():
            weight[i] = s.weight
            warned[i] = s.warns
            when[i] = s.first
            stalled[i] = s.signs == {"stall"}
            for sign in s.signs - {"stall"}:
                signs.setdefault(sign, np.zeros(n, dtype=bool))[i] = True
                known[i] = True
        t0 = start if start is not None else float(when[idx].min())
        span = max(60.0, float(when[idx].max()) - t0)
        if observable is None:
            observable = np.zeros(n, dtype=bool)
            for k in {topo.kind_of(s.entity) for s in first.values()}:
                observable |= topo.kind_mask(k)
        observable = observable | sym
        quiet = observable & ~sym
        if busy is not None:
            quiet &= ~busy
        fresh = sym & (when >= t0 - 60)
        down = signs.get("down", np.zeros(n, dtype=bool))
        device = signs.get("device", np.zeros(n, dtype=bool))
        # Only a container that shows it is down excuses its contents' silence: one that
        # merely alerts (a clock skew, a failed service) still reports its parts.
        dark = fresh & down
        if dark_elsewhere is not None:
            # A node down in another incident does not report its parts either: their
            # silence is that node's, not evidence against what would have taken them too.
            dark = dark | dark_elsewhere
        seen_now = self._seen_now(quiet, fresh & down) if now is not None else None
        t_fresh = float(when[fresh].min()) if fresh.any() else t0
        t_last = float(when[fresh].max()) if fresh.any() else t0
        if candidates is None:
            candidates = self._shortlist(idx, when, t0)
            # A device error a container logs without saying which device (an XID whose PCI
            # address no series or inventory names) makes each of its devices a suspect.
            logged = idx[device[idx] & fresh[idx]]
            if logged.size:
                parts = np.flatnonzero(np.isin(self.container, logged))
                candidates = np.union1d(candidates, parts[~self.grouping[parts]])
        shown_by = self._kinds_showing(signs)
        quiet_for: dict[frozenset[str], np.ndarray] = {}
        g_total = math.log(P_TOTAL / P_BACKGROUND)
        g_job = math.log(P_JOB / P_BACKGROUND)
        m_total = math.log((1 - P_TOTAL) / (1 - P_BACKGROUND))
        g_degraded = math.log(P_DEGRADED / P_BACKGROUND)
        m_degraded = math.log((1 - P_DEGRADED) / (1 - P_BACKGROUND))
        g_delayed = math.log(P_DELAYED / P_BACKGROUND)
        m_delayed = math.log((1 - P_DELAYED) / (1 - P_BACKGROUND))
        scored = []
        foretold: set[int] = set()  # candidates whose warning came true
        heat = signs.get("thermal")
        shape: dict[int, int] = {}  # candidate → a hash of what it reaches
        # What fits a kind of fault depends only on its mechanism: worked out once per kind,
        # as the share of its weight each symptom keeps (a misfit's cut).
        scale_for: dict[tuple[frozenset[str] | None, bool], np.ndarray] = {}

        def weighed(at: np.ndarray, scale: np.ndarray, c: int) -> float:
            # The candidate's own symptoms count in full, whatever kind of trouble they show.
            return float((weight[at] * np.where(at == c, 1.0, scale[at])).sum())

        # What a candidate takes, and of that what shows it is down: one mask each, set and
        # cleared again per candidate rather than allocated per candidate.
        taken_mask = np.zeros(n, dtype=bool)
        gone = np.zeros(n, dtype=bool)
        for c in candidates.tolist():
            g_deg, m_deg = (g_delayed, m_delayed) if self.delayed[c] else (g_degraded, m_degraded)
            reach, taken, spread = self.reach_of(c)
            taken_mask[taken] = True  # cleared again once `gone` is known
            degraded = reach[~taken_mask[reach]]
            hit_total = taken[sym[taken]]
            mech = self.mechanism[c]
            if mech is not None and "stall" not in mech:
                # What power takes goes down: a part it would take that only reports that its
                # job waits (a node's NCCL watchdog) is up, and waits only as its job does.
                waits = stalled[hit_total] & (hit_total != c)
                hit_total = hit_total[~waits]
                spread = spread[~taken_mask[spread] | stalled[spread]]
            else:
                spread = spread[~taken_mask[spread]]
            hit_deg = degraded[sym[degraded]]
            # A job member's stall explains its symptom, but only once the stall has had time
            # to show: what appears together with the first direct symptom has another cause.
            # Without a direct symptom of its own, a candidate cannot explain the incident's
            # first symptom as a stall: that needs something before it.
            reached = np.concatenate([hit_total, hit_deg])
            reached = reached[fresh[reached]]
            # A stall only says the job waits: the first sign of the cause itself is what
            # the stalls must come after, when the candidate has one.
            direct = reached[~stalled[reached]]
            # What a part's container reports (a node's kernel log for its GPU) is the part's,
            # when it comes before or with the part's own symptom, or the part has none.
            up = int(self.container[c])
            reported = up >= 0 and fresh[up] and not taken_mask[up]
            if reported and device[up]:
                direct = np.append(direct, up)
            own_sign = bool(direct.size)
            if not own_sign:
                direct = reached
            t_direct = float(when[direct].min()) if direct.size else t_fresh
            late = spread[sym[spread] & (when[spread] >= t_direct + JOB_LAG)]
            # What the cause reaches itself and that shows more than waiting (hot, down,
            # erroring) is its direct effect, not its job's stall.
            hit_job = np.setdiff1d(late, hit_deg[known[hit_deg]])
            hit_deg = np.setdiff1d(hit_deg, hit_job)
            if own_sign:
                # A wait that began well before the cause showed anything had another cause
                # (detectors see a cause's own sign later than a job's slowdown, but not
                # minutes later).
                hit_deg = hit_deg[~stalled[hit_deg] | (when[hit_deg] >= t_direct - SETTLE)]
            # Power and containment take everything at once: what begins long after the
            # first direct symptom was only degraded, not taken.
            # The candidate's own early warning (a UPS on battery, minutes before its output
            # drops) is its state, not something it took: the clock starts at what it took.
            # Its bulk, not its first: an unrelated alert that happens to fall in the reach
            # just before does not make the whole outage look slow.
            others = hit_total[(hit_total != c) & fresh[hit_total]]
            t_taken = float(np.median(when[others])) if others.size else t_direct
            slow = others[when[others] > t_taken + AT_ONCE]
            # What power or containment takes goes down; a part that reports an error of its
            # own is alive, so the cause only degraded it.
            alive = hit_total[known[hit_total] & ~down[hit_total] & (hit_total != c)]
            slow = np.union1d(slow, alive)
            # What does not look like what this cause does (outages below a CDU, temperatures
            # below a PDU) counts for less.
            kind_of_fault = (self.mechanism[c], bool(self.delayed[c]))
            scale = scale_for.get(kind_of_fault)
            if scale is None:
                fits = self._fits(c, known, signs)
                scale = scale_for[kind_of_fault] = np.where(fits, 1.0, MISFIT)
            ll = g_total * weighed(hit_total, scale, c)
            ll -= (g_total - g_deg) * weighed(slow, scale, c)
            # A stall explains only what looks like waiting: a member that is down, hot or
            # erroring has a cause of its own.
            stall_w = np.where(known[hit_job], MISFIT, 1.0) * weight[hit_job]
            ll += g_deg * weighed(hit_deg, scale, c) + g_job * float(stall_w.sum())
            if (
                heat_elsewhere is not None
                and self.delayed[c]
                and heat is not None
                and bool(heat[hit_deg].any())
            ):
                # Parts it cools that run hot in other open incidents, when this incident is
                # about heat in what it cools too: a room warming for hours alarms GPU by GPU.
                ll += g_deg * ELSEWHERE * int(heat_elsewhere[degraded].sum())
            # A part the hypothesis takes down and that shows it (a node that is down) does not
            # report its contents: their silence is expected, not evidence against it.
            taken_mask[taken] = False
            went = taken[dark[taken]]
            gone[went] = True
            silent_total = self._silent(taken, quiet, gone)
            # What only degrades what it reaches is judged by the parts that could show it: a
            # NIC has no thermometer, so a warming room leaves it quiet whatever happened.
            shown = mech.intersection(shown_by) if mech is not None else frozenset()
            if shown:
                if shown not in quiet_for:
                    kinds = np.logical_or.reduce([shown_by[sign] for sign in shown])
                    quiet_for[shown] = quiet & kinds[self.kind_code]
                silent_deg = self._silent(degraded, quiet_for[shown], gone)
            else:
                silent_deg = self._silent(degraded, quiet, gone)
            gone[went] = False
            # An outage (something taken shows it is down) takes all it reaches; a cause that
            # only degrades leaves much of it quiet.
            outage = bool((down | ~known)[hit_total].any())  # unknown signs: assume the worst
            if not outage:
                silent_deg, silent_total = silent_deg + silent_total, 0
            settled = 1.0 if now is None else min(1.0, max(0.0, now - t_direct) / SETTLE)
            if sym[c] and not fresh[c]:
                # What it showed began before the incident: it says nothing new now, as
                # quiet as a part that shows nothing.
                silent_total += 1
            if self.delayed[c] and heat is not None and bool(heat[reach].any()):
                # Once something it cools runs hot, and until the air has had time to warm,
                # quiet parts say little against it.
                end = now if now is not None else t_last
                settled = min(settled, max(0.0, end - t_direct) / WARMING)
            # Silence already seen (a NIC whose sibling went down in the same scrape) counts
            # in full even before the rest has had time to show.
            now_silent = 0
            if settled < 1.0 and silent_total and seen_now is not None:
                gone[went] = True
                now_silent = self._silent(taken, seen_now, gone)
                gone[went] = False
            ll += settled * (m_total * (silent_total - now_silent) + m_deg * silent_deg)
            ll += m_total * now_silent
            if warned[c] and self._came_true(c, reach, first, signs, fresh, when):
                # Seen failing, its kind's rarity no longer speaks against it.
                ll += g_total * max(0.0, CONFIRMED - float(weight[c])) - min(0.0, self.prior[c])
                foretold.add(c)
            local = [c]
            if reported and (not fresh[c] or when[up] <= when[c] + JOB_LAG):
                # A device error the container logs (an XID in a node's kernel log) is about
                # one of its devices; anything else it shows is only partly about this part.
                share = 1.0 if device[up] else 0.5
                ll += share * g_total * float(weight[up])
                local.append(up)
            # A source whose only load is this candidate meters its draw: its output lost is
            # this candidate's loss seen from above, not a fault of its own.
            above = self._metered(c)
            above = above[fresh[above] & down[above]]
            if above.size:
                ll += g_total * float(weight[above].sum())
                local.extend(above.tolist())
            ll += float(self.prior[c])
            hits = np.concatenate([hit_total, hit_deg, hit_job, np.array(local, dtype=np.int64)])
            times = when[hits]
            times = times[np.isfinite(times) & (times >= t0 - 60)]
            lead = float(np.maximum(times, t0).min()) - t0 if times.size else span
            if not bool(fresh[hits].any()):
                # It explains nothing new: only background that was there before.
                ll -= UNRELATED
            ll -= 2.0 * lead / span
            ll -= 1e-4 * len(reach)  # of equal explanations, the narrower one
            explained = len(hit_total) + len(hit_deg) + len(hit_job) + len(above)
            scored.append((ll, c, explained, silent_total + silent_deg))
            shape[c] = hash(reach[:-1].tobytes())
        scored.sort(key=lambda x: (-x[0], x[1]))
        return self._causes(self._twins(scored, shape), first, foretold, observable, t0, top)

    def reach_of(self, c: int) -> Reach:
        """What a fault of `c` reaches, takes and stalls. Remembered, since a live incident
        is ranked again with every alert that joins it: up to REACH_CACHE entities in all,
        the least recently used forgotten first."""
        hit = self._reach.pop(c, None)
        if hit is None:
            cid = self.topo.id_at(c)
            reach = np.append(self.topo.downstream_indices(cid), c)
            taken = np.append(self.topo.downstream_indices(cid, self.total_types), c)
            reach.flags.writeable = taken.flags.writeable = False  # shared by every ranking
            hit = Reach(reach, taken, self.spread(reach))
            self._reach_size += hit.size
            while self._reach and self._reach_size > REACH_CACHE:
                self._reach_size -= self._reach.pop(next(iter(self._reach))).size
        self._reach[c] = hit  # the most recent last
        return hit

    @staticmethod
    def _came_true(
        c: int,
        reach: np.ndarray,
        first: Mapping[int, Symptom],
        signs: Mapping[str, np.ndarray],
        fresh: np.ndarray,
        when: np.ndarray,
    ) -> bool:
        """Whether something `c` reaches showed, after `c` warned, the kind of trouble `c`
        warned of."""
        own = first[c]
        after = reach[(reach != c) & fresh[reach] & (when[reach] >= own.first)]
        return any(bool(signs[sign][after].any()) for sign in own.signs if sign in signs)

    def _first(self, symptoms: Sequence[Symptom], start: float | None) -> dict[int, Symptom]:
        """Per entity: its earliest symptom of the incident and the strongest weight among
        them. Symptoms that began well before the incident (chronic warnings, older noise) are
        background: they count where a cause reaches them, but weakly, and never as first."""
        t0 = start if start is not None else min((s.first for s in symptoms), default=0.0)
        new: dict[int, list[Symptom]] = {}
        old: dict[int, list[Symptom]] = {}
        for s in symptoms:
            if s.entity in self.topo:
                bucket = new if s.first >= t0 - 60 else old
                bucket.setdefault(self.topo.index(s.entity), []).append(s)
        out = {}
        for i, group in old.items():
            if i not in new:
                early = min(group, key=lambda s: s.first)
                out[i] = Symptom(
                    early.entity, early.first, 0.2 * max(s.weight for s in group), early.source
                )
        for i, group in new.items():
            early = min(group, key=lambda s: s.first)
            strong = max(group, key=lambda s: s.weight)
            # What an entity showed first says what reached it; what it showed later may be
            # a consequence of that (a leak, then the power cut that protects the rack).
            signs = frozenset().union(*(s.signs for s in group if s.first <= early.first + JOB_LAG))
            warns = any(s.warns for s in group)
            out[i] = Symptom(early.entity, early.first, strong.weight, early.source, signs, warns)
        return out

    def _kinds_showing(self, signs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per sign, a mask over kind codes: the kinds that show that sign somewhere in this
        incident, whose telemetry or alerts can show it at all."""
        out = {}
        for sign, mask in signs.items():
            kinds = np.zeros(int(self.kind_code.max()) + 1, dtype=bool)
            kinds[self.kind_code[mask]] = True
            out[sign] = kinds
        return out

    def _fits(self, c: int, known: np.ndarray, signs: dict[str, np.ndarray]) -> np.ndarray:
        """Entities whose symptoms are of a kind this candidate's fault produces. A symptom
        that names no kind of trouble (a clock skew, a drained node) may be anything's, but
        not lost cooling's: air and coolant that warm show as heat first."""
        mech = self.mechanism[c]
        if mech is None:
            return np.ones(self.n, dtype=bool)
        if self.delayed[c]:
            # What lost cooling takes down showed heat first (spec/topology.md: temperatures,
            # then throttling, then shutdown), itself or in what it holds; a part that only
            # went dark may have shown it as its enclosure's heat. A link that drops in a
            # warm row without any heat of its own failed for another reason.
            fits = np.zeros(self.n, dtype=bool)
            for sign in mech & {"thermal"}:
                fits = fits | signs.get(sign, fits)
            if "down" in mech and "down" in signs:
                fits = fits | (signs["down"] & self._heated(signs))
            return fits
        fits = ~known
        for sign in mech:
            if sign in signs:
                fits = fits | signs[sign]
        return fits

    def _heated(self, signs: dict[str, np.ndarray]) -> np.ndarray:
        """Entities that showed heat, held a part that did, or (those that only show they
        are down) sit in an enclosure that did: as the correlator's `_heated` judges."""
        heat = signs.get("thermal")
        if heat is None:
            return np.zeros(self.n, dtype=bool)
        out = heat.copy()
        up = self.container[np.flatnonzero(heat)]
        while up.size:  # what holds a hot part
            up = up[up >= 0]
            out[up] = True
            up = self.container[up]
        other = np.logical_or.reduce([m for sign, m in signs.items() if sign != "down"])
        only_down = signs["down"] & ~other
        idx = np.flatnonzero(only_down)
        up = self.container[idx]
        found = np.zeros(idx.size, dtype=bool)
        while (up >= 0).any():  # a dark part in a hot enclosure
            live = up >= 0
            found[live] |= heat[up[live]]
            up[live] = self.container[up[live]]
        out[idx[found]] = True
        return out

    @staticmethod
    def _mechanisms(topo: Topology) -> list[frozenset[str] | None]:
        """Per entity, the signs its faults travel with along its outgoing relations; None
        where one of them carries anything (containment, hosting, configured types)."""
        out: list[frozenset[str] | None] = [frozenset()] * len(topo)
        for name, rtype in topo.relation_types.items():
            src, _ = topo.relation_indices(name)
            for i in np.unique(src).tolist():
                cur = out[i]
                if cur is None:
                    continue
                out[i] = None if not rtype.signs else cur | frozenset(rtype.signs)
        return [None if m is not None and not m else m for m in out]

    @staticmethod
    def _sole_feeders(topo: Topology) -> np.ndarray:
        """Per entity, the power source it is the only load of (-1: none). Such a source's
        output meter reads this entity's draw, so it goes dark with this entity. Containment
        is not a feed: a node holding one GPU does not go down with it."""
        src_all, dst_all = [], []
        for name, rtype in topo.relation_types.items():
            feeds = rtype.propagation is Propagation.TOTAL and "power" in rtype.signs
            if feeds and name != "contains":
                src, dst = topo.relation_indices(name)
                src_all.append(src)
                dst_all.append(dst)
        out = np.full(len(topo), -1, dtype=np.int64)
        if not src_all:
            return out
        src, dst = np.concatenate(src_all), np.concatenate(dst_all)
        loads = np.bincount(src, minlength=len(topo))
        sole = loads[src] == 1
        out[dst[sole]] = src[sole]
        return out

    def _metered(self, c: int) -> np.ndarray:
        """The chain of sources above `c` whose whole load is `c`."""
        out = []
        up = int(self.feeder[c])
        while up >= 0 and up not in out:
            out.append(up)
            up = int(self.feeder[up])
        return np.array(out, dtype=np.int64)

    @staticmethod
    def _delayed_only(topo: Topology) -> np.ndarray:
        """Entities whose faults travel only with a delay (a CDU, a CRAH)."""
        out = np.zeros(len(topo), dtype=bool)
        other = np.zeros(len(topo), dtype=bool)
        for name, rtype in topo.relation_types.items():
            src, _ = topo.relation_indices(name)
            if rtype.propagation is Propagation.DELAYED:
                out[src] = True
            elif rtype.propagation.propagates:
                other[src] = True
        return out & ~other

    def _seen_now(self, quiet: np.ndarray, went: np.ndarray) -> np.ndarray:
        """Quiet devices whose sibling of the same kind (in the same container, neither
        holding parts of its own: the GPUs or NICs of one host) went down: one exporter
        reports both in the same scrape, so a power loss that took one would have shown on
        the other already. Racks of a row or nodes of a rack report through exporters of
        their own, scraped apart."""
        idx = np.flatnonzero(went & self.leafs)
        up = self.container[idx]
        idx, up = idx[up >= 0], up[up >= 0]
        out = np.zeros(self.n, dtype=bool)
        if not idx.size:
            return out
        span = int(self.kind_code.max()) + 1
        keys = np.unique(up * span + self.kind_code[idx])
        cand = np.flatnonzero(quiet & self.leafs)
        cand_keys = self.container[cand] * span + self.kind_code[cand]
        out[cand[np.isin(cand_keys, keys)]] = True
        return out

    def _silent(self, among: np.ndarray, quiet: np.ndarray, gone: np.ndarray) -> int:
        """How many of `among` are quiet although no container of theirs is `gone`."""
        idx = among[quiet[among]]
        if not idx.size or not gone.any():
            return int(idx.size)
        excused = np.zeros(idx.size, dtype=bool)
        up = self.container[idx]
        while True:
            live = up >= 0
            if not live.any():
                return int((~excused).sum())
            excused[live] |= gone[up[live]]
            up[live] = self.container[up[live]]

    def spread(self, reach: np.ndarray) -> np.ndarray:
        """The members of every synchronous job the reached entities stall: jobs reached
        directly, and the jobs of every node whose fabric endpoint (a NIC a switch connects)
        is reached, since a failed link breaks its node's collectives."""
        jobs = reach[self.is_job[reach]]
        ends = reach[self.endpoint[reach]]
        if ends.size:
            nodes = self.container[ends]
            nodes = np.unique(nodes[nodes >= 0])
            offsets, values = self.node_jobs
            lo, count = offsets[nodes], offsets[nodes + 1] - offsets[nodes]
            total = int(count.sum())
            if total:
                # Every value of every node's range, without a Python loop.
                pos = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(total)
                jobs = np.concatenate([jobs, values[pos]])
        jobs = [j for j in np.unique(jobs).tolist() if j in self.fan]
        if not jobs:
            return np.zeros(0, dtype=np.int64)
        if len(jobs) == 1:
            return self.fan[jobs[0]]
        mask = np.zeros(self.n, dtype=bool)
        for j in jobs:
            mask[self.fan[j]] = True
        return np.flatnonzero(mask)

    def _shortlist(self, idx: np.ndarray, when: np.ndarray, t0: float) -> np.ndarray:
        """Candidates: everything upstream of a symptom and the symptomatic themselves, cut
        down in a large incident to those that cover most of a sample of the symptoms plus
        those with an early symptom of their own."""
        topo = self.topo
        ids = topo.ids_at(idx.tolist())
        everything = np.union1d(topo.upstream_indices(ids), idx)
        everything = np.asarray(everything[~self.grouping[everything]], dtype=np.int64)
        if len(everything) <= FULL_CANDIDATES:
            return everything
        rng = np.random.default_rng(len(idx))
        sample = idx if len(idx) <= SAMPLE else rng.choice(idx, SAMPLE, replace=False)
        cover = np.zeros(self.n, dtype=np.int64)
        for i in sample.tolist():
            cover[topo.upstream_indices([topo.id_at(i)])] += 1
            cover[i] += 1
        order = np.argsort(-cover[everything], kind="stable")
        broad = everything[order[: FULL_CANDIDATES // 2]]
        early = idx[np.argsort(when[idx], kind="stable")[: FULL_CANDIDATES // 2]]
        return np.union1d(broad, early)

    def _twins(
        self, scored: list[tuple[float, int, int, int]], shape: dict[int, int]
    ) -> list[tuple[float, int, int, int, tuple[int, ...]]]:
        """Candidates that nothing can tell apart (eight power shelves feeding one rack, none
        with telemetry: same kind, same reach, same score) are one answer with alternatives,
        not eight answers in arbitrary order."""
        out: list[tuple[float, int, int, int, tuple[int, ...]]] = []
        index: dict[tuple[str, int, float], int] = {}
        for ll, c, hits, silent in scored:
            key = (self.topo.kind_of(self.topo.id_at(c)), shape[c], round(ll, 6))
            at = index.get(key)
            if at is None:
                index[key] = len(out)
                out.append((ll, c, hits, silent, ()))
            else:
                ll0, c0, h0, s0, alts = out[at]
                out[at] = (ll0, c0, h0, s0, (*alts, c))
        return out

    def _causes(
        self,
        scored: list[tuple[float, int, int, int, tuple[int, ...]]],
        first: dict[int, Symptom],
        foretold: set[int],
        observable: np.ndarray,
        t0: float,
        top: int,
    ) -> list[Cause]:
        topo = self.topo
        best = scored[: max(top, 1) * 4]
        logits = np.array([s[0] for s in best])
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        out = []
        total = len(first)
        earliest = min(s.first for s in first.values())
        for (ll, c, hits, silent, alts), p in zip(best[:top], probs[:top], strict=False):
            cid = topo.id_at(c)
            evidence = [f"explains {hits} of {total} symptomatic entities"]
            if alts:
                kind = topo.kind_of(cid)
                evidence.append(
                    f"one of {len(alts) + 1} {kind} entities that reach the same and cannot be "
                    "told apart without telemetry of their own"
                )
            if silent:
                evidence.append(f"{silent} observable entities it reaches show nothing")
            own = first.get(c)
            if own is None:
                evidence.append(
                    "no alert or anomaly of its own"
                    if observable[c]
                    else "no telemetry of its own: inferred from what it reaches"
                )
            elif own.first <= max(t0, earliest) + 1:
                evidence.append(f"its own symptom ({own.source or 'anomaly'}) came first")
            else:
                lag = own.first - max(t0, earliest)
                evidence.append(f"its own symptom ({own.source or 'anomaly'}) {lag:.0f} s in")
            if c in foretold and own is not None:
                evidence.append(
                    f"it warned ({own.source or 'a prediction'}) of the trouble that then showed "
                    "in what it reaches"
                )
            metric = own.source if own is not None and own.source else None
            out.append(
                Cause(
                    cid,
                    topo.kind_of(cid),
                    float(p),
                    hits,
                    total,
                    tuple(evidence),
                    metric,
                    ll,
                    tuple(topo.ids_at(alts)),
                )
            )
        return out


_RANKERS: weakref.WeakKeyDictionary[Topology, CauseRanker] = weakref.WeakKeyDictionary()


def ranker_for(topo: Topology) -> CauseRanker:
    ranker = _RANKERS.get(topo)
    if ranker is None:
        ranker = _RANKERS[topo] = CauseRanker(topo)
    return ranker


def rank_causes(
    topo: Topology,
    symptoms: Sequence[Symptom],
    observable: np.ndarray | None = None,
    top: int = 5,
    start: float | None = None,
) -> list[Cause]:
    """Causes ranked best first. `observable` marks entities that would show a symptom if hit
    (those with telemetry or alert rules); by default, every entity of a kind that shows a
    symptom in this incident."""
    return ranker_for(topo).rank(symptoms, observable, top, start)


def _job_fan_out(topo: Topology, container: np.ndarray) -> dict[int, np.ndarray]:
    """For each synchronous job: its GPUs, the nodes that hold them, and itself."""
    out = {}
    for job in topo.entities("job"):
        if not job.is_sync_job:
            continue
        gpus = topo.job_gpu_indices(job.id)
        nodes = container[gpus]
        at = topo.index(job.id)
        # The job itself too: its own stall alert is as much the stall as its members'.
        out[at] = np.union1d(np.union1d(gpus, nodes[nodes >= 0]), [at])
    return out


def _member_jobs(n: int, fan: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """entity → the synchronous jobs it is a member of, as CSR offsets and values."""
    if not fan:
        return np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    members = np.concatenate(list(fan.values()))
    jobs = np.concatenate([np.full(len(m), j, dtype=np.int64) for j, m in fan.items()])
    order = np.argsort(members, kind="stable")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(members, minlength=n), out=offsets[1:])
    return offsets, jobs[order]
