"""The REST API's topology side: entities with health, series, fleet map, blast radius."""

from __future__ import annotations

import math

from api_seed import PDU, RACK, seed_power_incident

from foreshock.ingest.remote_write import encode_write_request

RW = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}


def test_topology_summary_counts_kinds_and_health(service):
    seed_power_incident(service.store, service.topology)
    r = service.client.get("/api/v1/topology", headers=service.auth("viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["entities"] == len(service.topology)
    assert body["kinds"]["gpu"] == 64
    assert body["relation_types"]["contains"] == 148
    assert sum(body["health"].values()) == len(service.topology)
    assert body["health"]["critical"] == 1  # the PDU (nothing contains it)
    assert body["health"]["degraded"] >= 6  # 3 GPUs, their node, rack, row, hall, site


def test_health_is_the_worst_on_or_below_an_entity(service):
    seeded = seed_power_incident(service.store, service.topology)
    auth = service.auth("viewer")

    def health(entity):
        r = service.client.get(f"/api/v1/entities/{entity}", headers=auth)
        assert r.status_code == 200, r.text
        return r.json()["health"], r.json()["own_health"]

    assert health(PDU) == ("critical", "critical")  # root cause of an open incident
    assert health(seeded.symptoms[1]) == ("degraded", "degraded")  # a firing alert
    assert health(seeded.symptoms[0]) == ("degraded", "degraded")  # alert beats finding
    node = seeded.symptoms[0].rsplit("/", 1)[0]
    assert health(node) == ("degraded", "ok")
    assert health(RACK) == ("degraded", "ok")
    assert health("dc1/h1/r002") == ("ok", "ok")
    service.store.set_incident_status(seeded.incident, "resolved")
    service.state.broadcaster.publish("incident", {"id": seeded.incident})  # as the API does
    assert health(PDU) == ("ok", "ok")
    service.store.add_findings([])
    detail = service.client.get(f"/api/v1/entities/{seeded.symptoms[0]}", headers=auth).json()
    assert [f["metric"] for f in detail["findings"]] == ["DCGM_FI_DEV_POWER_USAGE"]
    assert [a["entity"] for a in detail["alerts"]] == [seeded.symptoms[0]]
    assert detail["parents"][0]["id"] == node
    pdu = service.client.get(f"/api/v1/entities/{PDU}", headers=auth).json()
    assert [i["id"] for i in pdu["incidents"]] == [seeded.incident]


def test_entity_listing_filters_by_kind_health_and_prefix(service):
    seed_power_incident(service.store, service.topology)
    auth = service.auth("viewer")
    page = service.client.get(
        "/api/v1/entities", params={"kind": "gpu", "limit": 5}, headers=auth
    ).json()
    assert page["total"] == 64
    assert len(page["items"]) == 5
    assert {e["kind"] for e in page["items"]} == {"gpu"}
    bad = service.client.get(
        "/api/v1/entities", params={"kind": "gpu", "health": "degraded"}, headers=auth
    ).json()
    assert bad["total"] == 3
    some = service.client.get(
        "/api/v1/entities", params={"prefix": RACK + "/n1/", "kind": "gpu"}, headers=auth
    ).json()
    assert some["total"] == 8
    none = service.client.get("/api/v1/entities", params={"kind": "unicorn"}, headers=auth)
    assert none.json() == {"items": [], "total": 0}
    assert service.client.get("/api/v1/entities/no/such", headers=auth).status_code == 404
    service.assert_no_internal_errors()


def test_series_come_from_the_hot_window(service):
    gpu = service.gpus()[0]
    labels = {
        "__name__": "DCGM_FI_DEV_GPU_TEMP",
        "Hostname": gpu.labels["hostname"],
        "gpu": gpu.labels["gpu"],
        "UUID": gpu.labels["UUID"],
    }
    body = encode_write_request([labels], [[(1_000, 40.0), (2_000, math.inf), (3_000, 42.0)]])
    r = service.client.post("/api/v1/write", content=body, headers=service.auth("ingest", **RW))
    assert r.status_code == 204, r.text
    auth = service.auth("viewer")
    r = service.client.get("/api/v1/series", params={"entity": gpu.id}, headers=auth)
    assert r.status_code == 200, r.text
    (series,) = r.json()["series"]
    assert r.json()["source"] == "hot_window"
    assert series["metric"] == "DCGM_FI_DEV_GPU_TEMP"
    assert series["t"] == [1.0, 2.0, 3.0]
    assert series["v"] == [40.0, None, 42.0]
    other = service.client.get("/api/v1/series", params={"entity": RACK}, headers=auth).json()
    assert other == {"entity": RACK, "source": "hot_window", "series": []}
    r = service.client.get("/api/v1/series", params={"entity": "nope"}, headers=auth)
    assert r.status_code == 404


def test_fleet_map_places_every_gpu_once(service):
    seeded = seed_power_incident(service.store, service.topology)
    auth = service.auth("viewer")
    grid = service.client.get("/api/v1/fleet/map", headers=auth).json()
    ids = service.client.get("/api/v1/fleet/map/ids", headers=auth).json()
    assert len(grid["z"]) == len(ids) == grid["width"] * grid["height"]
    placed = [i for i in ids if i is not None]
    gpus = {g.id for g in service.gpus()}
    assert len(placed) == len(set(placed))
    assert gpus <= set(placed)
    assert grid["gpus"] == 64
    level = dict(zip(ids, grid["z"], strict=True))
    assert all(level[s] == 2 for s in seeded.symptoms)
    assert level[RACK] == 2
    assert level["dc1/h1/r002"] == 0
    assert [h["id"] for h in grid["halls"]] == ["dc1/h1"]


def test_blast_radius_and_what_if(service):
    auth = service.auth("viewer")
    one = service.client.get("/api/v1/blast-radius", params={"entity": PDU}, headers=auth)
    assert one.status_code == 200, one.text
    br = service.topology.blast_radius(PDU)
    assert one.json()["gpus"] == br.gpus
    assert one.json()["entities"] == br.entities
    both = service.client.post(
        "/api/v1/blast-radius/what-if", json={"entities": [RACK, "dc1/h1/r002"]}, headers=auth
    ).json()
    assert [i["entity"] for i in both["items"]] == [RACK, "dc1/h1/r002"]
    assert both["gpus"] == 64  # the two racks hold every GPU
    assert both["entities"] == len(
        {RACK, "dc1/h1/r002"}
        | service.topology.downstream(RACK)
        | service.topology.downstream("dc1/h1/r002")
    )
    for bad in ({"entities": []}, {"entities": "x"}, {}):
        r = service.client.post("/api/v1/blast-radius/what-if", json=bad, headers=auth)
        assert r.status_code == 422
    r = service.client.post("/api/v1/blast-radius/what-if", json={"entities": ["x"]}, headers=auth)
    assert r.status_code == 404
    service.assert_no_internal_errors()


def test_reads_need_a_token_or_a_session(service):
    for path in ("/api/v1/topology", "/api/v1/incidents", "/api/v1/fleet/map", "/api/v1/stream"):
        assert service.client.get(path).status_code == 401
        assert service.client.get(path, headers=service.auth("ingest")).status_code == 403
