"""Actuators: what carries a step out. Each returns an ActuatorResult saying whether a
failure may be retried, and reads nodes back so that guards and validators see real state.

    slurm         scontrol: drain, resume, reboot ASAP nextstate=RESUME
    kubernetes    cordon, taint, drain by eviction, node condition, NodeMaintenance
    alertmanager  silence, unsilence
    command       argv templates: gpu_reset, repave, rma, notify, ...
    dry-run       records calls, models node state, changes nothing
"""

from foreshock.act.actuators.base import (
    LABEL_PREFIX,
    OWNER,
    REASON_PREFIX,
    Actuator,
    ActuatorResult,
    Call,
    NodeState,
)
from foreshock.act.actuators.command import CommandActuator
from foreshock.act.actuators.dryrun import DryRunActuator

__all__ = [
    "LABEL_PREFIX",
    "OWNER",
    "REASON_PREFIX",
    "Actuator",
    "ActuatorResult",
    "Call",
    "CommandActuator",
    "DryRunActuator",
    "NodeState",
]
