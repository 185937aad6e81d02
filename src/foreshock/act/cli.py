"""`foreshock actions` (the audit log) and `foreshock act ...` (run the loop, approve a step,
reset the breaker, check a policy file). Wired into foreshock.cli by two lines there."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from foreshock.act.actuators.base import Actuator
from foreshock.act.actuators.command import CommandActuator
from foreshock.act.actuators.dryrun import DryRunActuator
from foreshock.act.config import load_config
from foreshock.act.intake import finding_triggers, incident_triggers, scheduler_name
from foreshock.act.leader import leader_for
from foreshock.act.loop import ControlLoop
from foreshock.act.model import Trigger
from foreshock.act.operator import OperatorError, approve, reset_breaker
from foreshock.act.policy import PolicyError
from foreshock.act.runner import run
from foreshock.act.validate import CommandValidator
from foreshock.sim.timefmt import parse_time, rfc3339
from foreshock.store.state import DEFAULT_PATH, NotFound, StateStore
from foreshock.topology import Topology, load_topology

out = Console()
err = Console(stderr=True)
act_app = typer.Typer(help="The remediation control loop.", no_args_is_help=True)

Db = Annotated[str, typer.Option("--db", help="State store: SQLite file or postgresql:// URL.")]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float) -> float:
    """`15m`, `2h`, `7d` ago, or an RFC 3339 time."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    return parse_time(text)


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def actions_command(
    db: Db = DEFAULT_PATH,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    since: Annotated[
        str | None, typer.Option(help="Only entries since: 30m, 2h, 7d, RFC 3339.")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="Only entries about this node.")] = None,
    limit: Annotated[int, typer.Option(help="Most entries shown.")] = 1000,
) -> None:
    """The audit log: every decision, refusal and call, oldest first."""
    try:
        start = parse_since(since, time.time()) if since else None
    except ValueError as exc:
        raise _fail(f"--since: {exc}") from exc
    with StateStore.open(db) as store:
        rows = store.audit_log(since=start, subject=subject, limit=limit)
    if as_json:
        for r in rows:
            entry = {
                "id": r.id,
                "at": rfc3339(r.at),
                "actor": r.actor,
                "action": r.action,
                "subject": r.subject,
                "decision": r.decision,
                "reason": r.reason,
                "data": r.data,
            }
            print(json.dumps(entry))
        return
    table = Table("at", "actor", "action", "subject", "decision", "reason", box=None)
    for r in rows:
        table.add_row(rfc3339(r.at), r.actor, r.action, r.subject, r.decision, r.reason)
    out.print(table)


@act_app.command("check")
def check_command(policies: Annotated[Path, typer.Argument(help="Policy file (YAML).")]) -> None:
    """Validate a policy file; every problem is listed with where it is."""
    try:
        config = load_config(policies)
    except PolicyError as exc:
        for problem in exc.problems:
            err.print(f"  {problem}", highlight=False)
        raise _fail(f"{policies}: {len(exc.problems)} problem(s)") from exc
    out.print(f"{policies}: {len(config.policies)} polic(ies) OK", highlight=False)


@act_app.command("approve")
def approve_command(
    key: Annotated[str, typer.Argument(help="The waiting step's key (see `foreshock actions`).")],
    by: Annotated[str, typer.Option("--by", help="Who approves (recorded).")],
    db: Db = DEFAULT_PATH,
) -> None:
    """Let a step that waits for approval go on."""
    with StateStore.open(db) as store:
        try:
            approve(store, key, by=by)
        except (NotFound, OperatorError) as exc:
            raise _fail(str(exc)) from exc
    out.print(f"approved {key}", highlight=False)


@act_app.command("reset-breaker")
def reset_breaker_command(
    by: Annotated[str, typer.Option("--by", help="Who resets (recorded).")],
    reason: Annotated[str, typer.Option(help="Why it is safe to go on.")] = "",
    db: Db = DEFAULT_PATH,
) -> None:
    """Close a tripped circuit breaker so that the loop acts again."""
    with StateStore.open(db) as store:
        done = reset_breaker(store, by=by, reason=reason)
    out.print("breaker reset" if done else "the breaker was not tripped")


def build_actuators(
    *,
    slurm: bool,
    kubernetes: bool,
    alertmanager: str | None,
    dry_run: bool,
    commands: dict[str, tuple[str, ...]],
    nodes: list[str],
) -> list[Actuator]:
    actuators: list[Actuator] = []
    if dry_run:
        actuators.append(DryRunActuator(nodes))
    if slurm:
        from foreshock.act.actuators.slurm import SlurmActuator

        actuators.append(SlurmActuator())
    if kubernetes:
        from foreshock.act.actuators.kubernetes import KubernetesActuator

        actuators.append(KubernetesActuator.from_config())
    if alertmanager:
        from foreshock.act.actuators.alertmanager import AlertmanagerActuator

        actuators.append(AlertmanagerActuator(alertmanager))
    if commands:
        actuators.append(CommandActuator(commands))
    return actuators


@act_app.command("run")
def run_command(
    policies: Annotated[Path, typer.Option("--policies", help="Policy file (YAML).")],
    db: Db = DEFAULT_PATH,
    topology: Annotated[
        list[Path] | None,
        typer.Option("--topology", "-t", help="Topology file(s): GPU → node, jobs."),
    ] = None,
    findings: Annotated[Path | None, typer.Option(help="Findings, one JSON object a line.")] = None,
    slurm: Annotated[bool, typer.Option("--slurm", help="Act through scontrol.")] = False,
    kubernetes: Annotated[
        bool, typer.Option("--kubernetes", help="Act through the Kubernetes API.")
    ] = False,
    alertmanager: Annotated[str | None, typer.Option(help="Alertmanager URL for silences.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run-actuator", help="Record calls only.")] = False,
    fleet_size: Annotated[int | None, typer.Option(help="Nodes in the fleet (breaker).")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between passes.")] = 10.0,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
) -> None:
    """Run the control loop: open incidents (and findings) in, guarded steps out."""
    try:
        config = load_config(policies)
    except PolicyError as exc:
        raise _fail(f"{policies}: {exc}") from exc
    topo: Topology | None = load_topology(topology) if topology else None
    nodes = [scheduler_name(topo, e.id) for e in topo.entities("node")] if topo else []
    size = fleet_size or len(nodes)
    if size <= 0:
        raise _fail("give --fleet-size or a --topology with nodes (the breaker needs it)")
    actuators = build_actuators(
        slurm=slurm,
        kubernetes=kubernetes,
        alertmanager=alertmanager,
        dry_run=dry_run,
        commands=dict(config.commands),
        nodes=nodes,
    )
    if not actuators:
        raise _fail("no actuator: give --slurm, --kubernetes, --alertmanager or --dry-run-actuator")
    validators = {k: CommandValidator(v) for k, v in config.validators.items()}
    with StateStore.open(db) as store:
        try:
            loop = ControlLoop(
                store,
                config.policies,
                actuators,
                fleet_size=size,
                settings=config.settings,
                validators=validators,
            )
        except ValueError as exc:
            raise _fail(str(exc)) from exc

        def intake() -> list[Trigger]:
            found = list(incident_triggers(store, topo))
            if findings is not None and findings.exists():
                found.extend(finding_triggers(findings, topo))
            return found

        def report(leading: bool) -> None:
            if not leading:
                err.print("another replica leads; waiting", highlight=False)

        led = run(
            loop,
            leader_for(store),
            intake=intake,
            interval_s=interval,
            max_passes=1 if once else None,
            on_pass=report,
        )
    out.print(f"{led} pass(es) led", highlight=False)
