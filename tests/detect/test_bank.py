from __future__ import annotations

import numpy as np

from foreshock.detect.bank import Bank
from foreshock.detect.counters import CounterRates
from foreshock.ingest.series import SeriesTable
from foreshock.model import Entity, Event, Finding, SampleBatch
from foreshock.topology import Topology


def setup() -> tuple[Bank, SeriesTable]:
    topo = Topology([Entity("g0", "gpu", {"hostname": "n1", "gpu": "0"})], [])
    table = SeriesTable(topo)
    table.ids([{"__name__": "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "hostname": "n1", "gpu": "0"}], "test")
    rates = CounterRates(lambda ids: [table[int(i)].metric for i in ids])
    return Bank(table, [(rates, 0.5)]), table


def test_a_lasting_condition_is_one_finding_and_rearms_after_calm() -> None:
    bank, _ = setup()
    values = [0, 0, 1, 2, 3, 3, 3, 3, 4]  # errors at steps 2-4 (one episode) and at 8
    batch = SampleBatch(np.zeros(9, np.int64), 10.0 * np.arange(9), np.array(values, float))
    found = bank.feed(batch)
    assert [f.raised_at for f in found] == [20.0, 80.0]
    assert all(f.entity == "g0" and f.kind == "anomaly" for f in found)
    assert found[0].metric == "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"


def test_feeding_in_pieces_gives_the_same_findings() -> None:
    values = np.array([0, 0, 1, 2, 3, 3, 3, 3, 4], float)
    whole, _ = setup()
    a = whole.feed(SampleBatch(np.zeros(9, np.int64), 10.0 * np.arange(9), values))
    parts, _ = setup()
    b = []
    for k in range(0, 9, 2):
        sl = slice(k, k + 2)
        b += parts.feed(
            SampleBatch(np.zeros(len(values[sl]), np.int64), 10.0 * np.arange(9)[sl], values[sl])
        )
    assert [(f.raised_at, f.score) for f in a] == [(f.raised_at, f.score) for f in b]


def test_events_go_through_the_xid_policy() -> None:
    bank, _ = setup()
    (f,) = bank.events([Event(5.0, "n1", "xid", 79, "0000:3b:00", "fell off", None, "g0")])
    assert (f.entity, f.metric, f.score) == ("g0", "xid:79", 1.0)


def fleet_bank() -> tuple[Bank, np.ndarray]:
    """Four GPUs, each with a DBE counter and a temperature gauge, under the default bank."""
    from foreshock.detect.run import default_bank

    topo = Topology(
        [Entity(f"g{k}", "gpu", {"hostname": "n1", "gpu": str(k)}) for k in range(4)], []
    )
    table = SeriesTable(topo)
    labels = [
        {"__name__": m, "hostname": "n1", "gpu": str(k)}
        for k in range(4)
        for m in ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_FI_DEV_GPU_TEMP")
    ]
    return default_bank(table), table.ids(labels, "test")


def fleet_samples(ids: np.ndarray, steps: int) -> list[SampleBatch]:
    rng = np.random.default_rng(3)
    counter = np.arange(len(ids)) % 2 == 0
    totals = np.zeros(len(ids))
    out = []
    for k in range(steps):
        totals += np.where(counter, rng.random(len(ids)) < 0.05, 0)
        temp = 60 + rng.normal(0, 0.5, len(ids)) + (k > 150) * 15.0 * (ids == ids[3])
        out.append(SampleBatch(ids, np.full(len(ids), 10.0 * k), np.where(counter, totals, temp)))
    return out


def key(found: list[Finding]) -> list[tuple[object, ...]]:
    return sorted((f.raised_at, f.entity or "", f.metric, f.detector, f.score) for f in found)


def test_one_scrape_per_feed_equals_one_batch_of_many_steps() -> None:
    scrape_bank, ids = fleet_bank()
    batches = fleet_samples(ids, 200)
    one_by_one = [f for b in batches for f in scrape_bank.feed(b)]
    assert any(f.metric == "DCGM_FI_DEV_GPU_TEMP" for f in one_by_one)  # the step at k=150
    assert any(f.metric == "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL" for f in one_by_one)
    chunk_bank, _ = fleet_bank()
    chunked = []
    for k in range(0, 200, 30):  # several steps per batch, shuffled within the batch
        whole = SampleBatch.concat(batches[k : k + 30])
        order = np.random.default_rng(k).permutation(len(whole))
        chunked += chunk_bank.feed(whole.take(order))
    assert key(chunked) == key(one_by_one)
