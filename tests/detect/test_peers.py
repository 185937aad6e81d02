from __future__ import annotations

import numpy as np

from foreshock.detect.peers import PeerDeficit
from foreshock.model import SampleBatch


def run(clocks: np.ndarray, groups: list[int]) -> np.ndarray:
    """clocks: [gpus, steps] at 10 s; returns scores [gpus, steps]."""
    det = PeerDeficit(
        lambda ids: ["DCGM_FI_DEV_SM_CLOCK"] * len(ids),
        lambda ids: np.array([groups[int(i)] for i in ids]),
    )
    n, steps = clocks.shape
    series = np.repeat(np.arange(n), steps)
    t = np.tile(10.0 * np.arange(steps), n)
    return det.update(SampleBatch(series, t, clocks.ravel())).reshape(n, steps)


def test_a_rank_slower_than_its_peers_is_flagged() -> None:
    rng = np.random.default_rng(0)
    clocks = 1980 + rng.normal(0, 5, (8, 360))
    clocks[3, 120:] *= 0.95  # 5 % slower from the 20th minute
    scores = run(clocks, [0] * 8)
    assert np.nanmax(scores[:, :120]) < 0.5
    hit = np.flatnonzero(scores[3] >= 0.5)
    assert len(hit)
    assert 120 < hit[0] < 200
    others = np.delete(scores, 3, axis=0)
    assert np.nanmax(others) < 0.5


def test_idle_jobs_and_small_groups_are_not_compared() -> None:
    clocks = np.full((8, 200), 345.0)  # idle clocks
    clocks[0] = 300.0
    assert np.nanmax(run(clocks, [0] * 8)) == 0.0
    small = np.full((2, 200), 1980.0)
    small[0] *= 0.8
    assert np.nanmax(run(small, [0, 0])) == 0.0


def test_groups_are_compared_within_themselves() -> None:
    clocks = np.vstack([np.full((4, 200), 1980.0), np.full((4, 200), 1500.0)])
    scores = run(clocks, [0, 0, 0, 0, 1, 1, 1, 1])
    assert np.nanmax(scores) == 0.0


def test_no_look_ahead_when_a_peer_misses_a_scrape() -> None:
    """A score at time t must not change when a peer's later sample changes."""
    rng = np.random.default_rng(3)
    clocks = 1980 + rng.normal(0, 5, (6, 120))
    times = 10.0 * np.arange(120)

    def scores(later: float) -> np.ndarray:
        det = PeerDeficit(
            lambda ids: ["DCGM_FI_DEV_SM_CLOCK"] * len(ids),
            lambda ids: np.zeros(len(ids), np.int64),
        )
        keep = np.ones((6, 120), bool)
        keep[4, 60] = False  # series 4 misses one scrape
        c = clocks.copy()
        c[4, 61] = later
        series = np.repeat(np.arange(6), 120)[keep.ravel()]
        t = np.tile(times, 6)[keep.ravel()]
        out = det.update(SampleBatch(series, t, c.ravel()[keep.ravel()]))
        return out[(series == 0) & (t <= 600.0)]

    assert np.array_equal(scores(1980.0), scores(1500.0), equal_nan=True)


def test_one_scrape_at_a_time_gives_the_scores_of_one_batch() -> None:
    rng = np.random.default_rng(4)
    clocks = 1980 + rng.normal(0, 5, (8, 150))
    clocks[2, 60:] *= 0.94
    clocks[5, 80] = np.nan  # a GPU that did not answer once: not compared, state kept
    whole = run(clocks, [0] * 8)
    det = PeerDeficit(
        lambda ids: ["DCGM_FI_DEV_SM_CLOCK"] * len(ids),
        lambda ids: np.zeros(len(ids), np.int64),
    )
    each = np.column_stack(
        [
            det.update(SampleBatch(np.arange(8), np.full(8, 10.0 * k), clocks[:, k]))
            for k in range(150)
        ]
    )
    assert np.array_equal(whole, each, equal_nan=True)
    assert np.isnan(whole[5, 80])
    assert np.nanmax(whole[2]) >= 0.5


def test_constant_clocks_score_zero() -> None:
    assert np.nanmax(run(np.full((6, 200), 1980.0), [0] * 6)) == 0.0
