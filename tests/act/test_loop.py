"""The control loop end to end on the dry-run actuator: ladders, modes, approval, recovery."""

from __future__ import annotations

import pytest
from act_support import Clock

from foreshock.act.actuators.dryrun import DryRunActuator
from foreshock.act.guards import PeriodicCheckpoints
from foreshock.act.history import ACTOR
from foreshock.act.loop import ControlLoop
from foreshock.act.model import Trigger
from foreshock.act.policy import parse_policies
from foreshock.act.settings import GuardSettings
from foreshock.store.state import StateStore

NODES = [f"n{i:02d}" for i in range(20)]

POLICIES = """
policies:
  - name: gpu-predicted
    mode: {mode}
    match: {{kind: [prediction], predicts: [gpu_memory_failure]}}
    steps:
      - {{action: drain, validate: drained}}
      - {{action: gpu_reset, validate: healthy}}
      - {{action: resume, validate: in_service{approval}}}
"""


def policies(mode: str = "enforce", approval: bool = False) -> object:
    import yaml

    text = POLICIES.format(mode=mode, approval=", approval: true" if approval else "")
    return parse_policies(yaml.safe_load(text))


def trigger(node: str = "n01", *, job: str | None = None, tid: str = "f1") -> Trigger:
    return Trigger(
        id=tid,
        kind="prediction",
        entity=f"{node}/gpu3",
        entity_kind="gpu",
        node=node,
        predicts="gpu_memory_failure",
        job=job,
    )


def make_loop(
    store: StateStore, clock: Clock, actuator: DryRunActuator, **kw: object
) -> ControlLoop:
    mode = str(kw.pop("mode", "enforce"))
    approval = bool(kw.pop("approval", False))
    return ControlLoop(
        store,
        policies(mode, approval),
        [actuator],
        fleet_size=len(NODES),
        clock=clock,  # type: ignore[arg-type]
        validators={"healthy": lambda node: (True, "dcgm ok")},
        **kw,  # type: ignore[arg-type]
    )


def decisions(store: StateStore) -> list[tuple[str, str]]:
    return [(r.action, r.decision) for r in store.audit_log(actor=ACTOR, limit=1000)]


def test_ladder_drains_resets_validates_and_returns(store: StateStore, clock: Clock) -> None:
    act = DryRunActuator(NODES)
    loop = make_loop(store, clock, act)
    key = loop.submit(trigger())
    assert key == "gpu-predicted/f1/n01"
    loop.tick()
    assert [(c.action, c.node) for c in act.calls] == [
        ("drain", "n01"),
        ("gpu_reset", "n01"),
        ("resume", "n01"),
    ]
    assert act.read("n01").held_by is None
    assert store.action(key).status == "done"  # type: ignore[union-attr]
    log = decisions(store)
    assert ("match", "matched") in log
    assert ("drain", "validated") in log
    assert ("resume", "validated") in log
    assert log[-1] == ("ladder", "done")


def test_submitting_twice_starts_one_ladder(store: StateStore, clock: Clock) -> None:
    act = DryRunActuator(NODES)
    loop = make_loop(store, clock, act)
    assert loop.submit(trigger()) == loop.submit(trigger())
    assert loop.submit(trigger(tid="f2")) is None  # same node, other trigger: merged
    loop.tick()
    loop.tick()
    assert len(act.calls) == 3
    assert ("match", "merged") in decisions(store)


def test_shadow_records_and_calls_nothing(store: StateStore, clock: Clock) -> None:
    act = DryRunActuator(NODES)
    loop = make_loop(store, clock, act, mode="shadow", approval=True)  # nobody to wait for
    loop.submit(trigger())
    loop.tick()
    assert act.calls == []
    assert [d for a, d in decisions(store) if d == "shadow"] == ["shadow"] * 3


def test_dry_run_calls_with_dry_run_set_and_changes_nothing(
    store: StateStore, clock: Clock
) -> None:
    act = DryRunActuator(NODES)
    loop = make_loop(store, clock, act, mode="dry-run")
    loop.submit(trigger())
    loop.tick()
    assert [c.dry_run for c in act.calls] == [True, True, True]
    assert act.read("n01").held_by is None


def test_approval_waits_for_an_operator(store: StateStore, clock: Clock) -> None:
    from foreshock.act.operator import approve

    act = DryRunActuator(NODES)
    loop = make_loop(store, clock, act, approval=True)
    key = loop.submit(trigger())
    loop.tick()
    loop.tick()
    assert [c.action for c in act.calls] == ["drain", "gpu_reset"]
    step = f"{key}#2:resume"
    assert store.action(step).status == "awaiting-approval"  # type: ignore[union-attr]
    approve(store, step, by="alice", now=clock())
    loop.tick()
    assert [c.action for c in act.calls] == ["drain", "gpu_reset", "resume"]
    assert ("alice", "approved") in [(r.actor, r.decision) for r in store.audit_log(limit=500)]


def test_job_waits_for_its_checkpoint(store: StateStore, clock: Clock) -> None:
    act = DryRunActuator(NODES)
    # checkpoints every hour from T0 + 600; a boundary lasts 60 s
    cps = PeriodicCheckpoints({"job-1": (clock() + 600, 3600.0)}, slack_s=60)
    loop = make_loop(store, clock, act, checkpoints=cps)
    loop.submit(trigger(job="job-1"))
    loop.tick()
    assert act.calls == []
    assert ("drain", "deferred") in decisions(store)
    clock.advance(610)
    loop.tick()
    assert [c.action for c in act.calls] == ["drain", "gpu_reset", "resume"]


def test_foreign_drain_is_refused_and_left_alone(store: StateStore, clock: Clock) -> None:
    act = DryRunActuator(NODES)
    act.hold("n01", "NHC", "NHC: check_gpu failed")
    loop = make_loop(store, clock, act)
    loop.submit(trigger())
    loop.tick()
    assert act.calls == []
    refused = [r for r in store.audit_log(limit=100) if r.decision == "refused"]
    assert refused
    assert refused[0].data["guard"] == "ownership"
    assert "NHC" in refused[0].reason


def test_running_step_after_a_crash_is_not_repeated(store: StateStore, clock: Clock) -> None:
    act = DryRunActuator(NODES)
    loop = make_loop(store, clock, act)
    key = loop.submit(trigger())
    assert key is not None
    # what a process killed mid-call leaves: the step row set running, the call made
    store.create_action(
        f"{key}#0:drain",
        policy="gpu-predicted",
        step="0:drain",
        target="n01",
        mode="enforce",
        status="running",
    )
    act.hold("n01", "foreshock")
    loop.tick()
    assert [c.action for c in act.calls] == ["gpu_reset", "resume"]  # drain not called again
    assert ("drain", "recovered") in decisions(store)


def test_unknown_validator_is_an_error(store: StateStore, clock: Clock) -> None:
    with pytest.raises(ValueError, match="no validator named 'healthy'"):
        ControlLoop(store, policies(), [DryRunActuator()], fleet_size=1)  # type: ignore[arg-type]


def test_settings_are_used(store: StateStore, clock: Clock) -> None:
    act = DryRunActuator(NODES)
    loop = make_loop(store, clock, act, settings=GuardSettings(max_in_flight=1))
    loop.submit(trigger("n01"))
    loop.submit(trigger("n02", tid="f2"))
    loop.tick()
    # n01's ladder ends within the tick, so n02 goes next tick at the latest
    loop.tick()
    assert {c.node for c in act.calls} == {"n01", "n02"}


@pytest.mark.integration
def test_ladder_on_postgresql(pg_url: str, clock: Clock) -> None:
    with StateStore.open(pg_url, clock=clock) as pg:
        act = DryRunActuator(NODES)
        loop = make_loop(pg, clock, act)
        key = loop.submit(trigger())
        assert loop.submit(trigger()) == key
        loop.tick()
        assert [c.action for c in act.calls] == ["drain", "gpu_reset", "resume"]
        assert pg.action(key or "").status == "done"  # type: ignore[union-attr]
        assert decisions(pg)[-1] == ("ladder", "done")
