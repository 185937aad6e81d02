"""Act: the remediation control loop, its guards, and real actuators (docs/act.md).

    policies = load_policies("policies.yaml")
    loop = ControlLoop(store, policies, [SlurmActuator()], fleet_size=1024)
    loop.submit(trigger)          # a finding or an incident's cause, on one node
    loop.tick()                   # guards → call with a deadline → validate → next step

Layout: `policy` (YAML → frozen Policy/Step), `guards/` (one interface, `check(plan, ctx)`),
`actuators/` (Slurm, Kubernetes, Alertmanager, commands, dry-run), `loop` and `steps` (the
state machine over action rows), `leader` (one acting replica), `operator` (approve, reset).
"""

from foreshock.act.loop import ControlLoop
from foreshock.act.model import Plan, Refusal, Trigger, trigger_from_finding, trigger_from_incident
from foreshock.act.policy import Match, Policy, PolicyError, Step, load_policies, parse_policies
from foreshock.act.settings import GuardSettings, Window

__all__ = [
    "ControlLoop",
    "GuardSettings",
    "Match",
    "Plan",
    "Policy",
    "PolicyError",
    "Refusal",
    "Step",
    "Trigger",
    "Window",
    "load_policies",
    "parse_policies",
    "trigger_from_finding",
    "trigger_from_incident",
]
