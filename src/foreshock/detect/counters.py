"""Rate rules for error counters: ECC, row remaps, NVLink and PCIe retries, InfiniBand errors.

Counters are cumulative and restart from zero when a node reboots or a driver reloads, so a
fall is a reset, not a negative rate. Two kinds of rule:

- *events*: any increase matters (an uncorrectable ECC error, a link that went down);
- *trends*: a weak-signal rate that rises well above its own long-term level and above a
  floor (a precursor). A part that has always been a little noisy keeps a long-term rate near
  its short-term one and stays quiet; a part that starts to degrade does not. A part has no
  long-term level when watching begins (a new deployment, a restart): it starts from none and
  its own rate takes over within hours, so a precursor already running then is judged against
  the floor rather than taken as that part's normal. The price: a part steadily counting above
  the floor is flagged once after each start.

A trend is also judged on *evidence*: how unlikely the recent errors are under the part's own
past rate. The errors counted are *occurrences* (scrapes in which the counter rose), so a burst
that one physical event reports as many errors counts once. For a recent window (10 and 30
minutes, exponentially weighted), the occurrences ``n`` seen are tested against what the
part's past allows, ``mu = ratio × past rate × window``, by the Poisson likelihood ratio
``n log(n / mu) - (n - mu)`` (a generalised likelihood-ratio test of a rate increase). The past
rate is the long-term one as it stood at least ``short`` seconds ago (a snapshot, so that the
errors under test do not raise their own baseline), and Bayesian: half an occurrence is added
to what was seen, so a part that has been silent for hours has a small but non-zero rate, and
a part seen for minutes a high one. A link that has counted nothing for hours and then errs
again and again is significant by itself, well before its rate reaches any floor; a part that
has always been noisy must rise many-fold. No floor or fleet-wide constant enters the test,
only the part's own history. A likelihood ratio of ``evidence`` (12: odds of about e^-12 that
chance did it, for each window and step) scores 0.5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from foreshock.detect.base import Detector, Floats, Ids, per_metric
from foreshock.detect.gauge import StateTable


@dataclass(frozen=True, slots=True)
class CounterRule:
    metric: str
    mode: str  # "trend", "event" (anomaly) or "event_prediction"
    predicts: str | None = None
    floor_per_hour: float = 0.0  # trends: a short-term rate below this raises nothing


# Floors are engineering assumptions: ibqueryerrors' documented example thresholds are 10
# symbol errors and 10 link recoveries (domain/gpu-telemetry.md §4); a DIMM rule of thumb
# replaces memory after > 24 correctable errors a day (domain/gpu-failures.md §3).
DEFAULT_RULES: tuple[CounterRule, ...] = (
    CounterRule("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", "trend", "gpu_memory_failure", 30.0),
    CounterRule("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "event_prediction", "gpu_memory_failure"),
    CounterRule("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "event"),
    CounterRule("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "event"),
    CounterRule("DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", "trend", "link_failure", 30.0),
    CounterRule("DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", "trend", "link_failure", 30.0),
    CounterRule("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "trend", "gpu_off_bus", 30.0),
    CounterRule("node_infiniband_symbol_error_total", "trend", "link_failure", 30.0),
    CounterRule("node_infiniband_link_error_recovery_total", "trend", "link_failure", 6.0),
    CounterRule("node_infiniband_port_errors_received_total", "trend", "link_failure", 30.0),
    CounterRule("node_infiniband_link_downed_total", "event"),
)

_MODES = {"trend": 0, "event": 1, "event_prediction": 2}


class CounterRates(Detector):
    """Scores counter samples by the rules above; series without a rule score NaN."""

    name = "counter_rates"

    def __init__(
        self,
        metric_of: Callable[[Ids], Sequence[str]],
        rules: Sequence[CounterRule] = DEFAULT_RULES,
        short_seconds: float = 600.0,
        long_seconds: float = 4 * 3600.0,
        ratio: float = 3.0,
        evidence: float = 12.0,
        windows: tuple[float, ...] = (600.0, 1800.0),
        prior_count: float = 0.5,
    ) -> None:
        self.rules = {r.metric: i for i, r in enumerate(rules)}
        self.rule_list = list(rules)
        self.metric_of = metric_of
        self.short, self.long, self.ratio = short_seconds, long_seconds, ratio
        self._mode = np.array([_MODES[r.mode] for r in rules] + [-1])
        self._floor = np.array([r.floor_per_hour / 3600 for r in rules] + [1.0])  # -1: no rule
        self._predicts = np.array(
            [r.predicts if r.mode != "event" else None for r in rules] + [None], dtype=object
        )
        self._per = np.where(self._floor > 0, self._floor, 1.0)  # the unit of a trend's excess
        # Evidence: the log-likelihood ratio that scores 0.5; the recent windows it is judged
        # over; the pseudo-count that keeps a silent part's past rate above zero.
        self.evidence, self.windows, self.prior = evidence, tuple(windows), prior_count
        occ = {f"occ{k}": 0.0 for k in range(len(self.windows))}
        self.state = StateTable(
            v=np.nan, t=np.nan, short=0.0, long=0.0, seen=0.0,
            occ=0.0, n_prev=0.0, e_prev=0.0, n_cur=0.0, e_cur=0.0, **occ,
        )  # fmt: skip
        self._rule = per_metric(metric_of, lambda n: self.rules.get(n, -1))

    def rule_of(self, series: Ids) -> Ids:
        """Index into `rule_list` for each series (-1 where no rule applies)."""
        return self._rule(series)

    def watches(self, series: Ids) -> np.ndarray:
        return self.rule_of(series) >= 0

    def step(self, series: Ids, t: Floats, v: Floats) -> Floats:
        blk, slots, view = self.state.read(series)
        last_v, last_t, short_0, long_0, seen_0, occ_0 = blk[:6]
        rule = self.rule_of(series)
        ok = rule >= 0
        ok &= ~np.isnan(v)
        first = np.isnan(last_v)
        dt = t - last_t
        # A fall is a restart from zero: everything counted since then is new.
        increase = v - last_v
        fell = v < last_v
        if fell.any():
            increase[fell] = v[fell]
        with np.errstate(invalid="ignore"):
            fresh = ok & ~first & (dt > 0)
        every = bool(fresh.all())
        if not every:
            dt = np.where(fresh, dt, 0.0)  # a_s, a_l and the rate are then 0: nothing moves
            increase = np.where(fresh, increase, 0.0)
        a_s, a_l, *a_w = self._weights(dt)
        per_dt = 1.0 / np.where(dt > 0, dt, 1.0)
        rate = increase * per_dt
        short = short_0 + a_s * (rate - short_0)
        seen = seen_0 + dt
        # Every `short` seconds of a series' clock, the long-term count and exposure are
        # snapshot; the evidence's past is the snapshot before the last one.
        turn = np.fmod(seen, self.short) < dt  # a multiple of `short` in (seen - dt, seen]
        # A part Foreshock has just begun to watch has no long-term level yet: it starts from
        # none, and the part's own rate takes it over in `long` seconds. Meanwhile the floor is
        # the baseline, so a precursor already running when watching began (a restart, a new
        # deployment) still stands out once it passes the floor, as ibqueryerrors-style
        # thresholds would; a part steadily noisy below the floor becomes its own baseline.
        warming = seen <= self.short
        long_now = long_0 + a_l * (rate - long_0)
        if not every:  # samples that did not move time forward leave the level alone
            long_now = np.where(fresh, long_now, long_0)
        # Only a sample that moves time forward becomes the reference for the next one.
        advance = fresh | (ok & first)
        blk[0] = np.where(advance, v, last_v)
        blk[1] = np.where(advance, t, last_t)
        blk[2], blk[3], blk[4] = short, long_now, seen
        # Occurrence rates (scrapes with a rise, per second), over the long term and over each
        # recent window: their time constants times these are exponentially weighted counts.
        occ_rate = (increase > 0) * per_dt
        occ = occ_0 + a_l * (occ_rate - occ_0)
        blk[5] = occ
        for k, a in enumerate(a_w):
            blk[10 + k] += a * (occ_rate - blk[10 + k])
        if turn.any():
            blk[6:8] = np.where(turn, blk[8:10], blk[6:8])
            blk[8] = np.where(turn, self.long * occ, blk[8])
            blk[9] = np.where(turn, self.long * -np.expm1(-seen / self.long), blk[9])
        self.state.write(slots, blk, view)
        mode, floor, per = self._mode[rule], self._floor[rule], self._per[rule]
        # Trend: how far the short-term rate stands above max(ratio × long-term, floor),
        # measured in floors, squashed to [0, 1).
        excess = short - np.maximum(self.ratio * long_0, floor)
        np.maximum(excess, 0.0, out=excess)
        trend = -np.expm1(-excess / per)
        if self.evidence > 0:  # evidence needs a past of the part's own
            np.maximum(trend, self._evidence(blk, (mode == 0) & ~warming), out=trend)
        score: Floats = np.where(mode == 0, trend, increase > 0)
        if every:
            return score
        return np.where(fresh, score, np.where(ok & first, 0.0, np.nan))

    def _evidence(self, blk: Floats, trend: np.ndarray) -> Floats:
        """The evidence score of each series (0 where ``trend`` is False): the largest Poisson
        log-likelihood ratio over the recent windows of their occurrences against ``ratio``
        times the past rate, squashed so that ``evidence`` scores 0.5. Less than one
        occurrence in a window is no evidence: most counters count nothing, and cost a
        comparison."""
        llr = np.zeros(blk.shape[1])
        for k, tau in enumerate(self.windows):
            occ = blk[10 + k]  # occurrences in the window (exponentially weighted) / tau
            c = np.flatnonzero((occ > 1.0 / tau) & trend)
            if not len(c):
                continue
            n = tau * occ[c]
            seen, n_past, e_past = blk[4, c], blk[6, c], blk[7, c]
            with np.errstate(divide="ignore", invalid="ignore"):
                # As many as `ratio` times the past rate allows (inf while there is no past).
                mu = self.ratio * (n_past + self.prior) / e_past * (tau * -np.expm1(-seen / tau))
                g = n * np.log(n / mu) - (n - mu)
            llr[c] = np.maximum(llr[c], np.where(n > mu, g, 0.0))
        score: Floats = -np.expm1(-llr * (np.log(2) / self.evidence))
        return score

    def _weights(self, dt: Floats) -> tuple[Floats | float, ...]:
        """EWMA weights of the short and long rates, then of the evidence windows, for
        intervals ``dt`` (exponentials of a scalar when the whole step shares one interval,
        as a scrape of a fleet does)."""
        taus = (self.short, self.long, *self.windows)
        if len(dt) and dt[0] == dt[-1] and bool((dt == dt[0]).all()):
            d = float(dt[0])
            return tuple(float(-np.expm1(-d / tau)) for tau in taus)
        return tuple(-np.expm1(-dt / tau) for tau in taus)

    def predicts(self, series: Ids) -> list[str | None]:
        """What a high score of each series foretells (None: an anomaly, not a prediction)."""
        out: list[str | None] = self._predicts[self.rule_of(series)].tolist()
        return out
