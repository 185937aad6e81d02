"""Service root-cause ranking on small hand-made frames whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from foreshock.diagnose.service_rca import (
    THRESHOLD,
    deviations,
    rank_entities,
    rank_with_graph,
    robust_location_scale,
)

RNG = np.random.default_rng(7)


def noise(level: float, sd: float, n: int = 200) -> np.ndarray:
    return level + sd * RNG.standard_normal(n)


def test_robust_scale_ignores_outliers_and_nans() -> None:
    x = np.concatenate([noise(10.0, 1.0, 500), [1e6, np.nan, np.nan]])
    fit = robust_location_scale(x)
    assert fit is not None
    med, scale = fit
    assert med == pytest.approx(10.0, abs=0.2)
    assert scale == pytest.approx(1.0, rel=0.2)
    assert robust_location_scale(np.array([1.0, 2.0, np.nan])) is None


def test_constant_normal_series_gives_finite_large_z() -> None:
    normal = {("db", "availability"): np.full(100, 100.0)}
    anomalous = {("db", "availability"): np.array([100.0, 90.0, 95.0])}
    (dev,) = deviations(anomalous, [normal]).values()
    assert np.isfinite(dev.z)
    assert dev.z < -THRESHOLD
    assert dev.value == 90.0


def test_without_graph_the_most_deviating_service_ranks_first() -> None:
    normal = {
        ("carts", "cpu"): noise(10, 1),
        ("carts", "mem"): noise(300, 5),
        ("orders", "cpu"): noise(20, 2),
        ("front", "cpu"): noise(30, 3),
    }
    anomalous = {
        ("carts", "cpu"): noise(60, 1, 30),  # the hog: about 50 sigma
        ("carts", "mem"): noise(300, 5, 30),
        ("orders", "cpu"): noise(26, 2, 30),  # knock-on: about 3 sigma
        ("front", "cpu"): noise(30, 3, 30),
    }
    ranked = rank_entities(deviations(anomalous, [normal]))
    assert [s.entity for s in ranked][:2] == ["carts", "orders"]
    assert ranked[0].metric == "cpu"
    assert "up" in ranked[0].evidence
    assert "sigma" in ranked[0].evidence


def _chain_case(
    pre: dict[str, float], post: dict[str, float]
) -> tuple[dict[tuple[str, str], np.ndarray], list[dict[tuple[str, str], np.ndarray]]]:
    normal = {(e, "latency"): noise(pre[e], 1.0) for e in pre}
    rows = {(e, "latency"): np.array([pre[e], post[e], post[e]]) for e in pre}
    return rows, [normal]


# web calls api and cache; api calls db; noise is 1 everywhere.
CALLS = {"web": ["api", "cache"], "api": ["db"], "db": [], "cache": []}


def test_graph_prefers_most_upstream_cause_that_explains_the_alert() -> None:
    rows, normals = _chain_case(
        pre={"web": 100, "api": 50, "db": 10, "cache": 5},
        post={"web": 140, "api": 90, "db": 60, "cache": 5},
    )
    ranked = rank_with_graph(deviations(rows, normals, onset=1), CALLS, "web")
    assert [s.entity for s in ranked][:3] == ["db", "api", "web"]
    assert "root of the anomaly at web" in ranked[0].evidence


def test_a_far_weaker_anomalous_dependency_does_not_take_the_blame() -> None:
    # db is anomalous (8 sigma) but far weaker than api (80 sigma): api is the root.
    rows, normals = _chain_case(
        pre={"web": 100, "api": 50, "db": 10, "cache": 5},
        post={"web": 140, "api": 130, "db": 18, "cache": 5},
    )
    ranked = rank_with_graph(deviations(rows, normals, onset=1), CALLS, "web")
    assert ranked[0].entity == "api"


def test_an_anomaly_off_the_alerts_dependencies_ranks_after_them() -> None:
    calls = {**CALLS, "batch": ["queue"], "queue": []}
    rows, normals = _chain_case(
        pre={"web": 100, "api": 50, "db": 10, "cache": 5, "batch": 10, "queue": 10},
        post={"web": 120, "api": 70, "db": 10, "cache": 5, "batch": 10, "queue": 500},
    )
    ranked = [s.entity for s in rank_with_graph(deviations(rows, normals, onset=1), calls, "web")]
    assert ranked[0] == "api"
    assert ranked.index("queue") > ranked.index("web")


def test_direction_follows_the_alert() -> None:
    # Availability drops at web; cache *rises* strongly (irrelevant direction), api drops.
    normal = {(e, "availability"): noise(99.0, 0.2) for e in ("web", "api", "cache", "db")}
    rows = {
        ("web", "availability"): np.array([99.0, 95.0]),
        ("api", "availability"): np.array([99.0, 90.0]),
        ("cache", "availability"): np.array([99.0, 140.0]),
        ("db", "availability"): np.array([99.0, 99.0]),
    }
    ranked = rank_with_graph(deviations(rows, [normal], onset=1), CALLS, "web")
    assert ranked[0].entity == "api"
    assert ranked[0].score > THRESHOLD
    assert [s.entity for s in ranked].index("cache") > 1


def test_of_two_roots_the_one_explaining_more_of_the_incident_wins() -> None:
    # svc is called by web and by worker, both anomalous; edge is called by web only and is
    # stronger on its own, but explains less of what is seen.
    calls = {"web": ["svc", "edge"], "worker": ["svc"], "svc": [], "edge": []}
    rows, normals = _chain_case(
        pre={"web": 100, "worker": 100, "svc": 20, "edge": 20},
        post={"web": 110, "worker": 112, "svc": 30, "edge": 45},
    )
    ranked = rank_with_graph(deviations(rows, normals, onset=1), calls, "web")
    assert [s.entity for s in ranked][:2] == ["svc", "edge"]
    assert "accounts for 3 anomalous entities" in ranked[0].evidence


def test_chronic_drift_before_onset_is_not_the_incident() -> None:
    # job was already 40 sigma off before the onset and jumps 60 more; api goes 0 -> 30 sigma.
    calls = {"web": ["api", "job"], "api": [], "job": []}
    normal = {(e, "latency"): noise(10.0, 1.0) for e in calls}
    rows = {
        ("web", "latency"): np.array([10.0, 25.0]),
        ("api", "latency"): np.array([10.0, 40.0]),
        ("job", "latency"): np.array([50.0, 110.0]),
    }
    devs = deviations(rows, [normal], onset=1)
    assert devs[("job", "latency")].z < devs[("api", "latency")].z
    assert rank_with_graph(devs, calls, "web")[0].entity == "api"


def test_series_silent_before_onset_is_left_out_and_missing_target_falls_back() -> None:
    normal = {("a", "m"): noise(1, 0.1), ("b", "m"): noise(1, 0.1)}
    rows = {("a", "m"): np.array([np.nan, 5.0]), ("b", "m"): np.array([1.0, 3.0])}
    devs = deviations(rows, [normal], onset=1)
    assert set(devs) == {("b", "m")}
    ranked = rank_with_graph(devs, {"x": ["b"]}, "x")  # x has no data: plain ranking
    assert [s.entity for s in ranked] == ["b"]


def test_the_normal_period_closest_to_the_pre_onset_state_sets_the_scale() -> None:
    quiet = {("s", "m"): noise(10.0, 1.0)}
    busy = {("s", "m"): noise(100.0, 20.0)}
    rows = {("s", "m"): np.array([10.0, 30.0])}
    z = deviations(rows, [quiet, busy], onset=1)[("s", "m")].z
    assert z == pytest.approx(20.0, rel=0.25)


def test_an_entity_without_data_does_not_cut_the_path() -> None:
    # web -> gateway (no telemetry) -> db: db is still found as the root behind web.
    calls = {"web": ["gateway"], "gateway": ["db"], "db": []}
    rows, normals = _chain_case(pre={"web": 100, "db": 10}, post={"web": 130, "db": 80})
    ranked = rank_with_graph(deviations(rows, normals, onset=1), calls, "web")
    assert [s.entity for s in ranked] == ["db", "web"]
    assert "accounts for 2 anomalous entities" in ranked[0].evidence


def test_alerting_entity_is_blamed_after_its_anomalous_dependencies() -> None:
    # api barely moves (a weak link), db behind it is strongly anomalous: db, then web itself.
    rows, normals = _chain_case(
        pre={"web": 100, "api": 50, "db": 10, "cache": 5},
        post={"web": 130, "api": 52, "db": 60, "cache": 5},
    )
    ranked = rank_with_graph(deviations(rows, normals, onset=1), CALLS, "web")
    assert [s.entity for s in ranked][:2] == ["db", "web"]
    assert "no anomalous path" in ranked[0].evidence
    # With nothing anomalous below it, the alerting entity is the answer.
    rows, normals = _chain_case(
        pre={"web": 100, "api": 50, "db": 10, "cache": 5},
        post={"web": 130, "api": 51, "db": 10, "cache": 5},
    )
    assert rank_with_graph(deviations(rows, normals, onset=1), CALLS, "web")[0].entity == "web"
