"""Helpers the act tests share (a module name no other test directory uses)."""

from __future__ import annotations

T0 = 1_790_000_000.0  # any fixed instant will do


class Clock:
    """A clock tests move by hand."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
