"""Kubernetes through the official client: cordon, taint, drain by eviction, node conditions,
and NodeMaintenance objects for planned work.

Ownership lives in labels and annotations under `foreshock.io/` (operations.md §2, as
NVSentinel does): `foreshock.io/cordon-by=foreshock` on every node Foreshock cordons. A node
that is unschedulable without that label belongs to someone else and is never touched, and
Foreshock uncordons only nodes carrying its own label (NVSentinel #1424, kured #929).

Drain is kubectl's: cordon, then one Eviction per pod, skipping DaemonSet and mirror pods
and finished pods. A PodDisruptionBudget refusal comes back as HTTP 429 and is a retryable
failure; the `drained` validator passes once no evictable pod is left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from foreshock.act.actuators.base import LABEL_PREFIX, OWNER, ActuatorResult, Call, NodeState

CORDON_BY = f"{LABEL_PREFIX}cordon-by"
CORDON_REASON = f"{LABEL_PREFIX}cordon-reason"  # annotation: free text
CORDON_AT = f"{LABEL_PREFIX}cordon-timestamp"
TAINT_KEY = f"{LABEL_PREFIX}remediation"
CONDITION = "ForeshockRemediation"
MIRROR = "kubernetes.io/config.mirror"
MERGE = "application/merge-patch+json"
NM_GROUP, NM_VERSION, NM_PLURAL = "maintenance.nvidia.com", "v1alpha1", "nodemaintenances"
RETRYABLE_STATUS = {409, 429, 500, 502, 503, 504}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def evictable(pod: Any) -> bool:
    meta = pod.metadata
    if any(ref.kind == "DaemonSet" for ref in meta.owner_references or []):
        return False
    if MIRROR in (meta.annotations or {}):
        return False
    return (pod.status.phase if pod.status else None) not in {"Succeeded", "Failed"}


class KubernetesActuator:
    name = "kubernetes"
    actions = frozenset(
        {"cordon", "uncordon", "resume", "drain", "taint", "condition", "maintenance"}
    )

    def __init__(
        self,
        api_client: Any,
        *,
        maintenance_namespace: str = "default",
        grace_period_s: int | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.namespace = maintenance_namespace
        self.grace_period_s = grace_period_s
        self.timeout_s = timeout_s

    @classmethod
    def from_config(cls, **kwargs: Any) -> KubernetesActuator:
        """In-cluster credentials when running in a pod, else the local kubeconfig."""
        from kubernetes import config

        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except config.ConfigException:
            config.load_kube_config()  # type: ignore[no-untyped-call]
        return cls(client.ApiClient(), **kwargs)

    # --- reading ------------------------------------------------------------------------

    def _pods(self, node: str) -> list[Any]:
        listed = self.core.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={node}", _request_timeout=self.timeout_s
        )
        return list(listed.items or [])

    def read(self, node: str) -> NodeState:
        try:
            n = self.core.read_node(node, _request_timeout=self.timeout_s)
        except ApiException as exc:
            if exc.status == 404:
                return NodeState(node, "Missing", exists=False)
            raise
        meta = n.metadata or client.V1ObjectMeta()
        labels = dict(meta.labels or {})
        annotations = dict(meta.annotations or {})
        cordoned = bool(n.spec and n.spec.unschedulable)
        held: str | None = None
        if cordoned:
            held = OWNER if labels.get(CORDON_BY) == OWNER else "another owner (cordoned)"
        remaining = [p for p in self._pods(node) if evictable(p)] if cordoned else []
        return NodeState(
            name=node,
            state="SchedulingDisabled" if cordoned else "Schedulable",
            held_by=held,
            reason=annotations.get(CORDON_REASON, ""),
            labels=labels,
            drained=cordoned and not remaining,
        )

    # --- acting -------------------------------------------------------------------------

    def run(self, call: Call) -> ActuatorResult:
        try:
            before = self.read(call.node)
            if not before.exists:
                return ActuatorResult.failure(f"no Kubernetes node {call.node}", retryable=False)
            if before.foreign and call.action != "condition":
                return ActuatorResult.failure(
                    f"{call.node} is cordoned by someone else; not touching it", retryable=False
                )
            return self._run(call, before)
        except ApiException as exc:
            return ActuatorResult.failure(
                f"API {exc.status}: {exc.reason}", retryable=exc.status in RETRYABLE_STATUS
            )
        except Exception as exc:  # urllib3 connection errors and the like
            return ActuatorResult.failure(f"{type(exc).__name__}: {exc}", retryable=True)

    def _dry(self, call: Call) -> str | None:
        return "All" if call.dry_run else None

    def _patch(self, call: Call, body: Mapping[str, Any]) -> None:
        self.core.patch_node(
            call.node,
            dict(body),
            dry_run=self._dry(call),
            _content_type=MERGE,
            _request_timeout=self.timeout_s,
        )

    def _cordon(self, call: Call) -> None:
        self._patch(
            call,
            {
                "spec": {"unschedulable": True},
                "metadata": {
                    "labels": {CORDON_BY: OWNER},
                    "annotations": {CORDON_REASON: call.reason, CORDON_AT: _now()},
                },
            },
        )

    def _run(self, call: Call, before: NodeState) -> ActuatorResult:
        if call.action == "cordon":
            self._cordon(call)
            return ActuatorResult.success(f"cordoned {call.node}")
        if call.action in {"uncordon", "resume"}:
            return self._uncordon(call, before)
        if call.action == "drain":
            return self._drain(call)
        if call.action == "taint":
            return self._taint(call)
        if call.action == "condition":
            return self._condition(call)
        if call.action == "maintenance":
            return self._maintenance(call)
        return ActuatorResult.failure(f"kubernetes cannot {call.action}", retryable=False)

    def _uncordon(self, call: Call, before: NodeState) -> ActuatorResult:
        if before.held_by is None:
            return ActuatorResult.success(f"{call.node} already schedulable")
        node = self.core.read_node(call.node, _request_timeout=self.timeout_s)
        taints = [
            t.to_dict()
            for t in (node.spec.taints if node.spec else None) or []
            if t.key != TAINT_KEY
        ]
        self._patch(
            call,
            {
                "spec": {"unschedulable": None, "taints": taints or None},
                "metadata": {
                    "labels": {CORDON_BY: None},
                    "annotations": {CORDON_REASON: None, CORDON_AT: None},
                },
            },
        )
        try:  # planned work ends by deleting our NodeMaintenance, if there is one
            self.custom.delete_namespaced_custom_object(
                NM_GROUP,
                NM_VERSION,
                self.namespace,
                NM_PLURAL,
                f"foreshock-{call.node}",
                dry_run=self._dry(call),
                _request_timeout=self.timeout_s,
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
        return ActuatorResult.success(f"uncordoned {call.node}")

    def _drain(self, call: Call) -> ActuatorResult:
        self._cordon(call)
        pods = [p for p in self._pods(call.node) if evictable(p)]
        blocked: list[str] = []
        for pod in pods:
            meta = pod.metadata
            body = client.V1Eviction(
                metadata=client.V1ObjectMeta(name=meta.name, namespace=meta.namespace),
                delete_options=client.V1DeleteOptions(grace_period_seconds=self.grace_period_s),
            )
            try:
                self.core.create_namespaced_pod_eviction(
                    meta.name,
                    meta.namespace,
                    body,
                    dry_run=self._dry(call),
                    _request_timeout=self.timeout_s,
                )
            except ApiException as exc:
                if exc.status == 404:
                    continue  # gone already
                if exc.status != 429:
                    raise
                blocked.append(f"{meta.namespace}/{meta.name}")
        if blocked:
            return ActuatorResult.failure(
                f"{len(blocked)} pod(s) held by a PodDisruptionBudget: {', '.join(blocked)}",
                retryable=True,
                blocked=len(blocked),
            )
        return ActuatorResult.success(f"evicted {len(pods)} pod(s) from {call.node}")

    def _taint(self, call: Call) -> ActuatorResult:
        node = self.core.read_node(call.node, _request_timeout=self.timeout_s)
        taints = [t.to_dict() for t in (node.spec.taints if node.spec else None) or []]
        effect = str(call.params.get("effect", "NoSchedule"))
        if not any(t["key"] == TAINT_KEY for t in taints):
            taints.append({"key": TAINT_KEY, "value": "true", "effect": effect})
        self._patch(call, {"spec": {"taints": taints}})
        return ActuatorResult.success(f"tainted {call.node} {TAINT_KEY}:{effect}")

    def _condition(self, call: Call) -> ActuatorResult:
        node = self.core.read_node(call.node, _request_timeout=self.timeout_s)
        others = (
            [c.to_dict() for c in (node.status.conditions or []) if c.type != CONDITION]
            if node.status
            else []
        )
        now = _now()
        ours = {
            "type": CONDITION,
            "status": str(call.params.get("status", "True")),
            "reason": str(call.params.get("reason", "UnderRemediation")),
            "message": call.reason,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        others = [{_camel(k): v for k, v in c.items() if v is not None} for c in others]
        self.core.patch_node_status(
            call.node,
            {"status": {"conditions": [*others, ours]}},
            dry_run=self._dry(call),
            _content_type=MERGE,
            _request_timeout=self.timeout_s,
        )
        return ActuatorResult.success(f"condition {CONDITION}={ours['status']} on {call.node}")

    def _maintenance(self, call: Call) -> ActuatorResult:
        body = {
            "apiVersion": f"{NM_GROUP}/{NM_VERSION}",
            "kind": "NodeMaintenance",
            "metadata": {"name": f"foreshock-{call.node}", "namespace": self.namespace},
            "spec": {
                "requestorID": "foreshock.io",
                "nodeName": call.node,
                "cordon": True,
                "drainSpec": {
                    "force": False,
                    "deleteEmptyDir": bool(call.params.get("delete_empty_dir", False)),
                    "timeoutSeconds": int(call.params.get("drain_timeout_s", 300)),
                    "podEvictionFilters": [{"byResourceNameRegex": "nvidia.com/gpu-*"}],
                },
            },
        }
        try:
            self.custom.create_namespaced_custom_object(
                NM_GROUP,
                NM_VERSION,
                self.namespace,
                NM_PLURAL,
                body,
                dry_run=self._dry(call),
                _request_timeout=self.timeout_s,
            )
        except ApiException as exc:
            if exc.status != 409:
                raise
            return ActuatorResult.success(f"NodeMaintenance foreshock-{call.node} exists")
        return ActuatorResult.success(f"NodeMaintenance foreshock-{call.node} requested")


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)
