"""The policy file as a whole: policies, guard settings, commands and command validators.

guards:     {max_in_flight: 2, windows: [{days: [sat], start: "02:00", end: "06:00"}]}
commands:   {gpu_reset: [ssh, "{node}", nvidia-smi, --gpu-reset, -i, "{gpu}"]}
validators: {gpu_healthy: [ssh, "{node}", dcgmi, diag, -r, "2"]}
policies:   [...]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from foreshock.act.policy import Policy, PolicyError, parse_policies
from foreshock.act.settings import GuardSettings, parse_guard_settings

SECTIONS = ("guards", "commands", "validators", "policies")


@dataclass(frozen=True, slots=True)
class ActConfig:
    policies: tuple[Policy, ...]
    settings: GuardSettings
    commands: Mapping[str, tuple[str, ...]]
    validators: Mapping[str, tuple[str, ...]]


def _argvs(raw: Any, section: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PolicyError([f"{section}: must map names to argv lists"])
    out: dict[str, tuple[str, ...]] = {}
    problems = []
    for name, argv in raw.items():
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            problems.append(f"{section}.{name}: must be a non-empty list of strings")
        else:
            out[str(name)] = tuple(argv)
    if problems:
        raise PolicyError(problems)
    return out


def parse_config(document: Any) -> ActConfig:
    if not isinstance(document, Mapping):
        raise PolicyError(["the policy file must be a mapping"])
    unknown = [k for k in document if k not in SECTIONS]
    if unknown:
        raise PolicyError([f"{k}: unknown section (known: {', '.join(SECTIONS)})" for k in unknown])
    return ActConfig(
        policies=parse_policies(document),
        settings=parse_guard_settings(document.get("guards")),
        commands=_argvs(document.get("commands"), "commands"),
        validators=_argvs(document.get("validators"), "validators"),
    )


def load_config(path: str | Path) -> ActConfig:
    with open(path, encoding="utf-8") as fh:
        return parse_config(yaml.safe_load(fh))
