"""What to do next about a root cause, in words, ready to become a remediation policy's step.

From the XID table of domain/gpu-failures.md §1 (NVIDIA's resolution buckets) where the cause
carries an XID, else from the kind of entity and the signs of its symptoms. Steps use the
names of the act stage's ladder: notify, cordon, drain, gpu_reset, reboot, repave, rma,
silence, inspect.
"""

from __future__ import annotations

from collections.abc import Iterable

from foreshock.model import Action

# XID → (steps, why), after NVIDIA's catalogue (domain/gpu-failures.md §1).
APPLICATION_XIDS = frozenset({13, 31, 32, 43, 45, 68, 69, 80, 94})
XID_STEPS: dict[int, tuple[tuple[str, ...], str]] = {
    48: (
        ("drain", "gpu_reset", "inspect", "rma"),
        "XID 48 (double-bit ECC): reset, check the "
        "SRAM threshold flag, field diagnostics, RMA if it persists",
    ),
    64: (("drain", "gpu_reset", "rma"), "XID 64 (row remap failed): reset the GPU, then RMA"),
    74: (
        ("drain", "gpu_reset", "reboot", "inspect"),
        "XID 74 (NVLink error): reset the GPU or "
        "reboot, inspect `nvidia-smi nvlink`, replace on recurrence",
    ),
    79: (
        ("drain", "reboot", "rma"),
        "XID 79 (fallen off the bus): power-cycle the node; the usual cause is PCIe link hardware",
    ),
    54: (("drain", "inspect"), "XID 54 (auxiliary power not connected): reseat power connectors"),
    92: (("notify",), "XID 92 (excessive single-bit ECC interrupts): watch; a weak signal"),
    63: (("notify",), "XID 63 (row remap recorded): a weak signal; a reset applies pending remaps"),
}
RESET_XIDS = frozenset({46, 62, 95, 109, 110, 119, 120, 136, 140, 143, 155, 158})

KIND_STEPS: dict[str, tuple[tuple[str, ...], str]] = {
    "gpu": (
        ("drain", "gpu_reset", "inspect"),
        "a failing GPU: drain its node at the job's "
        "checkpoint, reset the GPU and validate before returning it",
    ),
    "node": (
        ("drain", "reboot", "repave"),
        "a failing node: drain it, reboot; repave if it fails validation again",
    ),
    "nic": (
        ("drain", "inspect"),
        "a failing NIC or cable: drain the node, reseat or replace the cable or transceiver",
    ),
    "switch": (
        ("notify", "inspect"),
        "a switch fault: the nodes behind it lose bandwidth; "
        "page the network team, fail over or replace the switch",
    ),
    "nvswitch": (
        ("drain", "reboot", "inspect"),
        "an NVSwitch fault: drain the NVLink domain, reboot the tray, replace on recurrence",
    ),
    "nvlink_domain": (("drain", "inspect"), "an NVLink domain fault: drain the domain"),
    "pdu": (
        ("notify", "silence"),
        "a power distribution fault: page facilities; silence the "
        "outage alerts of what it feeds until power returns",
    ),
    "power_shelf": (
        ("notify", "inspect"),
        "a power shelf fault: page facilities; the rack runs on reduced redundancy",
    ),
    "ups": (
        ("notify", "silence"),
        "a UPS fault: page facilities; hold maintenance until the UPS is back",
    ),
    "utility_feed": (("notify", "silence"), "a utility feed loss: page facilities"),
    "cdu": (
        ("notify", "cordon"),
        "a cooling distribution fault: page facilities; cordon the "
        "racks it cools so no new work lands on hot GPUs",
    ),
    "crah": (("notify", "cordon"), "a room cooling fault: page facilities; cordon what it cools"),
    "rack": (("notify", "cordon", "inspect"), "a rack-level fault: cordon the rack and inspect"),
    "storage": (("notify",), "a storage slowdown: page the storage team; jobs stall on I/O"),
    "job": (("notify",), "a job-level problem: tell the job's owner; no hardware implicated"),
    "service": (("notify",), "a failing service: page its owner"),
}


def recommend(kind: str, target: str, xids: Iterable[int] = ()) -> tuple[Action, ...]:
    """The recommended steps for a cause of `kind` at `target`, best first."""
    codes = sorted(set(xids))
    for code in codes:
        if code in XID_STEPS:
            steps, why = XID_STEPS[code]
            return tuple(Action(s, target, why) for s in steps)
    for code in codes:
        if code in RESET_XIDS:
            why = f"XID {code}: NVIDIA's resolution is a GPU reset, then support if it recurs"
            return tuple(Action(s, target, why) for s in ("drain", "gpu_reset"))
    if codes and all(c in APPLICATION_XIDS for c in codes):
        why = (
            f"XID {', '.join(map(str, codes))}: application errors; restart the job, the GPU stays"
        )
        return (Action("notify", target, why),)
    steps, why = KIND_STEPS.get(kind, (("notify", "inspect"), f"a {kind} fault: inspect it"))
    return tuple(Action(s, target, why) for s in steps)
