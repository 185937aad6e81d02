"""Counter rules on hand-made series whose right answers are known."""

from __future__ import annotations

import numpy as np

from foreshock.detect.counters import CounterRates
from foreshock.model import SampleBatch

METRICS = {
    0: "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
    1: "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
    2: "node_load1",
    3: "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
}


def detector() -> CounterRates:
    return CounterRates(lambda ids: [METRICS[int(i)] for i in ids])


def run(det: CounterRates, series: int, values: list[float], step: float = 10.0) -> np.ndarray:
    n = len(values)
    batch = SampleBatch(np.full(n, series), step * np.arange(n), np.array(values, dtype=float))
    return det.update(batch)


def test_steady_noise_stays_quiet_and_a_ramp_is_flagged() -> None:
    det = detector()
    rng = np.random.default_rng(0)
    # Four hours of a chronically noisy GPU (about 20 errors an hour), then a ramp.
    steady = np.cumsum(rng.poisson(20 / 360, 1440)).astype(float)
    scores = run(det, 0, list(steady))
    assert np.nanmax(scores) < 0.5
    ramp_rates = np.geomspace(0.01, 0.5, 120)  # errors per second, over 20 minutes
    ramp = steady[-1] + np.cumsum(rng.poisson(ramp_rates * 10))
    more = det.update(SampleBatch(np.zeros(120, np.int64), 14_400 + 10 * np.arange(120.0), ramp))
    flagged = np.flatnonzero(more > 0.5)
    assert len(flagged)
    assert flagged[0] < 90  # well before the ramp ends
    assert det.predicts(np.array([0])) == ["gpu_memory_failure"]


def test_a_reset_is_not_a_negative_rate_nor_a_burst() -> None:
    det = detector()
    # One error every 200 s (18 an hour, below the floor), reset to zero by a driver reload.
    values = [100.0 + i // 20 for i in range(400)] + [0.0] + [i // 20 for i in range(1, 400)]
    scores = run(det, 0, values)
    assert np.nanmax(scores) < 0.5
    assert np.all(np.nan_to_num(scores) >= 0)


def test_a_part_already_erring_above_the_floor_when_watching_begins_is_flagged() -> None:
    """Foreshock restarts while a GPU counts 90 errors an hour: that is not its normal just
    because it was so before Foreshock looked. A part steadily below the floor is."""
    high = run(detector(), 0, [float(i // 4) for i in range(360)])  # one every 40 s
    assert np.flatnonzero(high >= 0.5)[0] < 90  # within its first quarter-hour
    low = run(detector(), 0, [float(i // 20) for i in range(1440)])  # one every 200 s
    assert np.nanmax(low) < 0.5


def test_any_uncorrectable_error_is_an_event() -> None:
    det = detector()
    scores = run(det, 1, [0, 0, 0, 1, 1, 1])
    assert scores.tolist()[1:] == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert det.predicts(np.array([1])) == [None]
    remaps = run(det, 3, [4, 4, 5])
    assert remaps.tolist()[2] == 1.0
    assert det.predicts(np.array([3])) == ["gpu_memory_failure"]


def test_gaps_and_nans_keep_the_state() -> None:
    det = detector()
    scores = run(det, 1, [0, np.nan, np.nan, 0, 2])
    assert np.isnan(scores[1])
    assert np.isnan(scores[2])
    assert scores[4] == 1.0


def test_constant_counters_and_unruled_series() -> None:
    det = detector()
    assert np.nanmax(run(det, 0, [7.0] * 100)) == 0
    assert np.isnan(run(det, 2, [1.0, 2.0, 3.0])).all()


def test_bursts_at_the_floor_rate_are_not_a_trend() -> None:
    """A part with errors at the floor's rate (30 an hour) for a day: its Poisson bursts never
    count as a trend."""
    det = detector()
    counts = np.random.default_rng(5).poisson(30 / 360, 8640)
    scores = run(det, 0, list(np.cumsum(counts).astype(float)))
    assert np.nanmax(scores) < 0.5


def test_a_reset_of_a_steadily_counting_part_is_not_a_burst() -> None:
    det = detector()
    # One error every 40 s, for six hours: a noisy, steady part (above the floor, so flagged
    # as watching begins, until its own long-term level has taken over)...
    values = [float(i // 4) for i in range(2160)]
    values += [0.0] + [float(i // 4) for i in range(1, 200)]  # ...then the driver reloads
    scores = run(det, 0, values)
    assert np.nanmax(scores[:90]) >= 0.5
    assert np.nanmax(scores[2000:]) < 0.5


def _counter(times: np.ndarray, events: np.ndarray) -> np.ndarray:
    """A cumulative counter sampled at `times` that rose by one at each of `events`."""
    return np.searchsorted(np.sort(events), times, side="right").astype(float)


def first_flag(det: CounterRates, series: int, times: np.ndarray, values: np.ndarray) -> float:
    n = len(times)
    scores = det.update(SampleBatch(np.full(n, series), times, values))
    hit = np.flatnonzero(scores >= 0.5)
    return float(times[hit[0]]) if len(hit) else np.inf


LINK_RECOVERY = {5: "node_infiniband_link_error_recovery_total"}


def test_a_silent_counter_that_starts_erring_again_and_again_is_evidence() -> None:
    """Four silent hours, then one error a minute: far below the rate floor (30 an hour after
    10 minutes of it), yet a handful of them is no longer chance for a part that counted none."""
    times = 10.0 * np.arange(1440 + 120)
    start = 14_400.0
    events = start + 60.0 * np.arange(1, 21)
    at = first_flag(detector(), 0, times, _counter(times, events))
    assert start + 4 * 60 <= at <= start + 8 * 60  # after a few errors, not at the first
    without = CounterRates(lambda ids: [METRICS[int(i)] for i in ids], evidence=0.0)
    assert first_flag(without, 0, times, _counter(times, events)) > at + 600  # the floor waits


def test_one_or_two_errors_after_silence_are_not_evidence() -> None:
    times = 10.0 * np.arange(1440 + 360)
    for events in ([14_400.0], [14_400.0, 14_460.0], [14_400.0, 16_000.0, 18_000.0]):
        scores = run(detector(), 0, list(_counter(times, np.array(events))))
        assert np.nanmax(scores) < 0.5


def test_a_burst_reported_at_once_counts_once() -> None:
    """A part silent for hours that reports many errors in one scrape (one physical event, or a
    counter read late) then stays silent: one occurrence, no evidence."""
    det = CounterRates(lambda ids: [LINK_RECOVERY[int(i)] for i in ids], evidence=12.0)
    values = np.zeros(1800)
    values[1500:] = 3.0  # three recoveries in one scrape (floor: 6 an hour, so the rate fires)
    scores = run(det, 5, list(values))
    assert scores[1500] >= 0.5  # the rate rule (a short-term rate of 3 per 10 s)
    # ...and the evidence alone does not: one occurrence after hours of none.
    ev = det._evidence(det.state.data[:, :1], np.array([True]))
    assert ev[0] < 0.5


def test_evidence_is_relative_to_the_part_s_own_history() -> None:
    """A part that has always counted about one error every two minutes: the one-a-minute that
    is evidence for a silent part is near its normal; a twenty-fold rise is evidence."""
    rng = np.random.default_rng(3)
    times = 10.0 * np.arange(1440 + 180)
    steady = rng.uniform(0, 14_400, 100)  # 25 an hour, below the floor
    quiet = run(detector(), 0, list(_counter(times[:1440], steady)))
    assert np.nanmax(quiet) < 0.5
    burst = 14_400 + rng.uniform(0, 1800, 300)  # ten a minute for half an hour
    at = first_flag(detector(), 0, times, _counter(times, np.concatenate([steady, burst])))
    assert 14_400 < at < 14_400 + 600


def test_a_gap_then_a_rise_is_one_occurrence_over_the_gap() -> None:
    """Scrapes stop for two hours; the counter rose by a few meanwhile: spread over the gap,
    that is no evidence, and no error either."""
    times = np.concatenate([10.0 * np.arange(720), 14_400 + 10.0 * np.arange(360)])
    values = np.where(times < 14_400, 0.0, 4.0)
    scores = run_at(detector(), 0, times, values)
    assert np.nanmax(scores) < 0.5
    assert not np.isnan(scores[720])


def test_a_reset_after_silence_and_constant_counters_score_nothing() -> None:
    times = 10.0 * np.arange(2000)
    values = np.where(times < 10_000, 5.0, 0.0)  # a driver reload resets a counter at 5
    assert np.nanmax(run_at(detector(), 0, times, values)) < 0.5
    assert np.nanmax(run_at(detector(), 0, times, np.zeros(2000))) == 0.0


def test_evidence_is_the_same_for_a_series_alone_and_in_a_fleet() -> None:
    rng = np.random.default_rng(7)
    times = 10.0 * np.arange(1800)
    rows = [
        _counter(times, np.concatenate([rng.uniform(0, 18_000, k), 14_400 + 60.0 * np.arange(m)]))
        for k, m in ((0, 0), (0, 12), (300, 0), (300, 40))
    ]
    sbe = METRICS[0]
    alone = [run_at(CounterRates(lambda ids: [sbe] * len(ids)), 0, times, r) for r in rows]
    det = CounterRates(lambda ids: [sbe] * len(ids))
    fleet = det.update(
        SampleBatch(
            np.tile(np.arange(4), len(times)),
            np.repeat(times, 4),
            np.stack(rows, axis=1).ravel(),
        )
    )
    for k in range(4):
        np.testing.assert_allclose(fleet[k::4], alone[k])


def run_at(det: CounterRates, series: int, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    return det.update(SampleBatch(np.full(len(times), series), times, values))
