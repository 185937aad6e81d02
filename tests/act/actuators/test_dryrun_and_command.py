"""The dry-run actuator's model of node state and journal, and the command actuator."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from foreshock.act.actuators.base import OWNER, Call
from foreshock.act.actuators.command import EX_TEMPFAIL, CommandActuator
from foreshock.act.actuators.dryrun import DryRunActuator
from foreshock.act.validate import CommandValidator


def test_dry_run_models_owners_and_replays_its_journal(tmp_path: Path) -> None:
    journal = tmp_path / "calls.jsonl"
    act = DryRunActuator(["a", "b"], journal=journal)
    act.hold("b", "NHC")
    assert act.run(Call("drain", "a", "i1 drain", key="k1")).ok
    assert not act.run(Call("drain", "b", "i1 drain", key="k2")).ok
    assert act.run(Call("drain", "a", "x", key="k3", dry_run=True)).ok
    assert act.read("a").held_by == OWNER
    assert act.read("a").drained
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    assert [(x["key"], x["applied"]) for x in lines] == [("k1", True), ("k2", False), ("k3", False)]
    reborn = DryRunActuator(["a", "b"], journal=journal)  # after a restart
    assert reborn.read("a").held_by == OWNER
    assert reborn.read("b").held_by is None  # holds by others are not journaled
    assert reborn.run(Call("resume", "a", "back", key="k4")).ok
    assert reborn.read("a").held_by is None


def test_command_actuator(tmp_path: Path) -> None:
    out = tmp_path / "out"
    act = CommandActuator(
        {
            "gpu_reset": ["sh", "-c", f"echo {{node}} {{gpu}} '{{reason}}' > {out}"],
            "repave": ["sh", "-c", f"exit {EX_TEMPFAIL}"],
            "rma": ["sh", "-c", "echo no >&2; exit 3"],
            "notify": ["/nonexistent/pager"],
        }
    )
    assert act.actions == {"gpu_reset", "repave", "rma", "notify"}
    ok = act.run(Call("gpu_reset", "n1", "incident-4 gpu_reset", params={"gpu": 3}))
    assert ok.ok
    assert out.read_text().strip() == "n1 3 incident-4 gpu_reset"
    missing = act.run(Call("gpu_reset", "n1", "r"))
    assert not missing.ok
    assert "{gpu}" in missing.detail
    busy = act.run(Call("repave", "n1", "r"))
    assert not busy.ok
    assert busy.retryable
    final = act.run(Call("rma", "n1", "r"))
    assert not final.ok
    assert not final.retryable
    assert "no" in final.detail
    assert not act.run(Call("notify", "n1", "r")).ok
    assert act.run(Call("gpu_reset", "n1", "r", params={"gpu": 1}, dry_run=True)).detail.startswith(
        "would run sh"
    )


def test_command_validator() -> None:
    assert CommandValidator([sys.executable, "-c", "import sys; sys.exit('{node}' != 'n1')"])("n1")[
        0
    ]
    assert not CommandValidator([sys.executable, "-c", "raise SystemExit(2)"])("n1")[0]
    assert not CommandValidator(["/nonexistent"])("n1")[0]
