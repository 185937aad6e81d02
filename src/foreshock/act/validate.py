"""Validators: checks a step must pass before the next step, or before a node goes back.

A validator answers (passed, detail) and may be asked repeatedly until the step's
`validate_timeout` runs out, so it must be quick and side-effect free: a drain validator
passes once the node is DRAINED (its jobs have ended), not when it is still DRAINING.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from foreshock.act.actuators.base import OWNER, NodeState

Validator = Callable[[str], tuple[bool, str]]


def drained(read: Callable[[str], NodeState]) -> Validator:
    def check(node: str) -> tuple[bool, str]:
        s = read(node)
        return s.drained and s.held_by == OWNER, f"state {s.state}, reason {s.reason!r}"

    return check


def in_service(read: Callable[[str], NodeState]) -> Validator:
    def check(node: str) -> tuple[bool, str]:
        s = read(node)
        return s.held_by is None, f"state {s.state}"

    return check


@dataclass(frozen=True, slots=True)
class CommandValidator:
    """Passes when `argv` (with `{node}` filled in) exits 0, e.g. a DCGM diagnostic over ssh:
    `["ssh", "{node}", "dcgmi", "diag", "-r", "2"]`. A check under load, not just "it booted"
    (NVSentinel #695)."""

    argv: Sequence[str]
    timeout_s: float = 600.0

    def __call__(self, node: str) -> tuple[bool, str]:
        argv = [a.replace("{node}", node) for a in self.argv]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"{argv[0]}: {exc}"
        tail = (done.stdout + done.stderr).strip()[-300:]
        return done.returncode == 0, f"exit {done.returncode}: {tail}"


def builtin_validators(read: Callable[[str], NodeState]) -> dict[str, Validator]:
    return {"drained": drained(read), "in_service": in_service(read)}


def merge(*maps: Mapping[str, Validator]) -> dict[str, Validator]:
    out: dict[str, Validator] = {}
    for m in maps:
        out.update(m)
    return out
