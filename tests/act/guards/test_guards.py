"""Each guard on its own (check(plan, ctx) → Refusal | None), and through the loop where the
guard's effect is on the ladder (escalation to RMA, the breaker's pause and reset)."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from act_support import T0, Clock

from foreshock.act.actuators.base import OWNER, NodeState
from foreshock.act.actuators.dryrun import DryRunActuator
from foreshock.act.guards import (
    AlwaysOpen,
    AnyTime,
    CircuitBreaker,
    Concurrency,
    ErrorBudget,
    GuardContext,
    JobBoundary,
    MaintenanceWindow,
    OptOut,
    Ownership,
    RateLimit,
    RepeatOffender,
)
from foreshock.act.history import ACTOR, History
from foreshock.act.loop import ControlLoop
from foreshock.act.model import Plan, Trigger
from foreshock.act.operator import reset_breaker
from foreshock.act.policy import Match, Policy, Step
from foreshock.act.settings import GuardSettings, Window
from foreshock.store.state import StateStore


def plan(
    action: str = "drain",
    node: str = "n1",
    *,
    job: str | None = None,
    labels: dict[str, str] | None = None,
) -> Plan:
    t = Trigger("t1", "incident", node, node=node, job=job, labels=MappingProxyType(labels or {}))
    return Plan(f"p/t1/{node}#0:{action}", f"p/t1/{node}", "p", "enforce", 0, action, node, t)


def ctx(
    store: StateStore,
    *,
    state: NodeState | None = None,
    now: float = T0,
    settings: GuardSettings | None = None,
    needs_window: bool = False,
    budget: object = None,
    checkpoints: object = None,
    fleet: int = 100,
) -> GuardContext:
    return GuardContext(
        now=now,
        settings=settings or GuardSettings(),
        history=History(store),
        fleet_size=fleet,
        node_state=lambda n: state or NodeState(n, "IDLE"),
        checkpoints=checkpoints or AnyTime(),  # type: ignore[arg-type]
        budget=budget or AlwaysOpen(),
        needs_window=needs_window,  # type: ignore[arg-type]
    )


def started(store: StateStore, node: str, at: float) -> None:
    store.append_audit(
        actor=ACTOR,
        action="drain",
        subject=node,
        decision="started",
        data={"disruptive": True, "key": f"k-{node}-{at}"},
        at=at,
    )


def test_ownership(store: StateStore) -> None:
    foreign = NodeState("n1", "IDLE+DRAIN", held_by="NHC", reason="NHC: bad", drained=True)
    ours = NodeState("n1", "IDLE+DRAIN", held_by=OWNER, reason="foreshock: x", drained=True)
    refusal = Ownership().check(plan("resume"), ctx(store, state=foreign))
    assert refusal is not None
    assert not refusal.defer
    assert "will not return" in refusal.reason
    assert Ownership().check(plan("drain"), ctx(store, state=foreign)) is not None
    assert Ownership().check(plan("resume"), ctx(store, state=ours)) is None
    assert Ownership().check(plan("notify"), ctx(store, state=foreign)) is None
    missing = NodeState("n1", "MISSING", exists=False)
    assert Ownership().check(plan(), ctx(store, state=missing)) is not None


def test_opt_out_from_topology_or_scheduler_labels(store: StateStore) -> None:
    label = "foreshock.io/opt-out"
    assert OptOut().check(plan(labels={label: "true"}), ctx(store)) is not None
    labelled = NodeState("n1", "Ready", labels={label: "True"})
    assert OptOut().check(plan(), ctx(store, state=labelled)) is not None
    assert OptOut().check(plan(), ctx(store)) is None
    assert OptOut().check(plan("notify", labels={label: "true"}), ctx(store)) is None


def test_breaker_trips_on_the_lower_cap_and_stays_tripped(store: StateStore) -> None:
    s = GuardSettings(breaker_fraction=0.5, breaker_max_nodes=3, breaker_window_s=300)
    for i in range(3):
        started(store, f"n{i}", T0 - 10)
    assert CircuitBreaker().check(plan(node="n0"), ctx(store, settings=s)) is None  # counted
    refusal = CircuitBreaker().check(plan(node="n9"), ctx(store, settings=s))
    assert refusal is not None
    assert refusal.defer
    assert "min of 50% of 100 and 3" in refusal.reason
    # tripped: even a node already counted, and returns to service, wait now
    assert CircuitBreaker().check(plan(node="n0"), ctx(store, settings=s)) is not None
    assert CircuitBreaker().check(plan("resume", "n0"), ctx(store, settings=s)) is not None
    assert CircuitBreaker().check(plan("notify", "n0"), ctx(store, settings=s)) is None
    assert reset_breaker(store, by="alice", now=T0)
    assert not reset_breaker(store, by="alice", now=T0)
    # the window slides: 301 s later the three starts no longer count
    assert CircuitBreaker().check(plan(node="n9"), ctx(store, settings=s, now=T0 + 291)) is None


def test_breaker_fraction_binds_on_small_fleets(store: StateStore) -> None:
    s = GuardSettings(breaker_fraction=0.2, breaker_max_nodes=100)
    started(store, "n0", T0)
    assert s.breaker_limit(5) == 1
    assert CircuitBreaker().check(plan(node="n1"), ctx(store, settings=s, fleet=5)) is not None


def test_rate_limit(store: StateStore) -> None:
    s = GuardSettings(rate_max=2, rate_window_s=600)
    started(store, "n0", T0 - 700)  # outside the window
    started(store, "n0", T0 - 100)
    assert RateLimit().check(plan(), ctx(store, settings=s)) is None
    started(store, "n2", T0 - 50)
    refusal = RateLimit().check(plan(), ctx(store, settings=s))
    assert refusal is not None
    assert refusal.defer


def test_concurrency_counts_disrupted_ladders(store: StateStore) -> None:
    store.create_action(
        "a",
        policy="p",
        step="ladder",
        target="n0",
        mode="enforce",
        status="active",
        data={"disrupted": True},
    )
    store.create_action(
        "b",
        policy="p",
        step="ladder",
        target="n5",
        mode="enforce",
        status="active",
        data={"disrupted": False},
    )
    s = GuardSettings(max_in_flight=1)
    assert Concurrency().check(plan(node="n0"), ctx(store, settings=s)) is None  # its own
    assert Concurrency().check(plan(node="n1"), ctx(store, settings=s)) is not None
    assert (
        Concurrency().check(plan(node="n1"), ctx(store, settings=GuardSettings(max_in_flight=2)))
        is None
    )


def test_job_boundary(store: StateStore) -> None:
    class Never:
        def at_boundary(self, job: str, now: float) -> bool:
            return False

    refusal = JobBoundary().check(plan(job="job-1"), ctx(store, checkpoints=Never()))
    assert refusal is not None
    assert "job-1" in refusal.reason
    assert JobBoundary().check(plan(), ctx(store, checkpoints=Never())) is None
    assert JobBoundary().check(plan(job="job-1"), ctx(store)) is None


def test_maintenance_window(store: StateStore) -> None:
    # T0 = 1_790_000_000 is a Monday, 14:13 UTC
    monday_afternoon = Window(frozenset({0}), 14 * 60, 15 * 60)
    night = Window(frozenset({0}), 22 * 60, 2 * 60)
    assert monday_afternoon.contains(T0)
    assert not monday_afternoon.contains(T0 + 86400)  # Tuesday
    assert not night.contains(T0)
    assert night.contains(T0 + 9 * 3600)  # Monday 23:13
    assert night.contains(T0 + 11 * 3600)  # Tuesday 01:13, still Monday's window
    assert not night.contains(T0 + 12 * 3600)  # Tuesday 02:13
    inside = GuardSettings(windows=(monday_afternoon,))
    outside = GuardSettings(windows=(night,))
    assert MaintenanceWindow().check(plan(), ctx(store, settings=inside, needs_window=True)) is None
    assert MaintenanceWindow().check(plan(), ctx(store, settings=outside, needs_window=True))
    assert MaintenanceWindow().check(plan(), ctx(store, settings=outside)) is None
    none_set = MaintenanceWindow().check(plan(), ctx(store, needs_window=True))
    assert none_set is not None
    assert not none_set.defer


def test_error_budget_gate(store: StateStore) -> None:
    class Burning:
        def closed(self, plan: Plan, now: float) -> str | None:
            return "cluster SLO burning at 14.4x"

    refusal = ErrorBudget().check(plan(), ctx(store, budget=Burning()))
    assert refusal is not None
    assert refusal.reason == "cluster SLO burning at 14.4x"
    assert ErrorBudget().check(plan(), ctx(store)) is None


def test_repeat_offender_goes_to_rma(store: StateStore, clock: Clock) -> None:
    policy = Policy("reboot", "enforce", Match(), (Step("drain"), Step("reboot"), Step("resume")))
    act = DryRunActuator(["n1"])
    loop = ControlLoop(
        store,
        [policy],
        [act],
        fleet_size=10,
        clock=clock,
        settings=GuardSettings(rate_max=1000, breaker_max_nodes=1000),
    )
    for i in range(6):
        loop.submit(Trigger(f"t{i}", "incident", "n1", node="n1"))
        loop.tick()
        clock.advance(86400)
    actions = [c.action for c in act.calls]
    assert actions[:15] == ["drain", "reboot", "resume"] * 5
    # the sixth time: the policy's drain, then the reboot is refused and the ladder turns to
    # the escalation ladder (drain again, idempotently, then RMA), not another reboot
    assert actions[15:] == ["drain", "drain", "rma"]
    assert act.read("n1").held_by == OWNER  # and it stays out of service
    refused = [r for r in store.audit_log(limit=500) if r.decision == "refused"]
    assert refused[0].data["guard"] == "repeat-offender"
    ladders = [r.status for r in store.actions(limit=100) if r.step == "ladder"]
    assert ladders[0] == "rma"  # newest first: the sixth ladder ended in RMA


def test_breaker_pause_and_reset_through_the_loop(store: StateStore, clock: Clock) -> None:
    policy = Policy("p", "enforce", Match(), (Step("drain"), Step("resume")))
    act = DryRunActuator([f"n{i}" for i in range(10)])
    s = GuardSettings(breaker_max_nodes=2, max_in_flight=10)
    loop = ControlLoop(store, [policy], [act], fleet_size=10, settings=s, clock=clock)
    for i in range(4):
        loop.submit(Trigger(f"t{i}", "incident", f"n{i}", node=f"n{i}"))
    loop.tick()
    assert {c.node for c in act.calls} == {"n0", "n1"}
    assert History(store).breaker_tripped() is not None
    clock.advance(3600)
    loop.tick()
    assert {c.node for c in act.calls} == {"n0", "n1"}  # paused until an operator resets
    reset_breaker(store, by="bob", now=clock())
    loop.tick()
    assert {c.node for c in act.calls} == {"n0", "n1", "n2", "n3"}


@pytest.mark.parametrize("action", ["notify", "silence"])
def test_guards_ignore_harmless_steps(store: StateStore, action: str) -> None:
    s = GuardSettings(rate_max=0, max_in_flight=0, breaker_max_nodes=0)
    for guard in (RateLimit(), Concurrency(), CircuitBreaker(), RepeatOffender()):
        assert guard.check(plan(action), ctx(store, settings=s)) is None
