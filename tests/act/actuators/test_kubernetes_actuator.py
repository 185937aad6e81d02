"""KubernetesActuator against a local fake of the endpoints it calls (k8s_fake.py): no API
server can run on this machine, so these tests check the requests and the object shapes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_fake import FakeCluster, fake_cluster, node, pod
from kubernetes import client

from foreshock.act.actuators.base import OWNER, Call
from foreshock.act.actuators.kubernetes import (
    CONDITION,
    CORDON_BY,
    TAINT_KEY,
    KubernetesActuator,
)
from foreshock.act.history import ACTOR
from foreshock.act.loop import ControlLoop
from foreshock.act.model import Trigger
from foreshock.act.policy import Match, Policy, Step
from foreshock.store.state import StateStore


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    c = FakeCluster()
    for name in ("gpu-a", "gpu-b", "gpu-c"):
        c.nodes[name] = node(name)
    c.add_pod(pod("trainer-0", "gpu-a"))
    c.add_pod(pod("trainer-1", "gpu-a", namespace="other"))
    c.add_pod(pod("dcgm-exporter", "gpu-a", namespace="kube-system", owner="DaemonSet"))
    c.add_pod(pod("static", "gpu-a", namespace="kube-system", owner="Node", mirror=True))
    c.add_pod(pod("done", "gpu-a", phase="Succeeded"))
    c.add_pod(pod("other-node", "gpu-b"))
    with fake_cluster(c):
        yield c


@pytest.fixture
def kube(cluster: FakeCluster) -> KubernetesActuator:
    config = client.Configuration(host=cluster.url)
    return KubernetesActuator(client.ApiClient(config))


def call(action: str, node: str = "gpu-a", **kw: object) -> Call:
    return Call(action, node, "incident-7 " + action, key="k", **kw)  # type: ignore[arg-type]


def test_drain_cordons_and_evicts_all_but_daemonsets_mirrors_and_finished(
    kube: KubernetesActuator, cluster: FakeCluster
) -> None:
    result = kube.run(call("drain"))
    assert result.ok, result.detail
    n = cluster.nodes["gpu-a"]
    assert n["spec"]["unschedulable"] is True
    assert n["metadata"]["labels"][CORDON_BY] == OWNER
    evicted = sorted(p for m, p in cluster.log if m == "POST" and p.endswith("/eviction"))
    assert evicted == [
        "/api/v1/namespaces/other/pods/trainer-1/eviction",
        "/api/v1/namespaces/train/pods/trainer-0/eviction",
    ]
    state = kube.read("gpu-a")
    assert state.drained
    assert state.held_by == OWNER
    assert ("other", "trainer-1") not in cluster.pods
    assert ("kube-system", "dcgm-exporter") in cluster.pods


def test_pdb_refusal_is_retryable_and_drain_not_done(
    kube: KubernetesActuator, cluster: FakeCluster
) -> None:
    cluster.pdb_blocked.add("trainer-0")
    result = kube.run(call("drain"))
    assert not result.ok
    assert result.retryable
    assert "PodDisruptionBudget" in result.detail
    assert not kube.read("gpu-a").drained
    cluster.pdb_blocked.clear()
    assert kube.run(call("drain")).ok
    assert kube.read("gpu-a").drained


def test_foreign_cordon_is_never_touched(kube: KubernetesActuator, cluster: FakeCluster) -> None:
    cluster.nodes["gpu-b"]["spec"]["unschedulable"] = True  # kubectl cordon by someone
    for action in ("drain", "uncordon", "cordon", "taint"):
        result = kube.run(call(action, "gpu-b"))
        assert not result.ok
        assert not result.retryable
    assert not [m for m, p in cluster.log if m != "GET"]
    assert kube.read("gpu-b").foreign


def test_uncordon_removes_only_what_foreshock_added(
    kube: KubernetesActuator, cluster: FakeCluster
) -> None:
    cluster.nodes["gpu-c"]["spec"]["taints"] = [
        {"key": "nvidia.com/gpu-error", "value": "fatal", "effect": "NoSchedule"}
    ]
    assert kube.run(call("cordon", "gpu-c")).ok
    assert kube.run(call("taint", "gpu-c")).ok
    keys = [t["key"] for t in cluster.nodes["gpu-c"]["spec"]["taints"]]
    assert keys == ["nvidia.com/gpu-error", TAINT_KEY]
    assert kube.run(call("uncordon", "gpu-c")).ok
    n = cluster.nodes["gpu-c"]
    assert "unschedulable" not in n["spec"]
    assert [t["key"] for t in n["spec"]["taints"]] == ["nvidia.com/gpu-error"]
    assert CORDON_BY not in n["metadata"]["labels"]
    assert kube.read("gpu-c").held_by is None


def test_condition_keeps_the_others(kube: KubernetesActuator, cluster: FakeCluster) -> None:
    assert kube.run(call("condition", "gpu-b")).ok
    conds = {c["type"]: c for c in cluster.nodes["gpu-b"]["status"]["conditions"]}
    assert conds["Ready"]["status"] == "True"
    assert conds[CONDITION]["status"] == "True"
    assert conds[CONDITION]["message"] == "incident-7 condition"


def test_node_maintenance_object_and_its_removal(
    kube: KubernetesActuator, cluster: FakeCluster
) -> None:
    assert kube.run(call("maintenance", "gpu-b")).ok
    assert kube.run(call("maintenance", "gpu-b")).ok  # 409: it exists, which is fine
    nm = cluster.maintenances[("default", "foreshock-gpu-b")]
    assert nm["kind"] == "NodeMaintenance"
    assert nm["spec"]["nodeName"] == "gpu-b"
    assert nm["spec"]["requestorID"] == "foreshock.io"
    assert kube.run(call("cordon", "gpu-b")).ok
    assert kube.run(call("resume", "gpu-b")).ok
    assert cluster.maintenances == {}


def test_dry_run_changes_nothing(kube: KubernetesActuator, cluster: FakeCluster) -> None:
    before = {k: dict(v) for k, v in cluster.nodes.items()}
    assert kube.run(call("drain", dry_run=True)).ok
    assert cluster.nodes == before
    assert ("train", "trainer-0") in cluster.pods
    assert all("dryRun=All" in p for m, p in cluster.log if m in {"PATCH", "POST"})


def test_missing_node_and_unreachable_server(kube: KubernetesActuator) -> None:
    missing = kube.run(call("drain", "nope"))
    assert not missing.ok
    assert not missing.retryable
    dead = KubernetesActuator(client.ApiClient(client.Configuration(host="http://127.0.0.1:9")))
    gone = dead.run(call("drain"))
    assert not gone.ok
    assert gone.retryable


def test_loop_retries_a_pdb_blocked_drain_then_returns_the_node(
    kube: KubernetesActuator, cluster: FakeCluster, tmp_path: Path
) -> None:
    policy = Policy(
        "k8s",
        "enforce",
        Match(),
        (
            Step("drain", retries=3, validate="drained"),
            Step("condition"),
            Step("uncordon", validate="in_service"),
        ),
    )
    cluster.pdb_blocked.add("trainer-0")
    with StateStore.open(tmp_path / "s.db") as store:
        loop = ControlLoop(store, [policy], [kube], fleet_size=3)
        loop.submit(Trigger("incident-7", "incident", "gpu-a", node="gpu-a"))
        loop.tick()
        assert cluster.nodes["gpu-a"]["spec"]["unschedulable"] is True  # cordoned, waiting
        cluster.pdb_blocked.clear()  # the budget allows a disruption again
        loop.tick()
        log = [(r.action, r.decision) for r in store.audit_log(actor=ACTOR, limit=100)]
    assert log.count(("drain", "started")) == 2
    assert ("drain", "validated") in log
    assert log[-1] == ("ladder", "done")
    assert "unschedulable" not in cluster.nodes["gpu-a"]["spec"]
    conds = [c["type"] for c in cluster.nodes["gpu-a"]["status"]["conditions"]]
    assert CONDITION in conds
