"""Faults of a GPU itself: its memory, its bus."""

from __future__ import annotations

import numpy as np

from foreshock.sim.faults.base import DAY, HOUR, Context, FaultKind, Injection, ramp
from foreshock.sim.state import Bump, LogLine, State, Xid
from foreshock.topology import Topology


def _job_of(ctx: Context, gpu: str) -> list[str]:
    return [e.id for e in ctx.topology.children(gpu, "hosts")]


class GpuMemory(FaultKind):
    name = "gpu_memory"
    summary = (
        "HBM wears out: correctable ECC errors ramp up and rows are remapped (XID 63, remap "
        "pending), then an uncorrectable error (XID 48 with 94/95) crashes the job"
    )
    root_kinds = ("gpu",)
    weight = 60.0
    source = (
        "StepFun trace: 'GPU DBE > threshold' 60 of 584 node faults; Llama 3: HBM3 72 of 419; "
        "repair: StepFun, same class, median 0.13 d, p90 22.5 d"
    )
    predicts = "gpu_memory_failure"
    precursor_probability = 0.45  # domain/gpu-failures.md §5: 0.3-0.6 for ECC → DBE

    def plan(self, ctx: Context, root: str, onset: float) -> Injection:
        row = int(ctx.rows("gpu", [root])[0])
        host = ctx.host_of_gpu(row)
        lead = ctx.lead_time(20 * 60, 12 * HOUR) if self.has_precursor(ctx) else None
        end = onset + ctx.repair_time(0.134 * DAY, 22.5 * DAY)
        pre = ctx.precursor_from(onset, lead)
        lead = onset - pre if pre is not None else None
        inj = Injection(
            self.truth(ctx, root, onset, end, tuple(sorted([root, *_job_of(ctx, root)])), pre),
            effect=lambda s: None,
        )
        if pre is not None and lead is not None:
            remaps = sorted(ctx.rng.uniform(pre + 0.3 * lead, onset, ctx.rng.integers(1, 4)))
            for t in remaps:
                inj.bumps.append(Bump("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", row, t, 1))
                text = "Row Remapper: New row marked for remapping, reset gpu to activate."
                inj.logs.append(LogLine(t, host, ctx.xid_line(row, 63, text)))
                inj.xids.append(Xid(t, row, 63, crashes_job=False))
            first_remap = remaps[0]
            peak = ctx.rng.uniform(0.05, 0.5)

            def precursor(s: State) -> None:
                s.combine("gpu.sbe_rate", row, pre, onset, ramp(lead, 0.002, peak), np.add)
                s.set("gpu.remap_pending", row, first_remap, end, 1.0)

            inj.effect = precursor
        code = int(ctx.rng.choice([94, 95]))
        texts = {
            48: "An uncorrectable double bit error (DBE) has been detected on GPU in the "
            "framebuffer at partition 5, subpartition 1.",
            94: "Contained: SM (0x1). RST: No, D-RST: No",
            95: "Uncontained: FBHUB. RST: Yes, D-RST: No",
        }
        inj.bumps += [
            Bump("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", row, onset, 1),
            Bump("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", row, onset, 1),
        ]
        for k, c in enumerate((48, code)):
            inj.logs.append(LogLine(onset + k, host, ctx.xid_line(row, c, texts[c])))
            inj.xids.append(Xid(onset + k, row, c, crashes_job=True))
        # Co-resident processes of the job are cleaned up after the error (XID 45).
        node = ctx.topology.parents(root, "contains")[0].id
        for sib in ctx.topology.children(node, "contains"):
            if sib.kind == "gpu" and sib.id != root and _job_of(ctx, sib.id) == _job_of(ctx, root):
                srow = int(ctx.rows("gpu", [sib.id])[0])
                text = "Ch 00000010, errorString CTX SWITCH TIMEOUT, Info 0x3c046"
                inj.logs.append(LogLine(onset + 2, host, ctx.xid_line(srow, 45, text)))
        before = inj.effect

        def failed(s: State) -> None:
            before(s)
            s.set("gpu.excluded", row, onset, end, 1.0)

        inj.effect = failed
        inj.reboots.append((int(ctx.layout.gpu_node[row]), end))
        return inj


class GpuOffBus(FaultKind):
    name = "gpu_off_bus"
    summary = (
        "the GPU falls off the PCIe bus (XID 79), sometimes after rising PCIe replays; its "
        "metrics vanish and its job crashes"
    )
    root_kinds = ("gpu",)
    weight = 45.0
    source = (
        "StepFun trace: 'GPU device unknown error' 40 and 'GPU lost' 5 of 584; repair: StepFun, "
        "those two classes, median 0.065 d, p90 3.8 d"
    )
    predicts = "gpu_off_bus"
    precursor_probability = 0.15  # §5: 0.1-0.2; often no precursor at all (arXiv 2603.28781)

    def plan(self, ctx: Context, root: str, onset: float) -> Injection:
        row = int(ctx.rows("gpu", [root])[0])
        host = ctx.host_of_gpu(row)
        lead = ctx.lead_time(10 * 60, 2 * HOUR) if self.has_precursor(ctx) else None
        end = onset + ctx.repair_time(0.065 * DAY, 3.77 * DAY)
        pre = ctx.precursor_from(onset, lead)
        peak = float(ctx.rng.uniform(0.5, 5.0))

        def effect(s: State) -> None:
            if pre is not None:
                s.combine("gpu.pcie_rate", row, pre, onset, ramp(onset - pre, 0.01, peak), np.add)
            s.set("gpu.alive", row, onset, end, 0.0)

        inj = Injection(
            self.truth(ctx, root, onset, end, tuple(sorted([root, *_job_of(ctx, root)])), pre),
            effect,
        )
        line = ctx.xid_line(row, 79, "GPU has fallen off the bus.")
        inj.logs.append(LogLine(onset, host, line))
        inj.reboots.append((int(ctx.layout.gpu_node[row]), end))
        return inj


class Straggler(FaultKind):
    name = "straggler"
    summary = (
        "a gray failure: one GPU's SMs run slow with no error and no clock-reason bit; its "
        "synchronous job waits for it at every step"
    )
    root_kinds = ("gpu",)
    weight = 14.0
    source = (
        "StepFun trace: 'Suspect Machine Offline' (training-task troubleshooting) 14 of 584; "
        "repair: same class, median 0.69 d, p90 2.4 d"
    )
    predicts = "job_straggler"
    precursor_probability = 0.3  # engineering assumption: a slow drift before the drop

    def accepts(self, topo: Topology, root: str) -> bool:
        # A slow GPU with nothing on it slows no one and shows nothing (an idle GPU's clock
        # stays at idle): it only becomes a straggler once a job lands on it.
        return super().accepts(topo, root) and bool(topo.children(root, "hosts"))

    def plan(self, ctx: Context, root: str, onset: float) -> Injection:
        row = int(ctx.rows("gpu", [root])[0])
        lead = ctx.lead_time(1 * HOUR, 6 * HOUR) if self.has_precursor(ctx) else None
        pre = ctx.precursor_from(onset, lead)
        end = onset + ctx.repair_time(0.689 * DAY, 2.42 * DAY)
        drift = 1 - float(ctx.rng.uniform(0.03, 0.08))  # clock left when the drift ends
        slow = float(ctx.rng.uniform(0.55, 0.85))

        def effect(s: State) -> None:
            if pre is not None:
                d = onset - pre
                s.combine(
                    "gpu.clock_factor",
                    row,
                    pre,
                    onset,
                    lambda e: 1 - (1 - drift) * np.clip(e / d, 0, 1),
                    np.minimum,
                )
            s.combine("gpu.clock_factor", row, onset, end, slow, np.minimum)

        # Every step of whatever runs on the GPU waits for it: an inference service's
        # tensor-parallel step as well as a training job's (physics: a job's speed is its
        # slowest GPU's), so a service on it is affected too, unlike when a GPU dies.
        affected = tuple(sorted([root, *ctx.jobs_of_gpus([row], sync_only=False)]))
        return Injection(
            self.truth(ctx, root, onset, end, affected, pre, clock_factor=round(slow, 3)),
            effect,
        )
