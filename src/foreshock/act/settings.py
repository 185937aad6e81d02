"""Guard settings, each declared once with its default and why that default.

Defaults follow shared/domain/operations.md §3: NVSentinel's breaker (50 % of GPU nodes in a
sliding 5 min window, plus an absolute cap), kured's and maintenance-operator's one node in
flight, NVSentinel's ≥ 5 remediations in 7 days ⇒ RMA.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from foreshock.act.policy import PolicyError


@dataclass(frozen=True, slots=True)
class Window:
    """A weekly maintenance window in UTC: days 0=Monday..6, minutes from midnight."""

    days: frozenset[int]
    start_min: int
    end_min: int  # exclusive; may be < start for a window over midnight

    def contains(self, t: float) -> bool:
        day = int((t // 86400 + 3) % 7)  # 1970-01-01 was a Thursday
        minute = int(t % 86400 // 60)
        if self.start_min <= self.end_min:
            return day in self.days and self.start_min <= minute < self.end_min
        if minute >= self.start_min:
            return day in self.days
        return (day - 1) % 7 in self.days and minute < self.end_min


@dataclass(frozen=True, slots=True)
class GuardSettings:
    breaker_fraction: float = 0.5  # of the fleet's nodes, in one breaker window
    breaker_max_nodes: int = 10  # absolute cap in one breaker window
    breaker_window_s: float = 300.0
    rate_max: int = 10  # disruptive steps started per rate window
    rate_window_s: float = 3600.0
    max_in_flight: int = 1  # nodes under remediation at once
    repeat_max: int = 5  # completed remediations of one node before RMA ...
    repeat_window_s: float = 7 * 86400.0  # ... within this window
    opt_out_label: str = "foreshock.io/opt-out"  # value "true" keeps Foreshock away
    windows: tuple[Window, ...] = ()  # maintenance windows for policies with needs_window

    def breaker_limit(self, fleet_size: int) -> int:
        """Most distinct nodes that may be acted on in one window: the lower of both caps."""
        return max(0, min(int(self.breaker_fraction * fleet_size), self.breaker_max_nodes))


_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _minutes(text: Any, where: str, problems: list[str]) -> int:
    try:
        hh, mm = str(text).split(":")
        value = int(hh) * 60 + int(mm)
        if not 0 <= value <= 24 * 60:
            raise ValueError
        return value
    except ValueError:
        problems.append(f"{where}: must be HH:MM, not {text!r}")
        return 0


def parse_guard_settings(raw: Mapping[str, Any] | None) -> GuardSettings:
    """`guards:` from the policy file; unknown keys and wrong types are errors."""
    if not raw:
        return GuardSettings()
    problems: list[str] = []
    known = {f.name: f for f in fields(GuardSettings)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            problems.append(f"guards.{key}: unknown setting (known: {', '.join(sorted(known))})")
        elif key == "windows":
            windows = []
            for i, w in enumerate(value or []):
                where = f"guards.windows[{i}]"
                days = w.get("days", list(_DAYS)) if isinstance(w, Mapping) else None
                if not isinstance(days, list) or any(d not in _DAYS for d in days):
                    problems.append(f"{where}.days: must be a list of mon..sun")
                    continue
                start = _minutes(w.get("start"), f"{where}.start", problems)
                end = _minutes(w.get("end"), f"{where}.end", problems)
                windows.append(Window(frozenset(_DAYS[d] for d in days), start, end))
            values[key] = tuple(windows)
        elif isinstance(value, bool) or not isinstance(value, int | float | str):
            problems.append(f"guards.{key}: must be a scalar")
        else:
            default = getattr(GuardSettings(), key)
            try:
                values[key] = type(default)(value)
            except ValueError:
                problems.append(f"guards.{key}: must be a {type(default).__name__}")
    if problems:
        raise PolicyError(problems)
    return GuardSettings(**values)
