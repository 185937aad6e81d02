"""Silences through the Alertmanager actuator, against a real Alertmanager."""

from __future__ import annotations

from pathlib import Path

import pytest
import servers

from foreshock.act.actuators.alertmanager import AlertmanagerActuator
from foreshock.act.actuators.base import OWNER, Call
from foreshock.act.actuators.dryrun import DryRunActuator
from foreshock.act.history import ACTOR
from foreshock.act.loop import ControlLoop
from foreshock.act.model import Trigger
from foreshock.act.policy import Match, Policy, Step
from foreshock.store.state import StateStore

pytestmark = pytest.mark.integration


def call(action: str, node: str = "gpu007", **kw: object) -> Call:
    return Call(action, node, "incident-3 silence", key="k", **kw)  # type: ignore[arg-type]


def active(url: str) -> list[dict[str, object]]:
    got = servers.http_json(f"{url}/api/v2/silences")
    return [s for s in got if s["status"]["state"] == "active"]


def test_silence_is_created_reused_and_expired(alertmanager: servers.HttpServerHandle) -> None:
    am = AlertmanagerActuator(alertmanager.url, node_label="hostname")
    first = am.run(call("silence", params={"duration_s": 600, "matchers": {"team": "ml"}}))
    assert first.ok, first.detail
    again = am.run(call("silence"))
    assert again.data["silence_id"] == first.data["silence_id"]  # a retry makes no second one
    [silence] = active(alertmanager.url)
    assert silence["createdBy"] == OWNER
    matchers = {m["name"]: m["value"] for m in silence["matchers"]}  # type: ignore[union-attr]
    assert matchers == {"hostname": "gpu007", "team": "ml"}
    assert am.read("gpu007").held_by == OWNER
    assert am.run(call("unsilence")).ok
    assert active(alertmanager.url) == []
    assert am.read("gpu007").held_by is None


def test_someone_elses_silence_is_left_alone(alertmanager: servers.HttpServerHandle) -> None:
    theirs = {
        "matchers": [{"name": "hostname", "value": "gpu008", "isRegex": False}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "alice",
        "comment": "disk swap",
    }
    servers.http_json(f"{alertmanager.url}/api/v2/silences", method="POST", payload=theirs)
    am = AlertmanagerActuator(alertmanager.url, node_label="hostname")
    assert am.run(call("unsilence", "gpu008")).ok
    assert [s["createdBy"] for s in active(alertmanager.url)] == ["alice"]


def test_dry_run_and_unreachable(alertmanager: servers.HttpServerHandle) -> None:
    am = AlertmanagerActuator(alertmanager.url)
    assert am.run(call("silence", dry_run=True)).ok
    assert active(alertmanager.url) == []
    dead = AlertmanagerActuator("http://127.0.0.1:9", timeout_s=2)
    result = dead.run(call("silence"))
    assert not result.ok
    assert result.retryable


def test_loop_silences_during_the_ladder(
    alertmanager: servers.HttpServerHandle, tmp_path: Path
) -> None:
    policy = Policy(
        name="xid79",
        mode="enforce",
        match=Match(xid=frozenset({79})),
        steps=(Step("silence"), Step("drain", validate="drained"), Step("unsilence")),
    )
    am = AlertmanagerActuator(alertmanager.url, node_label="hostname")
    nodes = DryRunActuator(["gpu007"])
    with StateStore.open(tmp_path / "s.db") as store:
        # the first actuator listing an action carries it out: Alertmanager silences, the
        # dry-run actuator (the first that can drain) drains and reads nodes back
        loop = ControlLoop(store, [policy], [am, nodes], fleet_size=10)
        loop.submit(Trigger("incident-3", "incident", "gpu007", node="gpu007", xid=79))
        loop.tick()
        decisions = [(r.action, r.decision) for r in store.audit_log(actor=ACTOR, limit=100)]
    assert ("silence", "succeeded") in decisions
    assert ("unsilence", "succeeded") in decisions
    assert active(alertmanager.url) == []
