"""Remediation policies from YAML: what to match, which ladder of steps to climb, in which mode.

    policies:
      - name: gpu-predicted-failure
        mode: enforce                  # shadow | dry-run | enforce
        match: {kind: [prediction], predicts: [gpu_memory_failure]}
        steps:
          - {action: drain, timeout: 30, validate: drained, validate_timeout: 7200}
          - {action: gpu_reset, timeout: 300, validate: gpu_healthy}
          - {action: resume, approval: true}

Every error names where it is (`policies[0].steps[1].timeout: ...`), and all are reported at
once, so a bad file is fixed in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from foreshock.act.model import STEP_ACTIONS, Trigger
from foreshock.store.state.models import ACTION_MODES

MATCH_KEYS = ("kind", "xid", "predicts", "fault", "entity_kind", "labels")
STEP_KEYS = frozenset(
    {"action", "timeout", "retries", "validate", "validate_timeout", "approval", "params"}
)
POLICY_KEYS = frozenset({"name", "mode", "match", "steps", "needs_window", "description"})


class PolicyError(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class Match:
    """Each field left empty matches anything; a list matches any of its values."""

    kind: frozenset[str] = frozenset()
    xid: frozenset[int] = frozenset()
    predicts: frozenset[str] = frozenset()
    fault: frozenset[str] = frozenset()
    entity_kind: frozenset[str] = frozenset()
    labels: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def matches(self, t: Trigger) -> bool:
        def ok(allowed: frozenset[Any], value: Any) -> bool:
            return not allowed or value in allowed

        return (
            ok(self.kind, t.kind)
            and ok(self.xid, t.xid)
            and ok(self.predicts, t.predicts)
            and ok(self.fault, t.fault)
            and ok(self.entity_kind, t.entity_kind)
            and all(t.labels.get(k) == v for k, v in self.labels.items())
        )


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    timeout_s: float = 60.0  # for the call itself; a hung call counts as a retryable failure
    retries: int = 0  # further attempts after a retryable failure
    validate: str | None = None  # a validator's name, checked before the next step
    validate_timeout_s: float = 600.0  # how long the validator may take to pass
    approval: bool = False  # wait for an operator's `foreshock act approve`
    params: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    mode: str
    match: Match
    steps: tuple[Step, ...]
    needs_window: bool = False  # planned work: only inside a maintenance window
    description: str = ""


def _strings(value: Any, where: str, problems: list[str]) -> frozenset[str]:
    items = [value] if isinstance(value, str | int) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        problems.append(f"{where}: must be a string or a list of strings")
        return frozenset()
    return frozenset(items)


def _match(raw: Any, where: str, problems: list[str]) -> Match:
    if raw is None:
        return Match()
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping")
        return Match()
    for key in raw:
        if key not in MATCH_KEYS:
            problems.append(f"{where}.{key}: unknown key (known: {', '.join(MATCH_KEYS)})")
    xids_raw = raw.get("xid", [])
    xids = [xids_raw] if isinstance(xids_raw, int) else xids_raw
    if not isinstance(xids, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in xids
    ):
        problems.append(f"{where}.xid: must be an integer or a list of integers")
        xids = []
    labels = raw.get("labels", {})
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        problems.append(f"{where}.labels: must map strings to strings")
        labels = {}
    return Match(
        kind=_strings(raw.get("kind", []), f"{where}.kind", problems),
        xid=frozenset(xids),
        predicts=_strings(raw.get("predicts", []), f"{where}.predicts", problems),
        fault=_strings(raw.get("fault", []), f"{where}.fault", problems),
        entity_kind=_strings(raw.get("entity_kind", []), f"{where}.entity_kind", problems),
        labels=MappingProxyType(dict(labels)),
    )


def _seconds(raw: Mapping[str, Any], key: str, default: float, where: str, p: list[str]) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        p.append(f"{where}.{key}: must be a number of seconds > 0, not {value!r}")
        return default
    return float(value)


def _step(raw: Any, where: str, problems: list[str]) -> Step | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping with at least `action`")
        return None
    for key in raw:
        if key not in STEP_KEYS:
            problems.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(STEP_KEYS))})")
    action = raw.get("action")
    if action not in STEP_ACTIONS:
        problems.append(
            f"{where}.action: must be one of {', '.join(sorted(STEP_ACTIONS))}, not {action!r}"
        )
        return None
    retries = raw.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        problems.append(f"{where}.retries: must be an integer >= 0, not {retries!r}")
        retries = 0
    validate = raw.get("validate")
    if validate is not None and not isinstance(validate, str):
        problems.append(f"{where}.validate: must be a validator name")
        validate = None
    approval = raw.get("approval", False)
    if not isinstance(approval, bool):
        problems.append(f"{where}.approval: must be true or false")
        approval = False
    params = raw.get("params", {})
    if not isinstance(params, Mapping):
        problems.append(f"{where}.params: must be a mapping")
        params = {}
    return Step(
        action=str(action),
        timeout_s=_seconds(raw, "timeout", 60.0, where, problems),
        retries=retries,
        validate=validate,
        validate_timeout_s=_seconds(raw, "validate_timeout", 600.0, where, problems),
        approval=approval,
        params=MappingProxyType(dict(params)),
    )


def _policy(raw: Any, where: str, problems: list[str]) -> Policy | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping")
        return None
    for key in raw:
        if key not in POLICY_KEYS:
            problems.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(POLICY_KEYS))})")
    name = raw.get("name")
    if not isinstance(name, str) or not name or any(c in name for c in "#/ "):
        problems.append(f"{where}.name: must be a non-empty string without '#', '/' or spaces")
        name = "?"
    mode = raw.get("mode", "shadow")
    if mode not in ACTION_MODES:
        problems.append(f"{where}.mode: must be one of {', '.join(ACTION_MODES)}, not {mode!r}")
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append(f"{where}.steps: must be a non-empty list")
        raw_steps = []
    steps = [_step(s, f"{where}.steps[{i}]", problems) for i, s in enumerate(raw_steps)]
    needs_window = raw.get("needs_window", False)
    if not isinstance(needs_window, bool):
        problems.append(f"{where}.needs_window: must be true or false")
    return Policy(
        name=name,
        mode=str(mode),
        match=_match(raw.get("match"), f"{where}.match", problems),
        steps=tuple(s for s in steps if s is not None),
        needs_window=bool(needs_window),
        description=str(raw.get("description", "")),
    )


def parse_policies(document: Any) -> tuple[Policy, ...]:
    """Policies from a parsed YAML document (`{policies: [...]}`); PolicyError lists problems."""
    problems: list[str] = []
    raw = document.get("policies") if isinstance(document, Mapping) else None
    if not isinstance(raw, list):
        raise PolicyError(["policies: the document must hold a list under `policies`"])
    policies = [_policy(p, f"policies[{i}]", problems) for i, p in enumerate(raw)]
    names = [p.name for p in policies if p is not None]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"policies: name {dup!r} is used more than once")
    if problems:
        raise PolicyError(problems)
    return tuple(p for p in policies if p is not None)


def load_policies(path: str | Path) -> tuple[Policy, ...]:
    with open(path, encoding="utf-8") as fh:
        return parse_policies(yaml.safe_load(fh))
