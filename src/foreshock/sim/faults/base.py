"""What every fault kind shares: its truth record, its plan, and how it reaches the state."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from foreshock.sim.hardware import kernel_pci
from foreshock.sim.layout import Layout
from foreshock.sim.state import Bump, LogLine, State, Xid
from foreshock.topology import Topology

HOUR = 3600.0
DAY = 86_400.0


@dataclass(frozen=True)
class Truth:
    """The ground truth of one injected fault, as written to truth.json."""

    id: str
    kind: str
    root: str
    start: float  # when it fails (the onset of the cascade)
    end: float  # when it is repaired
    precursor_start: float | None  # first weak signal, if this instance has one
    predicts: str | None  # what a predictor should call it, for kinds with precursors
    affected: tuple[str, ...]
    root_has_telemetry: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        from foreshock.sim.timefmt import rfc3339

        return {
            "id": self.id,
            "kind": self.kind,
            "root": self.root,
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
            "precursor_start": rfc3339(self.precursor_start) if self.precursor_start else None,
            "predicts": self.predicts if self.precursor_start else None,
            "affected": list(self.affected),
            "root_has_telemetry": self.root_has_telemetry,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Truth:
        """A truth record as `to_json` wrote it (a scenario's truth.json)."""
        from foreshock.sim.timefmt import parse_time

        pre = data.get("precursor_start")
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            root=str(data["root"]),
            start=parse_time(data["start"]),
            end=parse_time(data["end"]),
            precursor_start=parse_time(pre) if pre else None,
            predicts=data.get("predicts") if pre else None,
            affected=tuple(data.get("affected", ())),
            root_has_telemetry=bool(data.get("root_has_telemetry", True)),
            detail=dict(data.get("detail") or {}),
        )


@dataclass
class Injection:
    """A planned fault: its truth, its effect on the state, and its discrete events."""

    truth: Truth
    effect: Callable[[State], None]
    logs: list[LogLine] = field(default_factory=list)
    xids: list[Xid] = field(default_factory=list)
    bumps: list[Bump] = field(default_factory=list)
    reboots: list[tuple[int, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    layout: Layout
    rng: np.random.Generator
    fault_id: str
    # First instant the scenario shows. When given, precursors that would start earlier are
    # clamped to it so that every weak signal a truth record claims can be seen in the data.
    earliest: float | None = None

    @property
    def topology(self) -> Topology:
        return self.layout.topology

    def host_of_gpu(self, gpu_row: int) -> str:
        node = self.layout.entities["node"][self.layout.gpu_node[gpu_row]]
        return self.topology.entity(self.topology.id_at(int(node))).labels.get("hostname", "?")

    def host_of_node(self, node_row: int) -> str:
        node = self.layout.entities["node"][node_row]
        return self.topology.entity(self.topology.id_at(int(node))).labels.get("hostname", "?")

    def pci(self, gpu_row: int) -> str:
        idx = self.topology.entity(self.gpu_id(gpu_row)).labels.get("gpu", "0")
        return kernel_pci(int(idx))

    def gpu_id(self, gpu_row: int) -> str:
        return self.topology.id_at(int(self.layout.entities["gpu"][gpu_row]))

    def xid_line(self, gpu_row: int, code: int, text: str) -> str:
        pid = int(self.rng.integers(2000, 400_000))
        return f"NVRM: Xid (PCI:{self.pci(gpu_row)}): {code}, pid={pid}, name=python3, {text}"

    def reached(self, root: str, kinds: tuple[str, ...] | None = None) -> list[str]:
        """Entities downstream of `root` (and root), optionally of some kinds, in id order."""
        topo = self.topology
        idx = np.append(topo.downstream_indices(root), topo.index(root))
        ids = topo.ids_at(idx.tolist())
        if kinds is not None:
            ids = [e for e in ids if topo.kind_of(e) in kinds]
        return sorted(ids)

    def rows(self, kind: str, ids: list[str]) -> np.ndarray:
        return self.layout.rows_of(kind, [self.topology.index(e) for e in ids])

    def repair_time(self, median: float, p90: float) -> float:
        """Heavy-tailed repair time: lognormal through the median and the 90th percentile."""
        sigma = math.log(p90 / median) / 1.2816
        return float(median * math.exp(sigma * self.rng.normal()))

    def lead_time(self, low: float, high: float) -> float:
        return float(math.exp(self.rng.uniform(math.log(low), math.log(high))))

    def precursor_from(self, onset: float, lead: float | None) -> float | None:
        """When a precursor of `lead` seconds before `onset` starts, clamped to `earliest`."""
        if lead is None:
            return None
        start = onset - lead
        if self.earliest is not None and self.earliest < onset:
            start = max(start, self.earliest)
        return start

    def ids(self, kind: str, rows: Iterable[int] | np.ndarray) -> list[str]:
        """Topology ids of some rows of one kind."""
        idx = self.layout.entities[kind][np.asarray(list(rows), dtype=np.int64)]
        return self.topology.ids_at(idx.tolist())

    def gpus_of_nodes(self, node_rows: Iterable[int] | np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.isin(self.layout.gpu_node, np.asarray(list(node_rows))))

    def nics_of_nodes(self, node_rows: Iterable[int] | np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.isin(self.layout.nic_node, np.asarray(list(node_rows))))

    def jobs_of_gpus(
        self, gpu_rows: Iterable[int] | np.ndarray, sync_only: bool = True
    ) -> list[str]:
        """Jobs running on some GPUs. A synchronous job stalls or slows as a whole, so it shows
        the GPUs' trouble; an inference service's own series do not (physics), so by default
        only synchronous jobs count."""
        jobs = self.layout.gpu_job[np.asarray(list(gpu_rows), dtype=np.int64)]
        jobs = np.unique(jobs[jobs >= 0])
        if sync_only:
            jobs = jobs[self.layout.job_sync[jobs]]
        return self.ids("job", jobs)


class FaultKind(ABC):
    """One kind of fault. Subclasses are small: a plan that says what changes, and when."""

    name: ClassVar[str]
    summary: ClassVar[str]
    root_kinds: ClassVar[tuple[str, ...]]
    # Relative frequency in the published fault mix, and where it comes from.
    weight: ClassVar[float]
    source: ClassVar[str]
    predicts: ClassVar[str | None] = None
    precursor_probability: ClassVar[float] = 0.0

    @abstractmethod
    def plan(self, ctx: Context, root: str, onset: float) -> Injection:
        """Decide this instance: precursors, cascade, repair, truth."""

    def truth(
        self,
        ctx: Context,
        root: str,
        onset: float,
        end: float,
        affected: Iterable[str],
        precursor_start: float | None = None,
        *,
        root_has_telemetry: bool = True,
        **detail: Any,
    ) -> Truth:
        """This kind's truth record for one instance."""
        return Truth(
            ctx.fault_id, self.name, root, onset, end, precursor_start, self.predicts,
            tuple(affected), root_has_telemetry, detail,
        )  # fmt: skip

    def has_precursor(self, ctx: Context) -> bool:
        return bool(ctx.rng.random() < self.precursor_probability)

    def accepts(self, topo: Topology, root: str) -> bool:
        """Whether `root` (of one of `root_kinds`) is a root this kind can really start from.

        Kinds whose root kind is broader than the roots they fit (a leaf switch is a `switch`,
        and so is a spine) narrow it here. A planner that offers any entity of a root kind still
        works: those kinds retarget an unfit root to a fitting one nearby in `plan`."""
        return topo.kind_of(root) in self.root_kinds


def ramp(
    duration: float, start: float = 0.0, end: float = 1.0
) -> Callable[[np.ndarray], np.ndarray]:
    """A value that grows exponentially from `start` to `end` over `duration` seconds: weak
    signals accelerate as the part degrades."""

    def f(elapsed: np.ndarray) -> np.ndarray:
        x = np.clip(elapsed / max(duration, 1.0), 0, 1)
        return np.asarray(start + (end - start) * (np.expm1(4 * x) / np.expm1(4)))

    return f
