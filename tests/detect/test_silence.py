"""Silence: parts that stop reporting while the rest of the feed goes on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from foreshock.detect.silence import Silence
from foreshock.ingest.series import SeriesTable
from foreshock.model import Finding, SampleBatch
from foreshock.topology import Topology, load_topology

GPUS = 4
METRICS = ("DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE")


@pytest.fixture
def topo(tmp_path: Path) -> Topology:
    entities = [{"id": "n1", "kind": "node", "labels": {"hostname": "n1"}}]
    entities += [
        {"id": f"n1/gpu{g}", "kind": "gpu", "labels": {"hostname": "n1", "gpu": str(g)}}
        for g in range(GPUS)
    ]
    entities.append({"id": "job-1", "kind": "job", "labels": {"hpc_job": "1"}})
    relations = [{"from": "n1", "to": f"n1/gpu{g}", "type": "contains"} for g in range(GPUS)]
    relations.append({"from": "n1/gpu0", "to": "job-1", "type": "hosts"})
    path = tmp_path / "topology.json"
    doc = {"apiVersion": "foreshock/v1", "kind": "Topology"}
    path.write_text(json.dumps({**doc, "entities": entities, "relations": relations}))
    return load_topology([path])


def series(table: SeriesTable) -> dict[tuple[str, str], int]:
    labels = [{"entity": f"n1/gpu{g}", "__name__": m} for g in range(GPUS) for m in METRICS] + [
        {"entity": "job-1", "__name__": "job_step_seconds"}
    ]
    ids = table.ids(labels, "test")
    keys = [(d["entity"], d["__name__"]) for d in labels]
    return dict(zip(keys, ids.tolist(), strict=True))


def scrape(ids: list[int], t: float, value: float = 1.0) -> SampleBatch:
    return SampleBatch(np.array(ids, np.int64), np.full(len(ids), t), np.full(len(ids), value))


def run(
    det: Silence,
    ids: dict[tuple[str, str], int],
    gone: dict[str, tuple[float, float]],
    until: float = 600.0,
    chunk: int = 1,
    start: float = 0.0,
) -> list[Finding]:
    """Scrape every 10 s; an entity in `gone` sends nothing in [from, to)."""
    found = []
    batches = []
    for t in np.arange(start, until, 10.0):
        live = [
            sid
            for (entity, _), sid in ids.items()
            if not (entity in gone and gone[entity][0] <= t < gone[entity][1])
        ]
        batches.append(scrape(live, float(t)))
        if len(batches) == chunk:
            found += det.feed(SampleBatch.concat(batches))
            batches = []
    if batches:
        found += det.feed(SampleBatch.concat(batches))
    return found


def test_a_gpu_that_stops_reporting_is_raised_once_without_look_ahead(topo: Topology) -> None:
    table = SeriesTable(topo)
    det = Silence(table)
    found = run(det, series(table), {"n1/gpu2": (200.0, 400.0)})
    assert [f.entity for f in found] == ["n1/gpu2"]
    f = found[0]
    assert (f.metric, f.detector) == ("absent", "silence")
    # Its last sample was at 190 s; three missed intervals are known at 220 s, not before.
    assert f.raised_at == pytest.approx(220.0)
    assert f.onset == pytest.approx(200.0)


def test_silence_inside_one_batch_is_found_at_the_time_it_could_be_known(
    topo: Topology,
) -> None:
    table = SeriesTable(topo)
    found = run(Silence(table), series(table), {"n1/gpu1": (200.0, 300.0)}, chunk=30)
    assert [(f.entity, f.raised_at) for f in found] == [("n1/gpu1", pytest.approx(220.0))]


def test_one_missing_metric_a_short_gap_or_a_job_ending_is_not_silence(
    topo: Topology,
) -> None:
    table = SeriesTable(topo)
    ids = series(table)
    # gpu3 loses one of its two metrics for good; gpu1 misses two scrapes; the job ends.
    partial = {k: v for k, v in ids.items() if k != ("n1/gpu3", METRICS[1])}
    det = Silence(table)
    found = run(det, ids, {"n1/gpu1": (200.0, 220.0)}, until=300.0)
    found += run(det, partial, {"job-1": (300.0, 1e9)}, until=900.0, start=300.0)
    assert found == []


def test_it_re_arms_when_the_part_reports_again(topo: Topology) -> None:
    table = SeriesTable(topo)
    det = Silence(table)
    found = run(det, series(table), {"n1/gpu0": (100.0, 200.0)}, until=300.0)
    found += run(det, series(table), {"n1/gpu0": (400.0, 500.0)}, until=600.0, start=300.0)
    assert [f.raised_at for f in found] == [pytest.approx(120.0), pytest.approx(420.0)]


def test_stale_markers_count_as_no_sample(topo: Topology) -> None:
    table = SeriesTable(topo)
    det = Silence(table)
    ids = series(table)
    gpu = [sid for (e, _), sid in ids.items() if e == "n1/gpu3"]
    found = []
    for t in np.arange(0.0, 300.0, 10.0):
        batch = scrape(list(ids.values()), float(t))
        if t >= 100:
            batch.values[np.isin(batch.series, gpu)] = np.nan
        found += det.feed(batch)
    assert [f.entity for f in found] == ["n1/gpu3"]


def test_one_small_batch_per_scrape_target_finds_the_same_silence(topo: Topology) -> None:
    table = SeriesTable(topo)
    det = Silence(table)
    ids = series(table)
    found = []
    for t in np.arange(0.0, 400.0, 10.0):
        for entity in sorted({e for e, _ in ids}):
            if entity == "n1/gpu2" and 200.0 <= t < 300.0:
                continue
            mine = [sid for (e, _), sid in ids.items() if e == entity]
            found += det.feed(scrape(mine, float(t) + 0.1 * len(found)))
    assert [f.entity for f in found] == ["n1/gpu2"]
    assert found[0].raised_at == pytest.approx(220.0, abs=1.0)


def test_a_scrape_in_any_order_finds_what_one_in_id_order_finds(topo: Topology) -> None:
    """Scrapes in series-id order take a shortcut (no sorting, contiguous ids as a slice): the
    same samples shuffled find the same silences at the same times."""
    rng = np.random.default_rng(5)
    gone = {"n1/gpu1": (100.0, 250.0), "n1/gpu3": (300.0, 350.0)}
    found = {}
    for shuffled in (False, True):
        table = SeriesTable(topo)
        det = Silence(table)
        ids = series(table)
        out = []
        for t in np.arange(0.0, 500.0, 10.0):
            live = [
                s for (e, _), s in ids.items() if not (e in gone and gone[e][0] <= t < gone[e][1])
            ]
            if shuffled:
                live = rng.permutation(live).tolist()
            out += det.feed(scrape(live, float(t)))
        found[shuffled] = [(f.entity, f.raised_at, f.onset) for f in out]
    assert found[False] == found[True]
    assert [e for e, _, _ in found[False]] == ["n1/gpu1", "n1/gpu3"]
