"""The REST API's incidents: list, filter, page, detail, causal graph, lifecycle, comments."""

from __future__ import annotations

import itertools

import pytest
from api_seed import PDU, RACK, seed_many_incidents, seed_power_incident


@pytest.fixture
def seeded(service):
    return seed_power_incident(service.store, service.topology)


def test_list_filters_and_pages(service):
    seed_many_incidents(service.store, 25)
    auth = service.auth("viewer")
    r = service.client.get("/api/v1/incidents", params={"limit": 10}, headers=auth)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 25
    assert [i["id"] for i in page["items"]] == list(range(25, 15, -1))
    assert page["next_before"] == 16
    r = service.client.get("/api/v1/incidents", params={"limit": 10, "before": 16}, headers=auth)
    assert [i["id"] for i in r.json()["items"]] == list(range(15, 5, -1))
    resolved = service.client.get(
        "/api/v1/incidents", params={"status": "resolved"}, headers=auth
    ).json()
    assert resolved["total"] == 3
    assert {i["status"] for i in resolved["items"]} == {"resolved"}
    both = service.client.get(
        "/api/v1/incidents", params=[("status", "open"), ("status", "resolved")], headers=auth
    ).json()
    assert both["total"] == 25
    text = service.client.get("/api/v1/incidents", params={"q": "incident 7 "}, headers=auth)
    assert [i["title"] for i in text.json()["items"]] == [f"Incident 7 on {RACK}"]
    on = service.client.get("/api/v1/incidents", params={"entity": "nope"}, headers=auth)
    assert on.json() == {"items": [], "total": 0, "next_before": None}
    service.assert_no_internal_errors()


def test_bad_input_is_422_and_unknown_is_404(service):
    auth = service.auth("viewer")
    for params in ({"status": "burning"}, {"limit": 0}, {"limit": 501}, {"before": 2**63}):
        r = service.client.get("/api/v1/incidents", params=params, headers=auth)
        assert r.status_code == 422, (params, r.text)
    assert service.client.get("/api/v1/incidents/99", headers=auth).status_code == 404
    assert service.client.get("/api/v1/incidents/0", headers=auth).status_code == 422
    big = service.client.get(f"/api/v1/incidents/{2**64}", headers=auth)
    assert big.status_code == 422
    service.assert_no_internal_errors()


def test_detail_has_causes_blast_radius_suppressed_alerts_and_timeline(service, seeded):
    r = service.client.get(f"/api/v1/incidents/{seeded.incident}", headers=service.auth("viewer"))
    assert r.status_code == 200, r.text
    inc = r.json()
    assert inc["root_entity"] == PDU
    assert inc["status"] == "open"
    assert [c["entity"] for c in inc["root_causes"]] == [PDU, RACK]
    assert inc["root_causes"][0]["evidence"] == ["all GPUs of r001 dropped at once"]
    assert inc["blast_radius"]["entity"] == PDU
    assert inc["blast_radius"]["gpus"] > 0
    assert inc["suppressed"] == [
        {"alert": seeded.alerts[-1], "because": f"symptom of {PDU} (powers {RACK})"}
    ]
    assert sorted(a["fingerprint"] for a in inc["alerts"]) == sorted(seeded.alerts)
    whats = [t["what"] for t in inc["timeline"]]
    assert whats[0] == "started"
    assert whats.count("alert firing") == 3
    assert [t["at"] for t in inc["timeline"]] == sorted(t["at"] for t in inc["timeline"])


def test_causal_graph_highlights_the_root_and_the_path_to_each_symptom(service, seeded):
    url = f"/api/v1/incidents/{seeded.incident}/graph"
    graph = service.client.get(url, headers=service.auth("viewer")).json()
    assert graph["root"] == PDU
    roles = {n["id"]: n["role"] for n in graph["nodes"]}
    assert roles[PDU] == "root"
    assert roles[RACK] in ("cause", "path")
    assert {p["symptom"] for p in graph["paths"]} == set(seeded.symptoms)
    for path in graph["paths"]:
        chain = path["relations"]
        assert chain[0]["source"] == PDU
        assert chain[-1]["target"] == path["symptom"]
        assert [r["type"] for r in chain] == ["powers", "contains", "contains"]
        assert all(a["target"] == b["source"] for a, b in itertools.pairwise(chain))
    assert graph["omitted_symptoms"] == 0


def test_lifecycle_needs_operator_and_is_audited_and_published(service, seeded):
    url = f"/api/v1/incidents/{seeded.incident}"
    broadcaster = service.state.broadcaster
    before = broadcaster.published
    r = service.client.post(url + "/acknowledge", headers=service.auth("viewer"))
    assert r.status_code == 403
    assert service.client.post(url + "/acknowledge").status_code == 401
    r = service.client.post(url + "/acknowledge", headers=service.auth("operator"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged"
    assert r.json()["acknowledged_by"] == "operator"
    r = service.client.post(url + "/resolve", headers=service.auth("admin"))
    assert r.json()["status"] == "resolved"
    r = service.client.post(url + "/acknowledge", headers=service.auth("operator"))
    assert r.status_code == 409  # resolved → acknowledged is not a step
    r = service.client.post(url + "/reopen", headers=service.auth("operator"))
    assert r.json()["status"] == "open"
    assert broadcaster.published - before == 3
    audit = service.store.audit_log(subject=f"incident/{seeded.incident}")
    assert [(a.actor, a.data) for a in audit] == [
        ("operator", {"status": "acknowledged"}),
        ("admin", {"status": "resolved"}),
        ("operator", {"status": "open"}),
    ]
    r = service.client.post("/api/v1/incidents/99/resolve", headers=service.auth("operator"))
    assert r.status_code == 404
    # The same entries through the API, and tailed from the last id seen.
    subject = f"incident/{seeded.incident}"
    r = service.client.get(
        "/api/v1/audit", params={"subject": subject}, headers=service.auth("viewer")
    )
    assert r.status_code == 200, r.text
    assert [e["data"] for e in r.json()] == [a.data for a in audit]
    last = r.json()[0]["id"]
    r = service.client.get(
        "/api/v1/audit", params={"subject": subject, "after": last}, headers=service.auth("viewer")
    )
    assert [e["decision"] for e in r.json()] == [a.decision for a in audit[1:]]
    assert service.client.get("/api/v1/audit").status_code == 401
    service.assert_no_internal_errors()


def test_comments(service, seeded):
    url = f"/api/v1/incidents/{seeded.incident}/comments"
    r = service.client.post(
        url, json={"text": "PDU breaker tripped"}, headers=service.auth("viewer")
    )
    assert r.status_code == 403
    r = service.client.post(
        url, json={"text": "PDU breaker tripped"}, headers=service.auth("operator")
    )
    assert r.status_code == 201, r.text
    assert r.json()["author"] == "operator"
    assert r.json()["text"] == "PDU breaker tripped"
    for bad in ({"text": ""}, {}, {"text": 5}, {"text": "x" * 10_001}):
        assert (
            service.client.post(url, json=bad, headers=service.auth("operator")).status_code == 422
        )
    r = service.client.post(url, content=b"not json", headers=service.auth("operator"))
    assert r.status_code == 422
    detail = service.client.get(
        f"/api/v1/incidents/{seeded.incident}", headers=service.auth("viewer")
    ).json()
    assert [c["text"] for c in detail["comments"]] == ["PDU breaker tripped"]
    assert any(t["what"] == "comment by operator" for t in detail["timeline"])
    service.assert_no_internal_errors()


def test_metrics_count_open_incidents_and_queues(service, seeded):
    service.state.queues["detect"] = lambda: 7
    text = service.client.get("/metrics", headers=service.auth("viewer")).text
    assert "foreshock_incidents_open 1" in text
    assert 'foreshock_incidents{status="open"} 1' in text
    assert 'foreshock_queue_depth{queue="detect"} 7' in text
    assert 'foreshock_queue_depth{queue="stream"} 0' in text
    assert "foreshock_stream_clients 0" in text
