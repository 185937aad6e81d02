"""Trend predictors for facility and workload gauges: a loop that slowly loses flow, air that
creeps warmer, a job whose steps slowly lengthen.

Each series is compared with its own long-term level. Two things keep real fleets' noise out:
the short-term level is winsorised (one glitching reading moves it by a bounded amount), and the
long-term level follows slow sensor drift, which a degrading part outpaces. It follows a move
for the worse more slowly (``worse_seconds``, 1.5 h) than one for the better (``long_seconds``,
1 h): a part that degrades over an hour cannot drag its own baseline along as fast as it
degrades, while a series that improves is soon judged from its new level. A sensor drifting by
0.5 °C an hour still stays quiet (it lags that baseline by 0.75 °C at most).

A part that degrades fast reaches a rule's threshold late in its own precursor, whose lead may be
minutes. So the short-term level is also compared with a recent level (``recent_seconds``): a
move of half the threshold within a few minutes scores as high as the full threshold against the
long-term level. Slow drift never moves that fast, and a glitch is winsorised away.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from foreshock.detect.base import Detector, Floats, Ids, SeriesState, per_metric


@dataclass(frozen=True, slots=True)
class TrendRule:
    metric: str
    direction: int  # +1: rising is bad, -1: falling is bad
    threshold: float  # the change that scores 0.5
    relative: bool  # threshold as a fraction of the long-term level, else in the metric's unit
    predicts: str | None  # None: an anomaly of its own, not a prediction
    fast: bool = True  # also judge moves within minutes (not for series that follow the load)


# Engineering assumptions, from the failure modes in domain/gpu-telemetry.md §5 (pump wear:
# flow down, ΔT up; clogging: ΔP changes; room excursion: air and temperatures up) and the
# straggler signature in domain/gpu-failures.md §3 (a rank's step time lagging). The loop's
# return temperature is not among them: it follows the rack's load (ΔT means falling flow only
# at constant power, §5), so it rose by degrees whenever a large job started or restarted;
# the flow, pressure and pump readings show pump wear without that confound. A cooling unit's
# pumps and fans speeding up are its controller working harder to hold its setpoint: a unit
# that lost a stage (StepFun counts fan-speed-critical events among node faults,
# domain/gpu-failures.md) shows it there before the air it supplies warms by a degree.
DEFAULT_TRENDS: tuple[TrendRule, ...] = (
    TrendRule("RackLiquidFlow", -1, 0.10, True, "thermal_runaway"),
    TrendRule("LiquidFlow", -1, 0.10, True, "thermal_runaway"),
    TrendRule("LiquidDifferentialPressure", -1, 0.15, True, "thermal_runaway"),
    TrendRule("PumpSpeed", +1, 0.05, True, "thermal_runaway"),
    TrendRule("SupplyAirTemperature", +1, 1.0, False, "thermal_runaway"),
    TrendRule("FanSpeed", +1, 0.05, True, "thermal_runaway"),
    TrendRule("job_step_time_seconds", +1, 0.10, True, "job_straggler"),
)

# Rules for every metric whose name holds a word, when no rule names it: a request latency
# (storage, a service's p99) that triples over its own level (checkpoint bursts double it) is
# a symptom wherever it is, whatever the exporter calls the rest of the name.
WORD_TRENDS: tuple[tuple[str, TrendRule], ...] = (
    ("latency", TrendRule("*latency*", +1, 2.0, True, None)),
)


class GaugeTrends(Detector):
    name = "gauge_trends"

    def __init__(
        self,
        metric_of: Callable[[Ids], Sequence[str]],
        rules: Sequence[TrendRule] = DEFAULT_TRENDS,
        words: Sequence[tuple[str, TrendRule]] = WORD_TRENDS,
        short_seconds: float = 120.0,
        long_seconds: float = 3600.0,
        warmup_seconds: float = 1200.0,
        recent_seconds: float = 600.0,
        worse_seconds: float = 1.5 * 3600.0,
    ) -> None:
        self.metric_of = metric_of
        rules = [*rules, *(r for _, r in words)]
        self.rule_list = rules
        self._index = {r.metric: i for i, r in enumerate(rules)}
        self._words = [(w.lower(), len(rules) - len(words) + k) for k, (w, _) in enumerate(words)]
        self._dir = np.array([r.direction for r in rules] + [0.0])
        self._thr = np.array([r.threshold for r in rules] + [1.0])
        self._rel = np.array([r.relative for r in rules] + [False])
        self._fast = np.array([2.0 if r.fast else 0.0 for r in rules] + [0.0])
        self.short, self.long, self.warmup = short_seconds, long_seconds, warmup_seconds
        self.recent, self.worse = recent_seconds, worse_seconds
        self.state = SeriesState(
            t=np.nan, short=np.nan, long=np.nan, recent=np.nan, spread=0.0, seen=0.0
        )
        self._rule = per_metric(metric_of, self._lookup)

    def _lookup(self, name: str) -> int:
        found = self._index.get(name)
        if found is not None:
            return found
        low = name.lower()
        return next((i for word, i in self._words if word in low), -1)

    def rule_of(self, series: Ids) -> Ids:
        return self._rule(series)

    def watches(self, series: Ids) -> np.ndarray:
        return self.rule_of(series) >= 0

    def step(self, series: Ids, t: Floats, v: Floats) -> Floats:
        st = self.state
        st.ensure(int(series.max()))
        rule = self.rule_of(series)
        ok = (rule >= 0) & np.isfinite(v)
        last_t, short, long = st["t"][series], st["short"][series], st["long"][series]
        first = ok & np.isnan(short)
        dt = np.where(np.isnan(last_t), 0.0, t - last_t)
        fresh = ok & ~first & (dt > 0)
        # Winsorise: a reading far outside the recent spread moves the level by 3 spreads at
        # most, so a sensor glitch cannot pass for a trend.
        spread = st["spread"][series]
        dev = v - np.nan_to_num(short)
        bound = 3 * np.maximum(spread, 1e-9)
        dev = np.where(spread > 0, np.clip(dev, -bound, bound), dev)
        a_s = 1 - np.exp(-dt / self.short)
        a_l = 1 - np.exp(-dt / self.long)
        a_r = 1 - np.exp(-dt / self.recent)
        short_new = np.where(first, v, np.where(fresh, short + a_s * dev, short))
        spread_new = np.where(fresh, spread + a_s * (np.abs(dev) - spread), spread)
        seen = st["seen"][series] + np.where(fresh, dt, 0.0)
        warming = seen <= self.warmup
        # The long-term level follows a move for the better within `long`, and one for the
        # worse only over `worse` seconds: a part that degrades slowly cannot drag its own
        # baseline along, while a series that recovers is soon judged from its new level.
        a_w = 1 - np.exp(-dt / self.worse)
        a_long = np.where(self._dir[rule] * (short_new - long) > 0, a_w, a_l)
        long_new = np.where(
            first | (fresh & warming),
            short_new,
            np.where(fresh, long + a_long * (short_new - long), long),
        )
        recent = st["recent"][series]
        recent_new = np.where(
            first | (fresh & warming),
            short_new,
            np.where(fresh, recent + a_r * (short_new - recent), recent),
        )
        st["recent"][series] = np.where(ok, recent_new, recent)
        st["short"][series] = np.where(ok, short_new, short)
        st["long"][series] = np.where(ok, long_new, long)
        st["spread"][series] = np.where(ok, spread_new, spread)
        st["seen"][series] = np.where(ok, seen, st["seen"][series])
        st["t"][series] = np.where(ok & (first | (dt > 0)), t, last_t)
        direction = self._dir[rule]
        change = direction * (short_new - long)
        # Half the threshold within minutes counts as the whole one over the long term.
        change = np.fmax(change, self._fast[rule] * direction * (short_new - recent))
        scale = np.where(self._rel[rule], np.abs(long), 1.0) * self._thr[rule]
        score = np.clip(change / np.where(scale > 0, 2 * scale, np.inf), 0.0, 1.0)
        return np.where(fresh & ~warming, score, np.where(ok, 0.0, np.nan))

    def predicts(self, series: Ids) -> list[str | None]:
        return [self.rule_list[r].predicts if r >= 0 else None for r in self.rule_of(series)]
