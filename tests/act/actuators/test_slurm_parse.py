"""Reading `scontrol show node -o` lines (the real actuator is tested in
tests/integration/test_act_slurm.py against slurmctld)."""

from __future__ import annotations

import pytest

from foreshock.act.actuators.base import OWNER
from foreshock.act.actuators.slurm import parse_node

LINE = (
    "NodeName=gpu001 CoresPerSocket=1  CPUAlloc=0 State={state} ThreadsPerCore=1 "
    "Partitions=gpu  BootTime=None ExtSensorsTemp=n/s{reason}"
)


@pytest.mark.parametrize(
    ("state", "reason", "held", "drained"),
    [
        ("IDLE", "", None, False),
        (
            "IDLE+DRAIN",
            " Reason=foreshock: incident-1 drain [root@2026-11-24T03:56:36]",
            OWNER,
            True,
        ),
        (
            "MIXED+DRAIN",
            " Reason=foreshock: incident-1 drain [root@2026-11-24T03:56:36]",
            OWNER,
            False,
        ),
        ("IDLE+DRAIN", " Reason=NHC: check_gpu failed [slurm@2026-11-24T03:00:00]", "NHC", True),
        ("DOWN*", " Reason=Not responding [slurm@2026-11-24T03:00:00]", "Not responding", True),
        ("UNKNOWN+DRAIN+REBOOT_REQUESTED", " Reason=Reboot ASAP [root@x]", "Reboot ASAP", True),
    ],
)
def test_parse_node(state: str, reason: str, held: str | None, drained: bool) -> None:
    node = parse_node(LINE.format(state=state, reason=reason))
    assert node.name == "gpu001"
    assert node.state == state
    assert node.held_by == held
    assert node.drained is drained
    assert "[" not in node.reason


def test_reason_with_equals_signs_is_kept_whole() -> None:
    node = parse_node(LINE.format(state="IDLE+DRAIN", reason=" Reason=foreshock: a=b c [u@t]"))
    assert node.reason == "foreshock: a=b c"
