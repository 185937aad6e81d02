"""schemathesis against the published OpenAPI, in-process on the ASGI app: no 5xx, responses
that match their schema, status codes and content types the schema declares.

The event stream is left out (a response that never ends); `test_api_stream` covers it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_seed import seed_many_incidents, seed_power_incident
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from foreshock.api.app import create_app
from foreshock.api.auth import TokenStore
from foreshock.api.ingest import IngestPipeline
from foreshock.api.settings import Settings
from foreshock.sim.fleet import FleetShape, generate_fleet
from foreshock.store.state import StateStore
from foreshock.topology import Topology

TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    entities, relations = generate_fleet(FleetShape(gpus=64))
    topology = Topology(entities, relations)
    path: Path = tmp_path_factory.mktemp("schema") / "state.db"
    with StateStore.open(path) as store:
        seed_power_incident(store, topology)
        seed_many_incidents(store, 5)
        tokens = TokenStore()
        TOKEN["admin"] = tokens.mint("admin", "admin")
        yield create_app(Settings(), IngestPipeline(topology, store), tokens)


CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.status_code_conformance,
    checks.content_type_conformance,
]


def test_api_conforms_to_its_schema(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/api/v1/stream")
    headers = {"Authorization": f"Bearer {TOKEN['admin']}"}
    failures: list[str] = []
    tested = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):
        tested += 1

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=int(os.environ.get("FORESHOCK_SCHEMA_EXAMPLES", "25")),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:  # nothing to negate (no parameters, no body): nothing to try
            continue
        except (Exception, BaseExceptionGroup) as e:  # collect all, fail naming each
            failures.append(f"{operation.label} ({mode.value}): {e}"[:2000])
    assert tested >= 30
    assert not failures, "\n\n".join(failures)


def test_the_schema_publishes_every_api_route(app: FastAPI) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        paths = set(client.get("/openapi.json").json()["paths"])
    for path in (
        "/api/v1/topology",
        "/api/v1/entities",
        "/api/v1/entities/{entity_id}",
        "/api/v1/alerts",
        "/api/v1/findings",
        "/api/v1/incidents",
        "/api/v1/incidents/{incident_id}",
        "/api/v1/incidents/{incident_id}/acknowledge",
        "/api/v1/incidents/{incident_id}/resolve",
        "/api/v1/incidents/{incident_id}/comments",
        "/api/v1/blast-radius",
        "/api/v1/blast-radius/what-if",
        "/api/v1/stream",
    ):
        assert path in paths, path
    assert not any(p.startswith("/ui") for p in paths)
