"""What kind of trouble a symptom shows: thermal, power, network, down, device, stall.

A fault shows differently depending on how it travelled (spec/topology.md): lost cooling as
temperatures and throttling, lost power as outages, a bad link as link errors. The words below
are those of the ecosystem's own names (DCGM fields, node_exporter, BMS and SNMP points,
NCCL and Slurm messages; domain/gpu-telemetry.md), matched as word parts so that
`RackLiquidSupplyTemperature`, `DCGM_FI_DEV_GPU_TEMP` and `node_hwmon_temp_celsius` all read as
thermal. A symptom with no known word is compatible with every cause: the classes refine the
ranking, they never decide it alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

WORDS: dict[str, tuple[str, ...]] = {
    "thermal": (
        "temp",
        "thermal",
        "therm",
        "cool",
        "coolant",
        "flow",
        "fan",
        "humid",
        "leak",
        "hot",
        "overheat",
        "crah",
        "cdu",
        "airflow",
        "inlet",
        "outlet",
        "slowdown",
    ),
    "power": (
        "power",
        "volt",
        "voltage",
        "psu",
        "ups",
        "pdu",
        "battery",
        "breaker",
        "brake",
        "current",
        "amps",
        "watt",
        "feed",
        "phase",
        "shelf",
    ),
    "network": (
        "link",
        "ib",
        "infiniband",
        "nic",
        "port",
        "symbol",
        "crc",
        "flap",
        "network",
        "packet",
        "rdma",
        "roce",
        "nvlink",
        "replay",
        "fabric",
        "switch",
        "mlx",
        "rcv",
        "xmit",
        "eth",
    ),
    "down": (
        "down",
        "absent",
        "unreachable",
        "offline",
        "lost",
        "loss",
        "missing",
        "dead",
        "hang",
        "hung",
        "unresponsive",
        "shutdown",
        "nohost",
        "not_responding",
    ),
    # Faults inside a device: what power, cooling or links do not produce.
    "device": (
        "xid",
        "ecc",
        "dbe",
        "sbe",
        "retire",
        "remap",
        "sram",
        "dram",
        "hbm",
        "uncorrect",
        "parity",
        "gsp",
        "fallen",
        "sxid",
    ),
    "stall": ("stall", "watchdog", "timeout", "nccl", "straggler", "step", "hung_task", "slow"),
}
_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def words(text: str) -> list[str]:
    """`RackLiquidSupplyTemperature` → rack, liquid, supply, temperature."""
    return [w for w in _SPLIT.split(text) if w] if text else []


def classify(texts: Iterable[str]) -> frozenset[str]:
    """The classes any of the texts (an alert name, a metric name) names."""
    found: set[str] = set()
    for text in texts:
        for w in (w.lower() for w in words(text)):
            for cls, stems in WORDS.items():
                if any(w.startswith(s) for s in stems):
                    found.add(cls)
    return frozenset(found)


# What an XID says about where the fault is (domain/gpu-failures.md §1, the class column):
# NVLink errors travel the NVLink fabric, memory and bus errors stay in the device, XID 54
# (auxiliary power) is power.
NVLINK_XIDS = frozenset({74, 136, 137, 144, 145, 146, 147, 148, 149, 150, 155})
POWER_XIDS = frozenset({54})


def xid_signs(code: int) -> frozenset[str]:
    if code in NVLINK_XIDS:
        return frozenset({"network"})
    if code in POWER_XIDS:
        return frozenset({"power"})
    return frozenset({"device"})


def alert_signs(name: str, xid: str | None = None) -> frozenset[str]:
    """The classes of an alert: its name's, refined by its `xid` label when it has one."""
    signs = classify([name])
    if xid and xid.strip().isdigit():
        signs = (signs - {"device"}) | xid_signs(int(xid))
    return signs
