"""`foreshock actions` and `foreshock act ...`, mounted the way foreshock.cli mounts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from foreshock.act.cli import act_app, actions_command, parse_since
from foreshock.act.history import ACTOR
from foreshock.store.state import StateStore

app = typer.Typer()
app.command("actions")(actions_command)
app.add_typer(act_app, name="act")
runner = CliRunner()

POLICIES = """
guards: {max_in_flight: 2}
policies:
  - name: incident-drain
    mode: enforce
    match: {kind: incident}
    steps:
      - {action: drain, validate: drained}
      - {action: resume, approval: true}
"""


def test_parse_since() -> None:
    assert parse_since("30m", 10_000.0) == 8_200.0
    assert parse_since("2h", 10_000.0) == 2_800.0
    assert parse_since("1970-01-01T00:00:10Z", 0.0) == 10.0
    with pytest.raises(ValueError, match="yesterday"):
        parse_since("yesterday", 0.0)


def test_check(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(POLICIES)
    bad.write_text("policies: [{name: x, steps: [{action: nuke}]}]")
    assert runner.invoke(app, ["act", "check", str(good)]).exit_code == 0
    result = runner.invoke(app, ["act", "check", str(bad)])
    assert result.exit_code == 1
    assert "policies[0].steps[0].action" in result.output


def test_run_approve_and_list(tmp_path: Path) -> None:
    db, policies = str(tmp_path / "s.db"), tmp_path / "p.yaml"
    policies.write_text(POLICIES)
    with StateStore.open(db) as store:
        store.create_incident(
            title="XID 79", started_at=1.0, root_causes=[{"entity": "gpu001", "score": 0.9}]
        )
    argv = [
        "act",
        "run",
        "--policies",
        str(policies),
        "--db",
        db,
        "--dry-run-actuator",
        "--fleet-size",
        "10",
        "--once",
        "--interval",
        "0",
    ]
    first = runner.invoke(app, argv)
    assert first.exit_code == 0, first.output
    with StateStore.open(db) as store:
        waiting = [r.key for r in store.actions(limit=10) if r.status == "awaiting-approval"]
    assert len(waiting) == 1
    assert (
        runner.invoke(app, ["act", "approve", waiting[0], "--by", "alice", "--db", db]).exit_code
        == 0
    )
    again = runner.invoke(app, ["act", "approve", waiting[0], "--by", "alice", "--db", db])
    assert again.exit_code == 1
    assert "not awaiting approval" in again.output
    # the dry-run actuator's state lives in its process: a new run starts from scratch, so
    # the resume finds a node in service and has nothing to do
    assert runner.invoke(app, argv).exit_code == 0

    listed = runner.invoke(app, ["actions", "--db", db, "--json"])
    assert listed.exit_code == 0
    entries = [json.loads(line) for line in listed.output.splitlines()]
    mine = [(e["action"], e["decision"]) for e in entries if e["actor"] == ACTOR]
    assert mine[0] == ("match", "matched")
    assert ("resume", "awaiting-approval") in mine
    assert mine[-1] == ("ladder", "done")
    assert ("alice", "approved") in [(e["actor"], e["decision"]) for e in entries]
    table = runner.invoke(
        app,
        ["actions", "--db", db, "--subject", "gpu001", "--since", "3650d"],
        env={"COLUMNS": "250"},
    )
    assert "awaiting-approval" in table.output


def test_reset_breaker_and_errors(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    result = runner.invoke(app, ["act", "reset-breaker", "--by", "bob", "--db", db])
    assert "not tripped" in result.output
    none = runner.invoke(
        app,
        [
            "act",
            "run",
            "--policies",
            str(tmp_path / "missing.yaml"),
            "--db",
            db,
            "--fleet-size",
            "1",
        ],
    )
    assert none.exit_code != 0
    bad_since = runner.invoke(app, ["actions", "--db", db, "--since", "soon"])
    assert bad_since.exit_code == 1
