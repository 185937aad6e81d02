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
    values = [100.0 + i for i in range(60)] + [0.0, 1.0, 2.0] + [3.0 + i for i in range(60)]
    scores = run(det, 0, values)
    assert np.nanmax(scores) < 0.5
    assert np.all(np.nan_to_num(scores) >= 0)


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
    values = [float(i // 4) for i in range(400)]  # 1 error every 40 s: a quiet, steady part
    values += [0.0] + [float(i // 4) for i in range(1, 200)]  # the driver reloads
    assert np.nanmax(run(det, 0, values)) < 0.5
