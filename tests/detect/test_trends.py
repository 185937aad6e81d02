"""Trend predictors on hand-made series whose right answers are known."""

from __future__ import annotations

import numpy as np

from foreshock.detect.trends import GaugeTrends, TrendRule
from foreshock.model import SampleBatch

NAMES = {
    0: "RackLiquidFlow",
    1: "SupplyAirTemperature",
    2: "node_load1",
    3: "RackLiquidReturnTemperature",
    4: "FanSpeed",
}


def det() -> GaugeTrends:
    return GaugeTrends(lambda ids: [NAMES[int(i)] for i in ids])


def feed(d: GaugeTrends, series: int, values: np.ndarray, t0: float = 0.0) -> np.ndarray:
    n = len(values)
    return d.update(SampleBatch(np.full(n, series), t0 + 10 * np.arange(n), values))


def test_flow_decay_is_foreseen_and_steady_flow_is_not() -> None:
    rng = np.random.default_rng(1)
    d = det()
    steady = 60 + rng.normal(0, 0.3, 720)  # two hours
    assert np.nanmax(feed(d, 0, steady)) < 0.5
    decay = 60 * np.linspace(1.0, 0.65, 360) + rng.normal(0, 0.3, 360)  # an hour of pump wear
    scores = feed(d, 0, decay, 7200)
    hit = np.flatnonzero(scores >= 0.5)
    assert len(hit)
    assert hit[0] < 180  # within the first half of the decay
    assert d.predicts(np.array([0])) == ["thermal_runaway"]


def test_glitches_and_slow_drift_stay_quiet() -> None:
    rng = np.random.default_rng(2)
    d = det()
    flow = 60 + rng.normal(0, 0.3, 1440)
    flow[rng.random(1440) < 0.01] = 0.0  # a flaky flow meter reads zero now and then
    assert np.nanmax(feed(d, 0, flow)) < 0.5
    air = 18 + 0.5 * np.arange(1440) / 360 + rng.normal(0, 0.2, 1440)  # 0.5 °C/h sensor drift
    assert np.nanmax(feed(d, 1, air)) < 0.5


def test_warm_up_gaps_constants_and_nan() -> None:
    d = det()
    scores = feed(d, 1, np.full(200, 18.0))
    assert np.nanmax(scores) == 0.0
    assert np.isnan(feed(d, 2, np.ones(5))).all()  # no rule for this metric
    gap = d.update(
        SampleBatch(np.array([1, 1]), np.array([100_000.0, 100_010.0]), np.array([np.nan, 18.0]))
    )
    assert np.isnan(gap[0])
    assert gap[1] < 0.5


def test_fans_that_work_harder_at_steady_load_are_foreseen() -> None:
    """A cooling unit that loses a compressor stage speeds its fans up to hold its supply air
    (60 % to 72 % over 20 minutes): foreseen in the first half of the ramp. Fans that only
    jitter around their setpoint for two hours stay quiet."""
    rng = np.random.default_rng(7)
    d = det()
    steady = 60 + rng.normal(0, 0.5, 720)
    assert np.nanmax(feed(d, 4, steady)) < 0.5
    ramp = 60 + np.linspace(0, 12, 120) + rng.normal(0, 0.5, 120)
    scores = feed(d, 4, ramp, 7200)
    hit = np.flatnonzero(scores >= 0.5)
    assert len(hit)
    assert hit[0] < 60
    assert d.predicts(np.array([4])) == ["thermal_runaway"]


def test_a_fast_creep_is_flagged_before_it_reaches_the_threshold() -> None:
    """Air that warms 2 °C in 16 minutes (a cooling unit losing a stage): half the rule's
    threshold within minutes is flagged, well before the full degree is reached."""
    rng = np.random.default_rng(6)
    air = 18 + rng.normal(0, 0.2, 360)  # an hour of steady air
    creep = 18 + np.linspace(0, 2.0, 96) + rng.normal(0, 0.2, 96)  # 16 minutes
    d = det()
    scores = feed(d, 1, np.concatenate([air, creep]))
    hit = np.flatnonzero(scores >= 0.5)
    assert len(hit)
    assert hit[0] >= 360
    assert hit[0] - 360 < 48  # within the first half of the creep (the full degree: 48 steps)


def test_series_that_follow_the_load_are_judged_against_the_long_term_only() -> None:
    """A rack's return temperature jumps 1.5 °C when a job starts: less than a 2 °C rule, and
    the recent comparison that would flag it is off for load-driven series."""
    rng = np.random.default_rng(7)
    before = 35 + rng.normal(0, 0.1, 360)
    after = 36.5 + rng.normal(0, 0.1, 360)
    rule = TrendRule("RackLiquidReturnTemperature", +1, 2.0, False, "thermal_runaway", fast=False)
    d = GaugeTrends(lambda ids: [NAMES[int(i)] for i in ids], rules=[rule])
    assert np.nanmax(feed(d, 3, np.concatenate([before, after]))) < 0.5
    # The same jump on supply air (a rule with the recent comparison) is flagged.
    assert np.nanmax(feed(det(), 1, np.concatenate([before, after]) - 17)) >= 0.5
    # The return temperature has no default rule: it follows the load.
    assert np.isnan(feed(det(), 3, before)).all()


def test_a_slow_creep_cannot_drag_its_baseline_along() -> None:
    """Supply air steady for two hours, then warming by 1.7 °C over an hour (a cooling unit
    losing a stage): judged against a baseline that follows a worsening only slowly, it is
    foreseen well before the creep ends; a baseline that follows it as fast as anything else
    sees it late."""
    rng = np.random.default_rng(4)
    air = 18 + rng.normal(0, 0.2, 1080)
    air[720:] += 1.7 * np.arange(360) / 360
    first = []
    for worse in (1.5 * 3600.0, 3600.0):
        d = GaugeTrends(lambda ids: [NAMES[int(i)] for i in ids], worse_seconds=worse)
        hit = np.flatnonzero(feed(d, 1, air) >= 0.5)
        first.append(hit[0] if len(hit) else len(air))
    assert first[0] < 720 + 300  # 10 minutes or more before the hour ends
    assert first[0] < first[1]
    d = det()
    quiet = 18 + rng.normal(0, 0.2, 1440)  # and four hours of noise stay quiet
    assert np.nanmax(feed(d, 1, quiet)) < 0.5


def test_a_recovery_is_soon_the_new_baseline() -> None:
    """A flow that improves (rising is good for flow) is judged from its new level within
    about an hour, so a later fall back to the old level is seen as the fall it is."""
    rng = np.random.default_rng(6)
    d = det()
    flow = np.concatenate([np.full(360, 60.0), np.full(1080, 70.0)])
    assert np.nanmax(feed(d, 0, flow + rng.normal(0, 0.3, len(flow)))) < 0.5
    assert d.state["long"][0] > 69.3  # followed within `long`, not `worse_seconds`
    back = feed(d, 0, 60 + rng.normal(0, 0.3, 360), 14_400)
    assert np.nanmax(back) >= 0.5  # a 14 % fall from where it had settled


def test_a_latency_that_multiplies_is_an_anomaly_whatever_the_exporter_calls_it() -> None:
    names = {0: "storage_latency_seconds", 1: "nfs_rpc_latency_ms", 2: "node_load1"}
    d = GaugeTrends(lambda ids: [names[int(i)] for i in ids])
    assert d.watches(np.array([0, 1, 2])).tolist() == [True, True, False]
    rng = np.random.default_rng(3)
    calm = 0.002 * rng.lognormal(0, 0.1, 720)  # two hours of a 2 ms p99 with its jitter
    assert np.nanmax(feed(d, 0, calm)) < 0.5
    slow = 0.002 * np.linspace(1, 8, 60) * rng.lognormal(0, 0.1, 60)  # ten minutes to 8x
    scores = feed(d, 0, slow, 7200)
    assert np.nanmax(scores) >= 0.5
    # A symptom of its own, not a prediction of some failure.
    assert d.predicts(np.array([0])) == [None]
