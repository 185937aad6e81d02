"""Slurm through `scontrol`: drain with a reason, resume, reboot ASAP, and read nodes back.

Ownership is the reason prefix (operations.md §1): Foreshock writes `foreshock: <text>` and
resumes only nodes whose reason starts so, like NHC does with `NHC:`. Every change is read
back: the node's state after the call, not scontrol's exit code, decides success (scontrol
reports an error for RESUME on a node whose slurmd never registered, yet clears the drain).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from foreshock.act.actuators.base import OWNER, REASON_PREFIX, ActuatorResult, Call, NodeState

_REASON_STAMP = re.compile(r"\s*\[[^\]]*@[^\]]*\]\s*$")  # " [root@2026-11-24T03:56:36]"
_IDLE_BASES = {"IDLE", "UNKNOWN", "DOWN", "FUTURE"}
_HOLD_FLAGS = {"DRAIN", "REBOOT_REQUESTED", "REBOOT_ISSUED"}
_TRANSIENT = ("Unable to contact slurm controller", "Socket timed out", "Connection refused")


def parse_node(line: str) -> NodeState:
    """One line of `scontrol show node -o`."""
    reason = ""
    if " Reason=" in line:
        line, _, reason = line.partition(" Reason=")
        reason = _REASON_STAMP.sub("", reason).strip()
    fields = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
    state = fields.get("State", "UNKNOWN")
    base, *flags = state.split("+")
    base = base.rstrip("*~#!%$@^-")  # sinfo-style suffixes: not responding, powered down, ...
    held = bool(_HOLD_FLAGS & set(flags)) or base in {"DOWN", "DRAINED"}
    owner: str | None = None
    if held:
        owner = OWNER if reason.startswith(REASON_PREFIX) else (reason.split(":", 1)[0] or "?")
    return NodeState(
        name=fields.get("NodeName", ""),
        state=state,
        held_by=owner,
        reason=reason,
        drained=held and base in _IDLE_BASES,
    )


class SlurmActuator:
    name = "slurm"
    actions = frozenset({"drain", "cordon", "resume", "uncordon", "reboot"})

    def __init__(
        self,
        *,
        scontrol: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        found = scontrol or shutil.which("scontrol")
        if found is None:
            raise FileNotFoundError("scontrol not found (install the Debian package slurm-client)")
        self.scontrol = found
        self.env = dict(env) if env is not None else None
        self.timeout_s = timeout_s

    def _scontrol(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.scontrol, *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=self.timeout_s,
            check=False,
        )

    def read(self, node: str) -> NodeState:
        done = self._scontrol(["show", "node", node, "-o"])
        if done.returncode != 0:
            if "not found" in done.stdout + done.stderr:
                return NodeState(node, "MISSING", exists=False)
            raise RuntimeError(f"scontrol show node {node}: {done.stderr.strip()}")
        return parse_node(done.stdout.strip().splitlines()[0])

    def run(self, call: Call) -> ActuatorResult:
        try:
            before = self.read(call.node)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return ActuatorResult.failure(f"cannot read {call.node}: {exc}", retryable=True)
        if not before.exists:
            return ActuatorResult.failure(f"no Slurm node {call.node}", retryable=False)
        if before.foreign:
            # Never drain over, resume or reboot a node someone else took out.
            return ActuatorResult.failure(
                f"{call.node} is held by another owner (reason {before.reason!r})",
                retryable=False,
            )
        reason = f"{REASON_PREFIX} {call.reason}".strip()
        if call.action in {"resume", "uncordon"}:
            if before.held_by is None:
                return ActuatorResult.success(f"{call.node} already in service", state=before.state)
            argv = ["update", f"NodeName={call.node}", "State=RESUME"]
        elif call.action in {"drain", "cordon"}:
            argv = ["update", f"NodeName={call.node}", "State=DRAIN", f"Reason={reason}"]
        elif call.action == "reboot":
            argv = ["reboot", "ASAP", "nextstate=RESUME", f"reason={reason}", call.node]
        else:
            return ActuatorResult.failure(f"slurm cannot {call.action}", retryable=False)
        if call.dry_run:
            return ActuatorResult.success(f"would run scontrol {' '.join(argv)}")
        try:
            done = self._scontrol(argv)
            after = self.read(call.node)
        except subprocess.TimeoutExpired as exc:
            return ActuatorResult.failure(f"scontrol timed out: {exc}", retryable=True)
        except RuntimeError as exc:
            return ActuatorResult.failure(str(exc), retryable=True)
        return self._judge(call, done, after)

    def _judge(
        self, call: Call, done: subprocess.CompletedProcess[str], after: NodeState
    ) -> ActuatorResult:
        detail = f"state {after.state}, reason {after.reason!r}"
        if done.returncode != 0:
            detail += f" (scontrol: {done.stderr.strip()})"
        if call.action in {"resume", "uncordon"}:
            ok = after.held_by is None
        elif call.action == "reboot":
            ok = after.held_by == OWNER and "REBOOT" in after.state
        else:
            ok = after.held_by == OWNER and "DRAIN" in after.state
        if ok:
            return ActuatorResult.success(detail, state=after.state, reason=after.reason)
        transient = any(t in done.stderr for t in _TRANSIENT)
        return ActuatorResult.failure(detail, retryable=transient, state=after.state)
