"""kill -9 of the control loop in the middle of a call, then a restart on the same SQLite file:
no call is made twice, the interrupted step is recovered (not repeated), the foreign-held node
is never touched, the breaker's limit holds, and every call is in the audit log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from foreshock.act.history import ACTOR
from foreshock.act.leader import SingleProcessLeader
from foreshock.store.state import StateStore

HERE = Path(__file__).parent
KILLEE = HERE / "act_killee.py"
HANG_ON = 5


def journal_lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def spawn(db: Path, journal: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    return subprocess.Popen(
        [sys.executable, str(KILLEE), str(db), str(journal), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: object, proc: subprocess.Popen[str], limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():  # type: ignore[operator]
        if proc.poll() is not None:
            pytest.fail(f"the loop exited early ({proc.returncode}): {proc.stderr.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the loop made no progress")
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_9_mid_call_then_restart(tmp_path: Path) -> None:
    db, journal = tmp_path / "state.db", tmp_path / "calls.jsonl"
    first = spawn(db, journal, f"--hang-on-call={HANG_ON}")
    wait_for(lambda: len(journal_lines(journal)) >= HANG_ON, first)
    with StateStore.open(db) as store:  # the lock is held: no second acting process
        assert SingleProcessLeader(store).acquire() is False
    os.kill(first.pid, signal.SIGKILL)
    assert first.wait(30) == -signal.SIGKILL
    hung_key = journal_lines(journal)[HANG_ON - 1]["key"]

    second = spawn(db, journal)
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err

    calls = journal_lines(journal)
    per_key = Counter(str(c["key"]) for c in calls)
    assert max(per_key.values()) == 1  # no call made twice, across the kill
    assert all(c["node"] != "n05" for c in calls)  # the foreign-held node
    with StateStore.open(db) as store:
        audit = store.audit_log(limit=100_000)
        started = Counter(r.data["key"] for r in audit if r.decision == "started")
        assert started == per_key  # every call is in the audit log
        recovered = [r for r in audit if r.decision == "recovered"]
        assert [r.data["key"] for r in recovered] == [hung_key]
        ladders = [r for r in store.actions(limit=1000) if r.step == "ladder"]
        assert {r.target for r in ladders if r.status == "done"} == {
            f"n{i:02d}" for i in range(8) if i != 5
        }
        assert [r.status for r in ladders if r.target == "n05"] == ["refused"]
        nodes = {r.subject for r in audit if r.actor == ACTOR and r.decision == "started"}
        assert len(nodes) <= 8  # the breaker's absolute cap (min of 50 % of 24 and 8)
