"""The control loop as a process of its own, for the kill -9 test (test_crash.py).

    python act_killee.py DB JOURNAL [--hang-on-call N]

Submits the same triggers on every pass (submission is idempotent) and exits 0 once every
ladder has finished. With --hang-on-call N the N-th actuator call (counted in this process)
never returns, so the parent's SIGKILL lands mid-call, deterministically.
"""

from __future__ import annotations

import argparse
import sys
import threading

from foreshock.act.actuators.base import ActuatorResult, Call
from foreshock.act.actuators.dryrun import DryRunActuator
from foreshock.act.history import History
from foreshock.act.leader import SingleProcessLeader
from foreshock.act.loop import ControlLoop
from foreshock.act.model import Trigger
from foreshock.act.policy import Match, Policy, Step
from foreshock.act.runner import run
from foreshock.act.settings import GuardSettings
from foreshock.store.state import StateStore

NODES = [f"n{i:02d}" for i in range(24)]
TARGETS = [*NODES[:8], "n01", "n03"]  # two repeats: must not start second ladders
FOREIGN = "n05"  # drained by NHC: never touched
POLICY = Policy(
    name="crash",
    mode="enforce",
    match=Match(),
    steps=(
        Step("drain", timeout_s=3600, validate="drained", validate_timeout_s=600),
        Step("reboot", timeout_s=3600, validate="drained"),
        Step("resume", timeout_s=3600, validate="in_service"),
    ),
)
SETTINGS = GuardSettings(breaker_fraction=0.5, breaker_max_nodes=8, max_in_flight=3, rate_max=100)


class Hanging(DryRunActuator):
    def __init__(self, journal: str, hang_on: int | None) -> None:
        super().__init__(NODES, journal=journal)
        self.hang_on = hang_on

    def run(self, call: Call) -> ActuatorResult:
        result = super().run(call)
        if self.hang_on is not None and len(self.calls) == self.hang_on:
            threading.Event().wait()  # until SIGKILL
        return result


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("journal")
    p.add_argument("--hang-on-call", type=int)
    args = p.parse_args()
    store = StateStore.open(args.db)
    act = Hanging(args.journal, args.hang_on_call)
    act.hold(FOREIGN, "NHC", "NHC: check_gpu")
    loop = ControlLoop(store, [POLICY], [act], fleet_size=len(NODES), settings=SETTINGS)
    leader = SingleProcessLeader(store)
    if not leader.acquire():
        print("not the leader", file=sys.stderr)
        return 3
    triggers = [Trigger(f"t-{n}-{i}", "incident", n, node=n) for i, n in enumerate(TARGETS)]
    stop = threading.Event()
    history = History(store)

    def check(_leading: bool) -> None:
        if not history.active_ladders():
            stop.set()

    # hung calls run in threads with a one-hour deadline, so the pass itself blocks on them
    run(loop, leader, intake=lambda: triggers, interval_s=0.01, stop=stop, on_pass=check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
