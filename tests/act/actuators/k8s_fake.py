"""A small fake of exactly the Kubernetes API endpoints KubernetesActuator calls.

No API server can run here, so this serves nodes, pods, evictions and NodeMaintenance
objects shaped after the API's documented objects (core/v1 Node, Pod, Status; policy/v1
Eviction; maintenance.nvidia.com/v1alpha1 NodeMaintenance): JSON merge patch on nodes and
node status, `fieldSelector=spec.nodeName=...` on pods, 429 for evictions a
PodDisruptionBudget refuses, 409 for a NodeMaintenance that exists, and `dryRun=All`
answered without storing anything. Every request is logged for the tests to inspect.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

NM = "/apis/maintenance.nvidia.com/v1alpha1/namespaces/([^/]+)/nodemaintenances"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def node(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]},
    }


def pod(
    name: str,
    node_name: str,
    *,
    namespace: str = "train",
    owner: str = "ReplicaSet",
    phase: str = "Running",
    mirror: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": owner, "name": f"{name}-owner", "uid": f"uid-{name}"}
        ],
    }
    if mirror:
        meta["annotations"] = {"kubernetes.io/config.mirror": "x"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": phase},
    }


@dataclass
class FakeCluster:
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pdb_blocked: set[str] = field(default_factory=set)  # pod names a PDB protects
    maintenances: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def add_pod(self, p: dict[str, Any]) -> None:
        self.pods[(p["metadata"]["namespace"], p["metadata"]["name"])] = p


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


def _handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n)) if n else None

        def _route(self, method: str) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            dry = query.get("dryRun") == ["All"]
            path = url.path
            with cluster.lock:
                cluster.log.append((method, self.path))
                code, body = self._dispatch(method, path, query, dry)
            self._send(code, body)

        def _dispatch(
            self, method: str, path: str, query: dict[str, list[str]], dry: bool
        ) -> tuple[int, Any]:
            if m := re.fullmatch(r"/api/v1/nodes/([^/]+)(/status)?", path):
                name = m.group(1)
                if name not in cluster.nodes:
                    return 404, _status(404, "NotFound", f'nodes "{name}" not found')
                if method == "GET":
                    return 200, cluster.nodes[name]
                if method == "PATCH":
                    if self.headers.get("Content-Type") != "application/merge-patch+json":
                        return 415, _status(415, "UnsupportedMediaType", "merge patch only")
                    patched = merge_patch(cluster.nodes[name], self._body())
                    if not dry:
                        cluster.nodes[name] = patched
                    return 200, patched
            if path == "/api/v1/pods" and method == "GET":
                sel = query.get("fieldSelector", [""])[0]
                want = sel.removeprefix("spec.nodeName=") if sel else None
                items = [
                    p
                    for p in cluster.pods.values()
                    if want is None or p["spec"]["nodeName"] == want
                ]
                return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}
            if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/eviction", path):
                ns, name = m.groups()
                if (ns, name) not in cluster.pods:
                    return 404, _status(404, "NotFound", f'pods "{name}" not found')
                self._body()
                if name in cluster.pdb_blocked:
                    return 429, _status(
                        429,
                        "TooManyRequests",
                        "Cannot evict pod as it would violate the pod's disruption budget.",
                    )
                if not dry:
                    del cluster.pods[(ns, name)]
                return 201, _status(201, "", "") | {"status": "Success"}
            if m := re.fullmatch(NM, path):
                ns = m.group(1)
                body = self._body()
                key = (ns, body["metadata"]["name"])
                if key in cluster.maintenances:
                    return 409, _status(409, "AlreadyExists", "nodemaintenances exists")
                if not dry:
                    cluster.maintenances[key] = body
                return 201, body
            if m := re.fullmatch(NM + "/([^/]+)", path):
                key = (m.group(1), m.group(2))
                if key not in cluster.maintenances:
                    return 404, _status(404, "NotFound", "not found")
                if method == "DELETE" and not dry:
                    del cluster.maintenances[key]
                return 200, _status(200, "", "") | {"status": "Success"}
            return 404, _status(404, "NotFound", f"the fake does not serve {method} {path}")

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler


@contextmanager
def fake_cluster(cluster: FakeCluster) -> Iterator[FakeCluster]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cluster))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cluster.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield cluster
    finally:
        server.shutdown()
        server.server_close()
