"""Steps no scheduler API covers (GPU reset, repave, an RMA ticket, a page) as commands.

Each action maps to an argv template; `{node}`, `{reason}`, `{key}` and any step parameter
(`{gpu}`) are filled in. Exit 0 is success; exit 75 (EX_TEMPFAIL) is a failure that may be
retried, like a busy GPU; any other exit is final. For example:

    gpu_reset: [ssh, "{node}", nvidia-smi, --gpu-reset, -i, "{gpu}"]
    rma:       [/usr/local/bin/open-rma-ticket, --node, "{node}", --why, "{reason}"]
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from foreshock.act.actuators.base import ActuatorResult, Call, NodeState

EX_TEMPFAIL = 75


class CommandActuator:
    name = "command"

    def __init__(self, commands: Mapping[str, Sequence[str]], *, timeout_s: float = 600.0) -> None:
        self.commands = {k: tuple(v) for k, v in commands.items()}
        self.actions = frozenset(self.commands)
        self.timeout_s = timeout_s

    def argv(self, call: Call) -> list[str]:
        values = {str(k): str(v) for k, v in call.params.items()}
        values |= {"node": call.node, "reason": call.reason, "key": call.key}
        try:
            return [part.format_map(values) for part in self.commands[call.action]]
        except KeyError as exc:
            raise ValueError(f"{call.action}: no value for {{{exc.args[0]}}}") from exc

    def read(self, node: str) -> NodeState:
        return NodeState(node, "unknown")  # commands say nothing about scheduling state

    def run(self, call: Call) -> ActuatorResult:
        if call.action not in self.commands:
            return ActuatorResult.failure(f"no command for {call.action}", retryable=False)
        try:
            argv = self.argv(call)
        except ValueError as exc:
            return ActuatorResult.failure(str(exc), retryable=False)
        if call.dry_run:
            return ActuatorResult.success(f"would run {' '.join(argv)}")
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            return ActuatorResult.failure(f"{argv[0]} timed out", retryable=True)
        except OSError as exc:
            return ActuatorResult.failure(f"{argv[0]}: {exc}", retryable=False)
        tail = (done.stdout + done.stderr).strip()[-300:]
        if done.returncode == 0:
            return ActuatorResult.success(tail or f"{argv[0]} exited 0")
        return ActuatorResult.failure(
            f"{argv[0]} exited {done.returncode}: {tail}",
            retryable=done.returncode == EX_TEMPFAIL,
        )
