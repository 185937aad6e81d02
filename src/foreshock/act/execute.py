"""Calling an actuator with a deadline, and routing step actions to actuators.

A call that does not return in time is left running in a daemon thread and reported as
`None`: its outcome is unknown, so the loop never repeats it blindly (it validates instead).
An actuator that raises is a failure that is not retried.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from foreshock.act.actuators.base import Actuator, ActuatorResult, Call, NodeState


def call_with_timeout(actuator: Actuator, call: Call, timeout_s: float) -> ActuatorResult | None:
    box: list[ActuatorResult] = []

    def target() -> None:
        try:
            box.append(actuator.run(call))
        except Exception as exc:  # an actuator bug must not kill the loop
            box.append(ActuatorResult.failure(f"{type(exc).__name__}: {exc}", retryable=False))

    thread = threading.Thread(target=target, name=f"act-{call.action}-{call.node}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return box[0] if box else None


class Router:
    """Which actuator carries out each action (the first listed that can), and which one
    reads nodes back (the first that can drain)."""

    def __init__(self, actuators: Sequence[Actuator]) -> None:
        if not actuators:
            raise ValueError("the control loop needs at least one actuator")
        self.actuators = tuple(actuators)
        self.by_action: dict[str, Actuator] = {}
        for a in self.actuators:
            for action in sorted(a.actions):
                self.by_action.setdefault(action, a)
        self.nodes = next((a for a in self.actuators if "drain" in a.actions), self.actuators[0])

    def for_action(self, action: str) -> Actuator | None:
        return self.by_action.get(action)

    def read(self, node: str) -> NodeState:
        return self.nodes.read(node)
