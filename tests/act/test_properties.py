"""Property tests: random fault storms against failing and hanging actuators.

Whatever the storm, the breaker and the limits are never exceeded, no node someone else
holds is touched, no step is called more often than its retries allow (and never after it
finished), and every call and every decision is in the audit log.
"""

from __future__ import annotations

import tempfile
import threading
from collections import Counter
from pathlib import Path

from act_support import Clock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foreshock.act.actuators.base import ActuatorResult, Call, NodeState
from foreshock.act.actuators.dryrun import DryRunActuator
from foreshock.act.history import ACTOR, History
from foreshock.act.loop import ControlLoop
from foreshock.act.model import DISRUPTIVE, RETURNING, Trigger
from foreshock.act.policy import Match, Policy, Step
from foreshock.act.settings import GuardSettings
from foreshock.store.state import StateStore

NODES = [f"n{i:02d}" for i in range(24)]
RETRIES = 1
OUTCOMES = ("ok", "ok", "ok", "retryable", "fatal", "hang", "hang-after", "raise")


class Flaky:
    """Wraps the dry-run actuator; each call takes the next scripted outcome."""

    name = "flaky"
    actions = DryRunActuator.actions

    def __init__(self, inner: DryRunActuator, script: list[str], release: threading.Event) -> None:
        self.inner = inner
        self.script = list(script)
        self.release = release
        self.calls: list[Call] = []
        self.lock = threading.Lock()

    def read(self, node: str) -> NodeState:
        return self.inner.read(node)

    def run(self, call: Call) -> ActuatorResult:
        with self.lock:
            self.calls.append(call)
            outcome = self.script.pop(0) if self.script else "ok"
        if outcome == "hang":
            self.release.wait(5)
            return ActuatorResult.failure("hung", retryable=True)
        if outcome == "retryable":
            return ActuatorResult.failure("flaked", retryable=True)
        if outcome == "fatal":
            return ActuatorResult.failure("broken", retryable=False)
        if outcome == "raise":
            raise RuntimeError("actuator bug")
        result = self.inner.run(call)
        if outcome == "hang-after":  # the change is made, the answer never comes back
            self.release.wait(5)
        return result


POLICY = Policy(
    name="storm",
    mode="enforce",
    match=Match(),
    steps=(
        Step("drain", timeout_s=0.05, retries=RETRIES, validate="drained", validate_timeout_s=60),
        Step("reboot", timeout_s=0.05, retries=RETRIES),
        Step("resume", timeout_s=0.05, retries=RETRIES, validate="in_service"),
    ),
)

storms = st.fixed_dictionaries(
    {
        "events": st.lists(
            st.tuples(st.integers(0, len(NODES) - 1), st.integers(0, 3)), min_size=1, max_size=30
        ),
        "foreign": st.sets(st.integers(0, len(NODES) - 1), max_size=6),
        "script": st.lists(st.sampled_from(OUTCOMES), max_size=60),
        "steps": st.lists(st.sampled_from([1, 30, 120, 400]), min_size=4, max_size=12),
        "max_in_flight": st.integers(1, 4),
        "breaker_max": st.integers(1, 6),
        "rate_max": st.integers(1, 8),
    }
)


def windowed_max(times_nodes: list[tuple[float, str]], window: float, distinct: bool) -> int:
    best = 0
    for t0, _ in times_nodes:
        inside = [n for t, n in times_nodes if t0 <= t < t0 + window]
        best = max(best, len(set(inside)) if distinct else len(inside))
    return best


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(storm=storms)
def test_fault_storms_never_break_the_guards(storm: dict[str, object]) -> None:
    release = threading.Event()
    with (
        tempfile.TemporaryDirectory() as tmp,
        StateStore.open(Path(tmp) / "s.db", clock=(clock := Clock())) as store,
    ):
        inner = DryRunActuator(NODES)
        foreign = {NODES[i] for i in storm["foreign"]}  # type: ignore[attr-defined]
        for node in foreign:
            inner.hold(node, "NHC", "NHC: check_gpu")
        act = Flaky(inner, storm["script"], release)  # type: ignore[arg-type]
        gs = GuardSettings(
            breaker_fraction=0.25,
            breaker_max_nodes=int(storm["breaker_max"]),  # type: ignore[call-overload]
            breaker_window_s=300,
            rate_max=int(storm["rate_max"]),  # type: ignore[call-overload]
            rate_window_s=600,
            max_in_flight=int(storm["max_in_flight"]),  # type: ignore[call-overload]
        )
        loop = ControlLoop(store, [POLICY], [act], fleet_size=len(NODES), settings=gs, clock=clock)
        history = History(store)
        events = list(storm["events"])  # type: ignore[call-overload]
        for i, dt in enumerate(storm["steps"]):  # type: ignore[attr-defined]
            for node_i, when in events:
                if when == i % 4:
                    loop.submit(
                        Trigger(f"t{node_i}-{when}", "incident", NODES[node_i], node=NODES[node_i])
                    )
            loop.tick()
            assert len(history.nodes_in_flight()) <= gs.max_in_flight
            clock.advance(dt)
        release.set()

        audit = store.audit_log(limit=100_000)
        started = [r for r in audit if r.actor == ACTOR and r.decision == "started"]
        disruptive = [(r.at, r.subject) for r in started if r.data["disruptive"]]
        limit = gs.breaker_limit(len(NODES))
        assert windowed_max(disruptive, gs.breaker_window_s, distinct=True) <= limit
        assert windowed_max(disruptive, gs.rate_window_s, distinct=False) <= gs.rate_max

        touched = [c for c in act.calls if c.action in DISRUPTIVE | RETURNING]
        assert not [c for c in touched if c.node in foreign]

        per_key = Counter(c.key for c in act.calls)
        assert max(per_key.values(), default=0) <= 1 + RETRIES
        started_keys = Counter(r.data["key"] for r in started)
        assert per_key == started_keys  # every call was recorded as started, exactly

        # every row's state is explained by an audit entry about that key
        explained = {r.data.get("key") for r in audit}
        for row in store.actions(limit=10_000):
            if row.step != "ladder":
                assert row.key in explained
