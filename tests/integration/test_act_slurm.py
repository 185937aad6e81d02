"""The Slurm actuator and the control loop against a real slurmctld (no slurmd registers, so
base states stay UNKNOWN; drain, resume, reasons and reboot requests are slurmctld's own).

Nodes gpu030-gpu045 of the shared 48-node cluster are this module's: no other test asserts
on them. The reboot test starts a private cluster, because `scontrol reboot` needs a
RebootProgram that the shared one does not configure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import servers
from servers import slurm as slurm_servers
from servers.process import find_binary, free_ports, spawn, wait_ready

from foreshock.act.actuators.base import OWNER, Call
from foreshock.act.actuators.command import CommandActuator
from foreshock.act.actuators.slurm import SlurmActuator
from foreshock.act.guards import PeriodicCheckpoints
from foreshock.act.history import ACTOR
from foreshock.act.loop import ControlLoop
from foreshock.act.model import Trigger
from foreshock.act.policy import Match, Policy, Step
from foreshock.act.validate import CommandValidator
from foreshock.store.state import StateStore

pytestmark = pytest.mark.integration


@pytest.fixture
def actuator(slurmctld: servers.SlurmHandle) -> SlurmActuator:
    return SlurmActuator(env=slurmctld.env)


def call(action: str, node: str, *, dry_run: bool = False) -> Call:
    return Call(action, node, f"incident-9 {action}", key=f"k-{node}", dry_run=dry_run)


def test_drain_writes_our_reason_and_resume_reads_it_back(actuator: SlurmActuator) -> None:
    drained = actuator.run(call("drain", "gpu030"))
    assert drained.ok, drained.detail
    state = actuator.read("gpu030")
    assert state.held_by == OWNER
    assert state.reason == "foreshock: incident-9 drain"
    assert "DRAIN" in state.state
    assert state.drained  # no job runs there: DRAINED, not DRAINING
    resumed = actuator.run(call("resume", "gpu030"))
    assert resumed.ok, resumed.detail
    after = actuator.read("gpu030")
    assert after.held_by is None
    assert "DRAIN" not in after.state


def test_someone_elses_drain_is_never_touched(
    actuator: SlurmActuator, slurmctld: servers.SlurmHandle
) -> None:
    slurmctld.run("scontrol", "update", "NodeName=gpu031", "State=DRAIN", "Reason=NHC: check_gpu")
    for action in ("resume", "drain", "reboot"):
        result = actuator.run(call(action, "gpu031"))
        assert not result.ok
        assert not result.retryable
    state = actuator.read("gpu031")
    assert state.reason == "NHC: check_gpu"
    assert state.foreign


def test_dry_run_and_missing_node(actuator: SlurmActuator) -> None:
    assert actuator.run(call("drain", "gpu032", dry_run=True)).ok
    assert actuator.read("gpu032").held_by is None
    missing = actuator.run(call("drain", "gpu999"))
    assert not missing.ok
    assert not missing.retryable


def test_worked_example_predicted_gpu_failure(actuator: SlurmActuator, tmp_path: Path) -> None:
    """docs/act.md's worked example: a GPU predicted to fail is drained at its job's
    checkpoint, reset, validated and returned, all in the audit log."""
    now = [1_790_000_000.0]
    marker = tmp_path / "resets"
    policy = Policy(
        name="gpu-predicted-failure",
        mode="enforce",
        match=Match(kind=frozenset({"prediction"}), predicts=frozenset({"gpu_memory_failure"})),
        steps=(
            Step("drain", timeout_s=30, validate="drained", validate_timeout_s=3600),
            Step("gpu_reset", timeout_s=60, validate="gpu_healthy"),
            Step("resume", timeout_s=30, validate="in_service"),
        ),
    )
    reset = CommandActuator({"gpu_reset": ["sh", "-c", f"echo {{node}} {{gpu}} >> {marker}"]})
    healthy = CommandValidator(["sh", "-c", f"grep -q gpu033 {marker}"])
    cps = PeriodicCheckpoints({"job-8812": (now[0] + 900, 3600.0)}, slack_s=120)
    with StateStore.open(tmp_path / "state.db", clock=lambda: now[0]) as store:
        loop = ControlLoop(
            store,
            [policy],
            [actuator, reset],
            fleet_size=48,
            checkpoints=cps,
            validators={"gpu_healthy": healthy},
            clock=lambda: now[0],
        )
        trigger = Trigger(
            "prediction-gpu033-gpu3",
            "prediction",
            "gpu033/gpu3",
            entity_kind="gpu",
            node="gpu033",
            predicts="gpu_memory_failure",
            job="job-8812",
            at=now[0],
        )
        ladder = loop.submit(trigger)
        loop.tick()
        assert actuator.read("gpu033").held_by is None  # waits for the checkpoint
        now[0] += 905
        loop.tick()
        assert marker.read_text().split() == ["gpu033", "3"]
        state = actuator.read("gpu033")
        assert state.held_by is None
        assert store.action(ladder or "").status == "done"  # type: ignore[union-attr]
        log = [(r.action, r.decision) for r in store.audit_log(actor=ACTOR, limit=200)]
        assert log == [
            ("match", "matched"),
            ("drain", "planned"),
            ("drain", "deferred"),
            ("drain", "started"),
            ("drain", "succeeded"),
            ("drain", "validated"),
            ("gpu_reset", "planned"),
            ("gpu_reset", "started"),
            ("gpu_reset", "succeeded"),
            ("gpu_reset", "validated"),
            ("resume", "planned"),
            ("resume", "started"),
            ("resume", "succeeded"),
            ("resume", "validated"),
            ("ladder", "done"),
        ]


@contextlib.contextmanager
def cluster_with_reboot(workdir: Path, nodes: int = 4) -> Iterator[servers.SlurmHandle]:
    """The shared launcher's cluster plus `RebootProgram=/bin/true`."""
    ctld = find_binary("slurmctld", "slurmctld")
    scontrol = find_binary("scontrol", "slurm-client")
    (workdir / "state").mkdir(parents=True, exist_ok=True)
    with slurm_servers.munged(workdir) as sock:
        ctld_port, slurmd_port = free_ports(2)
        conf = workdir / "slurm.conf"
        text = slurm_servers.slurm_conf(
            workdir=workdir,
            munge_socket=sock,
            ctld_port=ctld_port,
            slurmd_port=slurmd_port,
            nodes=nodes,
            cpus_per_node=8,
            cluster="fsreboot",
            partition="gpu",
            node_prefix="gpu",
        )
        conf.write_text(text + "RebootProgram=/bin/true\n")
        env = slurm_servers._slurm_env(conf)
        with spawn("slurmctld", [ctld, "-D", "-f", str(conf)], workdir=workdir, env=env) as p:
            wait_ready(p, slurm_servers._scontrol_ping(scontrol, env), what="scontrol ping")
            yield servers.SlurmHandle(
                cluster="fsreboot",
                partition="gpu",
                nodes=slurm_servers.node_names(nodes),
                port=ctld_port,
                conf=conf,
                munge_socket=sock,
                workdir=workdir,
                env=env,
            )


def test_reboot_asap_nextstate_resume(launch: servers.Launch, tmp_path: Path) -> None:
    handle = launch(cluster_with_reboot(tmp_path / "ctld"))
    actuator = SlurmActuator(env=handle.env)
    result = actuator.run(call("reboot", "gpu002"))
    assert result.ok, result.detail
    state = actuator.read("gpu002")
    assert state.held_by == OWNER
    assert state.reason == "foreshock: incident-9 reboot"
    assert "NextState=RESUME" in handle.run("scontrol", "show", "node", "gpu002", "-o")
