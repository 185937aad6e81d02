"""Every fault kind, planned on a small fleet and run through the physics: its precursor, its
cascade in the telemetry, and its truth record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pytest

from foreshock.sim import metrics as m
from foreshock.sim.faults import FAULTS, Context, FaultKind, Injection, Truth
from foreshock.sim.faults.fabric import is_leaf, is_spine, linked_gpus
from foreshock.sim.fleet import FleetShape, generate_fleet
from foreshock.sim.layout import Layout
from foreshock.sim.physics import Physics
from foreshock.sim.scenario import START, state_for
from foreshock.sim.state import VARIABLES, State
from foreshock.topology import Topology

DT = 20.0
HOURS = 2.0
ONSET = START + 3600.0
TIMES = START + DT * np.arange(int(HOURS * 3600 / DT))
MIN = 60.0
EARLIEST = START + 15 * MIN  # where the scenario's data starts: precursors are clamped to it


@pytest.fixture(scope="module")
def hgx() -> Layout:
    # 32 nodes in scalable units of 8: four leaves per rail, so jobs cross the spines.
    return Layout.of(Topology(*generate_fleet(FleetShape(gpus=256, nodes_per_su=8))))


@pytest.fixture(scope="module")
def nvl72() -> Layout:
    return Layout.of(Topology(*generate_fleet(FleetShape(gpus=144, kind="nvl72"))))


@dataclass
class Run:
    layout: Layout
    inj: Injection
    state: State
    out: dict[str, np.ndarray]

    @property
    def truth(self) -> Truth:
        return self.inj.truth

    def series(self, metric: str, entity: str) -> np.ndarray:
        kind = m.METRICS[metric].kind
        row = self.layout.row[kind][self.layout.topology.index(entity)]
        assert row >= 0, (metric, entity)
        return np.asarray(self.out[metric][row])

    def gpus(self, node: str) -> list[str]:
        topo = self.layout.topology
        return [e.id for e in topo.children(node, "contains") if e.kind == "gpu"]


def seen(x: np.ndarray) -> np.ndarray:
    """The samples that arrived (the physics loses about one in a thousand)."""
    return np.asarray(x[~np.isnan(x)])


def at(t: float) -> int:
    """Index of the first step at or after `t`."""
    return int(np.searchsorted(TIMES, t))


def run(
    layout: Layout,
    kind: str,
    root: str,
    seed: int = 1,
    earliest: float | None = EARLIEST,
) -> Run:
    ctx = Context(layout, np.random.default_rng(seed), "fault-1", earliest=earliest)
    inj = FAULTS[kind].plan(ctx, root, ONSET)
    state = state_for(layout, TIMES, [inj], float(TIMES[1] - TIMES[0]))
    out = Physics(layout, START, seed=0).run(state, [0])
    return Run(layout, inj, state, out)


def force(monkeypatch: pytest.MonkeyPatch, kind: str, value: float = 1.0, attr: str = "") -> None:
    """Make every instance of a kind take (or skip) its precursor or other chance."""
    monkeypatch.setattr(type(FAULTS[kind]), attr or "precursor_probability", value)


# --- roots ----------------------------------------------------------------------------------


def sync_gpu(lay: Layout) -> str:
    """A GPU of a synchronous job that spans several nodes."""
    for row in range(lay.count("gpu")):
        job = lay.gpu_job[row]
        if job >= 0 and lay.job_sync[job] and len(np.unique(lay.gpu_node[lay.gpu_job == job])) > 1:
            return lay.ids("gpu")[row]
    raise AssertionError("no synchronous multi-node job")


def node_of(lay: Layout, gpu: str) -> str:
    return lay.topology.parents(gpu, "contains")[0].id


def nic_of(lay: Layout, gpu: str) -> str:
    node = node_of(lay, gpu)
    return next(e.id for e in lay.topology.children(node, "contains") if e.kind == "nic")


def job_of(lay: Layout, gpu: str) -> str:
    return lay.topology.children(gpu, "hosts")[0].id


def first(lay: Layout, kind: str, test: Callable[[str], bool] = lambda e: True) -> str:
    return next(e.id for e in lay.topology.entities(kind) if test(e.id))


ROOTS: dict[str, Callable[[Layout], str]] = {
    "gpu_memory": sync_gpu,
    "gpu_off_bus": sync_gpu,
    "straggler": sync_gpu,
    "nvlink": sync_gpu,
    "nvswitch": lambda lay: first(lay, "nvswitch"),
    "nic_flap": lambda lay: nic_of(lay, sync_gpu(lay)),
    "bad_cable": lambda lay: nic_of(lay, sync_gpu(lay)),
    "leaf_switch": lambda lay: first(lay, "switch", lambda e: is_leaf(lay.topology, e)),
    "spine_switch": lambda lay: first(lay, "switch", lambda e: is_spine(lay.topology, e)),
    "psu": lambda lay: node_of(lay, sync_gpu(lay)),
    "host_hang": lambda lay: node_of(lay, sync_gpu(lay)),
    "pdu_loss": lambda lay: first(lay, "pdu"),
    "power_shelf": lambda lay: first(lay, "power_shelf"),
    "ups": lambda lay: first(lay, "ups"),
    "cdu_flow_loss": lambda lay: first(lay, "cdu"),
    "room_cooling": lambda lay: first(lay, "crah"),
    "rack_leak": lambda lay: first(lay, "rack"),
    "storage_slowdown": lambda lay: first(lay, "storage"),
}
NVL72_ONLY = {"power_shelf"}


def fleet_for(kind: str, hgx: Layout, nvl72: Layout) -> Layout:
    return nvl72 if kind in NVL72_ONLY else hgx


# --- the registry ---------------------------------------------------------------------------


def test_registry() -> None:
    assert len(FAULTS) >= 14
    names = [f.name for f in FAULTS.values()]
    assert len(set(names)) == len(names)
    assert list(FAULTS) == names
    for f in FAULTS.values():
        assert isinstance(f, FaultKind)
        assert f.summary, f.name
        assert f.source, f.name
        assert f.weight > 0, f.name
        assert f.root_kinds, f.name
        assert (f.predicts is None) == (f.precursor_probability == 0), f.name
        assert 0 <= f.precursor_probability <= 1, f.name
    assert set(ROOTS) == set(FAULTS), "every kind needs a root in this file"


# --- every kind: truth record, and nothing before its first sign ----------------------------


CASES = [
    pytest.param(kind, precursor, id=f"{kind}-{'precursor' if precursor else 'plain'}")
    for kind in sorted(FAULTS)
    for precursor in ((True, False) if FAULTS[kind].precursor_probability else (False,))
]


@pytest.mark.parametrize(("kind", "precursor"), CASES)
def test_truth_and_nothing_before_first_sign(
    kind: str, precursor: bool, hgx: Layout, nvl72: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = FAULTS[kind]
    force(monkeypatch, kind, 1.0 if precursor else 0.0)
    lay = fleet_for(kind, hgx, nvl72)
    topo = lay.topology
    root = ROOTS[kind](lay)
    r = run(lay, kind, root)
    t = r.truth
    assert t.kind == kind
    assert t.root == root
    assert t.start == ONSET < t.end
    assert t.id == "fault-1"
    if precursor:
        assert t.precursor_start is not None
        assert EARLIEST <= t.precursor_start < ONSET  # clamped to where the data starts
        assert t.to_json()["predicts"] == fault.predicts
    else:
        assert t.precursor_start is None
        assert t.to_json()["predicts"] is None
    # Affected: real entities, sorted, unique; the root is among them exactly when it has
    # telemetry of its own.
    assert t.affected
    assert list(t.affected) == sorted(set(t.affected))
    assert all(e in topo for e in t.affected)
    has_series = any(mt.kind == topo.kind_of(root) for mt in m.METRICS.values())
    assert t.root_has_telemetry == has_series
    assert (root in t.affected) == t.root_has_telemetry
    # The state is untouched before the first sign, and the telemetry shows a healthy fleet.
    # (Series are not compared with a fault-free run sample by sample: the physics draws all
    # its noise from one stream, so any changed rate shifts the noise of every later draw.)
    sign = t.precursor_start if t.precursor_start is not None else t.start
    k = at(sign)
    quiet = State(lay, TIMES)
    for name in VARIABLES:
        assert np.array_equal(r.state[name][:, :k], quiet[name][:, :k]), name
    times = [e.time for e in r.inj.logs] + [e.time for e in r.inj.xids]
    assert all(when >= sign for when in times + [b.time for b in r.inj.bumps])
    assert all(when >= t.start for _, when in r.inj.reboots)
    healthy(r, k)
    json = t.to_json()
    assert json["kind"] == kind
    assert json["affected"] == list(t.affected)


def healthy(r: Run, k: int) -> None:
    """Nothing is wrong in the first `k` steps: every node up, every link active, no XID, no
    job stalled or throttled GPU."""
    out = r.out
    assert (out["up"][:, :k] == 1).all()
    for name, good in (("node_infiniband_state_id", 4), ("DCGM_FI_DEV_XID_ERRORS", 0)):
        assert (seen(out[name][:, :k]) == good).all(), name
    for name in ("DCGM_FI_DEV_GPU_TEMP", "job_step_time_seconds", "RackPower"):
        assert np.isnan(out[name][:, :k]).mean() < 0.01, name
    reasons = np.nan_to_num(out["DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"][:, :k]).astype(int)
    assert not (reasons & ~m.GPU_IDLE).any()
    assert np.nanmax(out["DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL"][:, :k], initial=0) == 0
    assert (seen(out["ups_on_battery"][:, :k]) == 0).all()
    assert (seen(out["RackLeakDetect"][:, :k]) == 0).all()


def test_root_kinds_are_in_both_fleets_or_skipped(hgx: Layout, nvl72: Layout) -> None:
    for f in FAULTS.values():
        kinds_hgx = any(hgx.topology.kind_mask(k).any() for k in f.root_kinds)
        kinds_nvl = any(nvl72.topology.kind_mask(k).any() for k in f.root_kinds)
        assert kinds_nvl, f.name
        assert kinds_hgx == (f.name not in NVL72_ONLY), f.name


# --- GPU ------------------------------------------------------------------------------------


def test_gpu_memory(hgx: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "gpu_memory")
    gpu = sync_gpu(hgx)
    r = run(hgx, "gpu_memory", gpu)
    pre, k = r.truth.precursor_start, at(ONSET)
    assert pre is not None
    sbe = r.series("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", gpu)
    assert np.nanmax(sbe[:k]) > np.nanmin(sbe[at(pre) :]) + 1  # correctable errors pile up
    assert np.nanmax(r.series("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", gpu)[:k]) >= 1
    assert np.nanmax(r.series("DCGM_FI_DEV_ROW_REMAP_PENDING", gpu)[:k]) == 1
    assert np.nanmax(r.series("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", gpu)[k:]) == 1
    assert np.nanmax(r.series("DCGM_FI_DEV_XID_ERRORS", gpu)[k:]) in (94, 95)
    assert np.nanmax(r.series("DCGM_FI_DEV_GPU_UTIL", gpu)[k + 1 :]) < 5  # out of its job
    step = r.series("job_step_time_seconds", job_of(hgx, gpu))
    assert np.isnan(step[k + 1 : at(ONSET + 5 * MIN)]).all()
    assert {x.code for x in r.inj.xids} >= {48}
    assert job_of(hgx, gpu) in r.truth.affected


def test_gpu_off_bus(hgx: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "gpu_off_bus")
    gpu = sync_gpu(hgx)
    r = run(hgx, "gpu_off_bus", gpu)
    pre, k = r.truth.precursor_start, at(ONSET)
    assert pre is not None
    pcie = r.series("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", gpu)
    assert np.nanmax(pcie[:k]) > np.nanmin(pcie[at(pre) :])
    assert np.isnan(r.series("DCGM_FI_DEV_GPU_TEMP", gpu)[k:]).all()  # gone
    assert np.isnan(r.series("job_step_time_seconds", job_of(hgx, gpu))[k + 1 : k + 15]).all()
    assert "fallen off the bus" in r.inj.logs[0].text


def test_straggler(hgx: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "straggler")
    gpu = sync_gpu(hgx)
    r = run(hgx, "straggler", gpu)
    pre, k = r.truth.precursor_start, at(ONSET)
    assert pre is not None
    factor = r.truth.detail["clock_factor"]
    clock = r.series("DCGM_FI_DEV_SM_CLOCK", gpu)
    assert np.nanmedian(clock[k - 10 : k]) < np.nanmedian(clock[: at(pre) + 10]) - 30  # drift
    assert np.nanmedian(clock[k:]) == pytest.approx(1980 * factor, abs=20)
    reasons = r.series("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", gpu)[k:]
    assert not (reasons[~np.isnan(reasons)].astype(int) & ~m.GPU_IDLE).any()  # no reason given
    step = r.series("job_step_time_seconds", job_of(hgx, gpu))
    ratio = np.nanmedian(step[k:]) / np.nanmedian(step[: at(pre)])
    assert ratio == pytest.approx(1 / factor, rel=0.05)
    assert not np.isnan(step[k:]).any() or np.isnan(step[k:]).mean() < 0.01  # no crash
    assert r.inj.xids == []
    assert r.inj.logs == []


def test_a_straggler_under_a_service_slows_the_service_and_says_so() -> None:
    """A service keeps serving when a GPU dies, but waits for a slow one at every step: its
    step time rises, and the truth names it among what the fault affects."""
    lay = Layout.of(Topology(*generate_fleet(FleetShape(gpus=64, seed=0))))
    services = [j for j in range(lay.count("job")) if not lay.job_sync[j]]
    assert services  # this small fleet runs one
    gpu = lay.ids("gpu")[int(np.flatnonzero(lay.gpu_job == services[0])[0])]
    r = run(lay, "straggler", gpu)
    step = r.series("job_step_time_seconds", job_of(lay, gpu))
    assert np.nanmedian(step[at(ONSET) :]) > 1.1 * np.nanmedian(step[: at(ONSET - 3600) + 30])
    assert job_of(lay, gpu) in r.truth.affected


# --- fabric ---------------------------------------------------------------------------------


def test_nvlink(hgx: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "nvlink")
    gpu = sync_gpu(hgx)
    r = run(hgx, "nvlink", gpu)
    pre, k = r.truth.precursor_start, at(ONSET)
    assert pre is not None
    assert r.truth.predicts == "link_failure"
    for name in (
        "DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL",
        "DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL",
    ):
        counter = r.series(name, gpu)
        assert np.nanmax(counter[:k]) > np.nanmin(counter[at(pre) :]) + 5, name
        assert np.nanmax(counter[: at(pre)]) == 0, name
    assert np.nanmax(r.series("DCGM_FI_DEV_XID_ERRORS", gpu)[k : k + 5]) == 74
    assert "NVLink: fatal error detected on link" in r.inj.logs[0].text
    assert np.isnan(r.series("job_step_time_seconds", job_of(hgx, gpu))[k + 1 : k + 15]).all()


@pytest.mark.parametrize("fleet", ["hgx", "nvl72"])
def test_nvswitch(fleet: str, hgx: Layout, nvl72: Layout) -> None:
    lay = hgx if fleet == "hgx" else nvl72
    root = first(lay, "nvswitch")
    r = run(lay, "nvswitch", root)
    k = at(ONSET)
    gpus = linked_gpus(lay.topology, root)
    assert len(gpus) == (8 if fleet == "hgx" else 72)
    assert not r.truth.root_has_telemetry
    assert root not in r.truth.affected
    assert set(gpus) <= set(r.truth.affected)
    sxid = [x.text for x in r.inj.logs if "SXid" in x.text]
    assert sxid
    assert "Fatal" in sxid[0]
    assert sxid[0].startswith("nvidia-nvswitch")
    assert {x.gpu_row for x in r.inj.xids} == set(
        lay.rows_of("gpu", [lay.topology.index(g) for g in gpus]).tolist()
    )
    for g in gpus:
        assert np.nanmax(r.series("DCGM_FI_DEV_XID_ERRORS", g)[k : k + 5]) == 74
    jobs = [j for j in r.truth.affected if lay.topology.kind_of(j) == "job"]
    assert jobs
    for j in jobs:
        assert np.isnan(r.series("job_step_time_seconds", j)[k + 1 : k + 15]).all()


def test_nic_flap(hgx: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "nic_flap")
    gpu = sync_gpu(hgx)
    nic = nic_of(hgx, gpu)
    r = run(hgx, "nic_flap", nic)
    pre, k = r.truth.precursor_start, at(ONSET)
    assert pre is not None
    recov = r.series("node_infiniband_link_error_recovery_total", nic)
    assert np.nanmax(recov[:k]) > np.nanmin(recov[at(pre) :])
    state_id = r.series("node_infiniband_state_id", nic)
    assert (seen(state_id[: at(pre)]) == 4).all()
    assert state_id[k] == 1  # down at onset
    downs = np.nanmax(r.series("node_infiniband_link_downed_total", nic))
    assert downs >= 2  # it comes back and falls again
    back = np.flatnonzero(state_id[k:] == 4)
    assert len(back)
    assert (state_id[k + back[0] :] == 1).any()
    assert np.isnan(r.series("job_step_time_seconds", job_of(hgx, gpu))[k + 1 : k + 15]).all()


def test_bad_cable(hgx: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "bad_cable")
    gpu = sync_gpu(hgx)
    nic = nic_of(hgx, gpu)
    r = run(hgx, "bad_cable", nic, seed=3)
    pre, k = r.truth.precursor_start, at(ONSET)
    assert pre is not None
    for name in (
        "node_infiniband_symbol_error_total",
        "node_infiniband_port_errors_received_total",
    ):
        counter = r.series(name, nic)
        assert np.nanmax(counter[:k]) > np.nanmin(counter[at(pre) :]) + 5, name
        # Links count errors only while they carry a signal.
        assert np.nanmin(counter[k + 1 :]) >= np.nanmax(counter[:k])
    state_id = r.series("node_infiniband_state_id", nic)
    assert (seen(state_id[k:]) == 1).all()
    assert np.nanmax(r.series("node_infiniband_link_downed_total", nic)) == 1
    assert np.isnan(r.series("job_step_time_seconds", job_of(hgx, gpu))[k + 1 : k + 15]).all()


def test_bad_cable_precursor_is_clamped_to_the_scenario(
    hgx: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    force(monkeypatch, "bad_cable")
    nic = nic_of(hgx, sync_gpu(hgx))

    def plan(seed: int, earliest: float | None) -> Truth:
        ctx = Context(hgx, np.random.default_rng(seed), "fault-1", earliest=earliest)
        return FAULTS["bad_cable"].plan(ctx, nic, ONSET).truth

    leads = []
    for seed in range(8):
        free, clamped = plan(seed, None), plan(seed, EARLIEST)
        assert free.precursor_start is not None
        assert clamped.precursor_start is not None
        assert clamped.precursor_start == max(free.precursor_start, EARLIEST)
        leads.append(ONSET - free.precursor_start)
    assert max(leads) > 6 * 3600  # hours to days when nothing clamps it


def test_leaf_switch(hgx: Layout) -> None:
    topo = hgx.topology
    leaf = ROOTS["leaf_switch"](hgx)
    r = run(hgx, "leaf_switch", leaf)
    k = at(ONSET)
    nics = [e.id for e in topo.children(leaf, "connects") if e.kind == "nic"]
    assert len(nics) == 8  # one scalable unit
    assert not r.truth.root_has_telemetry
    for nic in nics:
        assert nic in r.truth.affected
        state_id = r.series("node_infiniband_state_id", nic)
        assert (seen(state_id[:k]) == 4).all()
        assert (seen(state_id[k:]) == 1).all()
    jobs = [j for j in r.truth.affected if topo.kind_of(j) == "job"]
    assert jobs
    for j in jobs:
        assert np.isnan(r.series("job_step_time_seconds", j)[k + 1 : k + 15]).all()


def test_leaf_switch_retargets_a_spine(hgx: Layout) -> None:
    spine = ROOTS["spine_switch"](hgx)
    assert not FAULTS["leaf_switch"].accepts(hgx.topology, spine)
    r = run(hgx, "leaf_switch", spine)
    assert is_leaf(hgx.topology, r.truth.root)
    assert r.truth.detail["retargeted_from"] == spine


def test_spine_switch(hgx: Layout) -> None:
    topo = hgx.topology
    spine = ROOTS["spine_switch"](hgx)
    r = run(hgx, "spine_switch", spine)
    k = at(ONSET)
    assert not r.truth.root_has_telemetry
    nics = [e for e in r.truth.affected if topo.kind_of(e) == "nic"]
    jobs = [e for e in r.truth.affected if topo.kind_of(e) == "job"]
    assert nics
    assert jobs
    for nic in nics:
        wait = np.diff(r.series("node_infiniband_port_transmit_wait_total", nic))
        assert np.nanmedian(wait[k:]) > 5 * np.nanmedian(wait[: k - 1])
        assert (r.series("node_infiniband_state_id", nic)[k:] != 1).all()  # nothing goes down
    for j in jobs:
        step = r.series("job_step_time_seconds", j)
        ratio = np.nanmedian(step[k:]) / np.nanmedian(step[:k])
        assert ratio == pytest.approx(r.truth.detail["slowdown"], rel=0.05)
        assert np.isnan(step).mean() < 0.01
    # A NIC of the same rail that no crossing job uses waits no more than before.
    others = [
        e.id
        for leaf in topo.children(spine, "connects")
        for e in topo.children(leaf.id, "connects")
        if e.kind == "nic" and e.id not in nics
    ]
    for nic in others:
        wait = np.diff(r.series("node_infiniband_port_transmit_wait_total", nic))
        assert np.nanmedian(wait[k:]) <= 2 * np.nanmedian(wait[: k - 1]) + 1


def test_spine_switch_retargets_a_leaf(hgx: Layout) -> None:
    leaf = ROOTS["leaf_switch"](hgx)
    r = run(hgx, "spine_switch", leaf)
    assert is_spine(hgx.topology, r.truth.root)
    assert leaf in {e.id for e in hgx.topology.children(r.truth.root, "connects")}


# --- host -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dies", [False, True], ids=["brake", "brake-then-dies"])
def test_psu(dies: bool, hgx: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "psu", 1.0 if dies else 0.0, attr="death_probability")
    gpu = sync_gpu(hgx)
    node = node_of(hgx, gpu)
    r = run(hgx, "psu", node)
    k = at(ONSET)
    when = r.truth.detail.get("node_power_lost")
    assert (when is not None) == dies
    lost = datetime.fromisoformat(when).timestamp() if when else np.inf
    assert ONSET < lost < TIMES[-1] or not dies  # this seed loses the node within the window
    stop = at(lost)
    assert set(r.gpus(node)) <= set(r.truth.affected)
    for g in r.gpus(node):
        reasons = r.series("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", g)
        assert not (np.nan_to_num(reasons[:k]).astype(int) & m.HW_POWER_BRAKE).any()
        assert (seen(reasons[k:stop]).astype(int) & m.HW_POWER_BRAKE).all()
        clock = r.series("DCGM_FI_DEV_SM_CLOCK", g)
        assert np.nanmedian(clock[k:stop]) < 0.6 * np.nanmedian(clock[:k])
    step = r.series("job_step_time_seconds", job_of(hgx, gpu))
    assert np.nanmedian(step[k:stop]) > 1.8 * np.nanmedian(step[:k])  # the job waits for it
    up = r.series("up", node)
    if dies:
        assert (up[:stop] == 1).all()
        assert (up[stop:] == 0).all()
        assert np.isnan(r.series("DCGM_FI_DEV_GPU_TEMP", gpu)[stop:]).all()
        assert nic_of(hgx, gpu) in r.truth.affected
    else:
        assert (up == 1).all()


def test_host_hang(hgx: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "host_hang")
    gpu = sync_gpu(hgx)
    node = node_of(hgx, gpu)
    r = run(hgx, "host_hang", node)
    pre, k = r.truth.precursor_start, at(ONSET)
    assert pre is not None
    assert ONSET - pre <= 30 * MIN
    assert r.inj.xids
    assert all(x.code in (119, 120) for x in r.inj.xids)
    assert r.inj.xids[0].time == pre
    assert all(x.time < ONSET for x in r.inj.xids)
    assert "GSP" in r.inj.logs[0].text
    up = r.series("up", node)
    assert (up[:k] == 1).all()
    assert (up[k:] == 0).all()
    for g in r.gpus(node):
        assert np.isnan(r.series("DCGM_FI_DEV_GPU_TEMP", g)[k:]).all()
    assert np.isnan(r.series("node_infiniband_state_id", nic_of(hgx, gpu))[k:]).all()
    assert np.isnan(r.series("job_step_time_seconds", job_of(hgx, gpu))[k + 1 : k + 15]).all()
    assert (node, r.truth.end) in [(hgx.ids("node")[n], t) for n, t in r.inj.reboots]


# --- facility -------------------------------------------------------------------------------


def test_pdu_loss(hgx: Layout) -> None:
    pdu = ROOTS["pdu_loss"](hgx)
    r = run(hgx, "pdu_loss", pdu)
    k = at(ONSET)
    racks = [e.id for e in hgx.topology.children(pdu, "powers") if e.kind == "rack"]
    assert racks
    for rack in racks:
        power = r.series("RackPower", rack)
        assert (seen(power[:k]) > 5).all()
        assert (np.abs(seen(power[k:])) < 1).all()
    assert (seen(r.series("pdu_active_power_watts", pdu)[k:]) == 0).all()


def test_power_shelf(nvl72: Layout) -> None:
    topo = nvl72.topology
    shelf = ROOTS["power_shelf"](nvl72)
    r = run(nvl72, "power_shelf", shelf)
    k = at(ONSET)
    assert not r.truth.root_has_telemetry
    assert shelf not in r.truth.affected
    rack = topo.children(shelf, "powers")[0].id
    power = r.series("RackPower", rack)
    assert (seen(power[:k]) > 50).all()  # about 120 kW
    assert (np.abs(seen(power[k:])) < 1).all()  # then nothing
    for node in (e.id for e in topo.children(rack, "contains") if e.kind == "node"):
        assert node in r.truth.affected
        assert (r.series("up", node)[k:] == 0).all()


def test_ups(hgx: Layout) -> None:
    ups = ROOTS["ups"](hgx)
    r = run(hgx, "ups", ups)
    k = at(ONSET)
    lost = at(ONSET + 8.5 * MIN)  # the battery lasts at least 85 % of its ten minutes
    on_batt = r.series("ups_on_battery", ups)
    assert (seen(on_batt[:k]) == 0).all()
    assert (seen(on_batt[k:]) == 1).all()
    charge = r.series("ups_battery_charge_percent", ups)
    # Physics charges past 100 % while idle (clipped cumulative sum), so the gauge shows the
    # drain late; it must at least fall before the output is lost.
    assert charge[k - 1] == 100
    assert charge[lost] < 100
    out = r.series("ups_output_power_watts", ups)
    assert (out[:lost] > 0).all()
    assert out[-1] == 0
    racks = [e for e in r.truth.affected if hgx.topology.kind_of(e) == "rack"]
    assert len(racks) == hgx.count("rack")  # one UPS feeds this small fleet
    for rack in racks:
        power = r.series("RackPower", rack)
        assert (seen(power[:lost]) > 5).all()
        assert abs(np.nanmax(power[-3:])) < 1


def test_cdu_flow_loss(hgx: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "cdu_flow_loss")
    cdu = ROOTS["cdu_flow_loss"](hgx)
    r = run(hgx, "cdu_flow_loss", cdu)
    pre, k = r.truth.precursor_start, at(ONSET)
    assert pre is not None
    flow = r.series("LiquidFlow", cdu)
    assert np.nanmedian(flow[k - 5 : k]) < 0.9 * np.nanmedian(flow[: at(pre)])  # pump wear
    temps = r.out["DCGM_FI_DEV_GPU_TEMP"]
    assert np.nanmax(temps[:, k:]) > np.nanmax(temps[:, : at(pre)]) + 10
    reasons = np.nan_to_num(r.out["DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"][:, k:]).astype(int)
    assert (reasons & m.SW_THERMAL).any()


def test_room_cooling(hgx: Layout, monkeypatch: pytest.MonkeyPatch) -> None:
    force(monkeypatch, "room_cooling")
    crah = ROOTS["room_cooling"](hgx)
    r = run(hgx, "room_cooling", crah, seed=2)
    pre, k = r.truth.precursor_start, at(ONSET)
    assert pre is not None
    assert r.truth.predicts == "thermal_runaway"
    air = r.series("SupplyAirTemperature", crah)
    assert np.nanmedian(air[k - 5 : k]) > np.nanmedian(air[: at(pre)]) + 1  # degraded unit
    assert np.nanmax(air[k:]) > np.nanmedian(air[: at(pre)]) + 7  # tripped
    gpus = [e for e in r.truth.affected if hgx.topology.kind_of(e) == "gpu"]
    rows = hgx.rows_of("gpu", [hgx.topology.index(g) for g in gpus])
    temps = r.out["DCGM_FI_DEV_GPU_TEMP"][rows]
    rise = np.nanmedian(temps[:, -30:], axis=1) - np.nanmedian(temps[:, : at(pre)], axis=1)
    assert np.median(rise) >= 2  # every GPU under it warms a little
    hot = r.truth.detail["hot_nodes"]
    hot_rows = np.flatnonzero(
        np.isin(hgx.gpu_node, hgx.rows_of("node", [hgx.topology.index(n) for n in hot]))
    )
    reasons = np.nan_to_num(r.out["DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"][hot_rows, k:]).astype(int)
    assert (reasons & m.SW_THERMAL).any()  # hot spots throttle
    cold_rows = np.setdiff1d(rows, hot_rows)
    cold = np.nan_to_num(r.out["DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"][cold_rows, k:]).astype(int)
    assert not (cold & m.SW_THERMAL).any()  # the rest only warm


def test_rack_leak(hgx: Layout) -> None:
    rack = ROOTS["rack_leak"](hgx)
    r = run(hgx, "rack_leak", rack)
    k = at(ONSET)
    leak = r.series("RackLeakDetect", rack)
    assert (seen(leak[:k]) == 0).all()
    assert (seen(leak[k:]) == 1).all()
    iso = at(ONSET + 2 * MIN) + 1
    power = r.series("RackPower", rack)
    assert (seen(power[:k]) > 5).all()
    assert (np.abs(seen(power[iso:])) < 1).all()
    assert np.nanmax(r.series("RackLiquidFlow", rack)[iso:]) < 2
    for node in (e.id for e in hgx.topology.children(rack, "contains") if e.kind == "node"):
        assert (r.series("up", node)[iso:] == 0).all()


# --- services -------------------------------------------------------------------------------


def test_storage_slowdown(hgx: Layout) -> None:
    storage = ROOTS["storage_slowdown"](hgx)
    r = run(hgx, "storage_slowdown", storage)
    k, full = at(ONSET), at(ONSET + 10 * MIN)
    factor = r.truth.detail["latency_factor"]
    latency = r.series("storage_latency_seconds", storage)
    assert np.nanmedian(latency[full:]) > 0.5 * factor * np.nanmedian(latency[:k])
    jobs = [e for e in r.truth.affected if hgx.topology.kind_of(e) == "job"]
    assert jobs
    for j in jobs:
        step = r.series("job_step_time_seconds", j)
        assert np.nanmedian(step[full:]) > 1.2 * np.nanmedian(step[:k])
        assert np.isnan(step).mean() < 0.01  # slow, never stalled
