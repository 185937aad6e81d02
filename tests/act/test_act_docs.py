"""docs/act.md names every guard setting, step action and policy key (a test, so that a new
one cannot go undocumented)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from foreshock.act.model import STEP_ACTIONS
from foreshock.act.policy import MATCH_KEYS, POLICY_KEYS
from foreshock.act.settings import GuardSettings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "act.md").read_text()


@pytest.mark.parametrize("name", [f.name for f in fields(GuardSettings)])
def test_guard_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in DOC


@pytest.mark.parametrize(
    "name", sorted(STEP_ACTIONS | set(MATCH_KEYS) | POLICY_KEYS - {"description"})
)
def test_policy_word_is_documented(name: str) -> None:
    assert f"`{name}`" in DOC or f"{name}:" in DOC
