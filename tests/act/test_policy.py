"""Policy files: parsing, matching, and errors that say where they are."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest
import yaml

from foreshock.act.config import load_config, parse_config
from foreshock.act.model import Trigger
from foreshock.act.policy import PolicyError, load_policies, parse_policies
from foreshock.act.settings import GuardSettings, parse_guard_settings

GOOD = """
guards:
  max_in_flight: 2
  breaker_max_nodes: 20
  windows: [{days: [sat, sun], start: "02:00", end: "06:00"}]
commands:
  gpu_reset: [ssh, "{node}", nvidia-smi, --gpu-reset, -i, "{gpu}"]
validators:
  gpu_healthy: [ssh, "{node}", dcgmi, diag, -r, "2"]
policies:
  - name: xid-48
    mode: enforce
    match: {kind: incident, xid: [48, 63], labels: {partition: gpu}}
    steps:
      - {action: drain, timeout: 30, validate: drained, validate_timeout: 7200}
      - {action: gpu_reset, retries: 2, validate: gpu_healthy}
      - {action: resume, approval: true}
  - name: predicted
    match: {kind: [prediction], predicts: gpu_memory_failure, entity_kind: gpu}
    needs_window: true
    steps: [{action: notify}]
"""


def test_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(GOOD)
    config = load_config(path)
    assert [p.name for p in config.policies] == ["xid-48", "predicted"]
    xid = config.policies[0]
    assert xid.mode == "enforce"
    assert [s.action for s in xid.steps] == ["drain", "gpu_reset", "resume"]
    assert xid.steps[0].validate_timeout_s == 7200
    assert xid.steps[1].retries == 2
    assert xid.steps[2].approval
    assert config.policies[1].mode == "shadow"  # the safe default
    assert config.policies[1].needs_window
    assert config.settings.max_in_flight == 2
    assert config.settings.windows[0].days == frozenset({5, 6})
    assert config.commands["gpu_reset"][0] == "ssh"
    assert load_policies(path) == config.policies


def test_matching() -> None:
    xid, predicted = parse_policies(yaml.safe_load(GOOD))
    labels = MappingProxyType({"partition": "gpu"})
    hit = Trigger("i1", "incident", "n1", node="n1", xid=48, labels=labels)
    assert xid.match.matches(hit)
    assert not xid.match.matches(Trigger("i1", "incident", "n1", xid=79, labels=labels))
    assert not xid.match.matches(Trigger("i1", "incident", "n1", xid=48))  # label missing
    p = Trigger("f", "prediction", "n1/gpu3", entity_kind="gpu", predicts="gpu_memory_failure")
    assert predicted.match.matches(p)
    assert not predicted.match.matches(Trigger("f", "prediction", "n1/gpu3", entity_kind="gpu"))


def test_every_problem_is_reported_with_its_place() -> None:
    bad = {
        "policies": [
            {"name": "a", "mode": "yolo", "steps": [{"action": "explode"}]},
            {
                "name": "a",
                "match": {"xid": "48", "colour": "red"},
                "steps": [{"action": "drain", "timeout": -1, "retries": 1.5, "typo": 1}],
            },
            {"name": "b c", "steps": []},
        ]
    }
    with pytest.raises(PolicyError) as caught:
        parse_policies(bad)
    problems = caught.value.problems
    expected = [
        "policies[0].mode: must be one of shadow, dry-run, enforce, not 'yolo'",
        "policies[0].steps[0].action: must be one of",
        "policies[1].match.colour: unknown key",
        "policies[1].match.xid: must be an integer or a list of integers",
        "policies[1].steps[0].typo: unknown key",
        "policies[1].steps[0].retries: must be an integer >= 0",
        "policies[1].steps[0].timeout: must be a number of seconds > 0, not -1",
        "policies[2].name: must be a non-empty string",
        "policies[2].steps: must be a non-empty list",
        "policies: name 'a' is used more than once",
    ]
    for want in expected:
        assert any(p.startswith(want) for p in problems), (want, problems)


def test_document_shape_errors() -> None:
    with pytest.raises(PolicyError, match=r"list under `policies`"):
        parse_policies({"policy": []})
    with pytest.raises(PolicyError, match="unknown section"):
        parse_config({"policies": [], "guard": {}})
    with pytest.raises(PolicyError, match=r"commands\.x: must be a non-empty list"):
        parse_config({"policies": [], "commands": {"x": "rm -rf"}})


def test_guard_settings() -> None:
    assert parse_guard_settings(None) == GuardSettings()
    s = parse_guard_settings({"breaker_fraction": 0.2, "max_in_flight": 4})
    assert s.breaker_fraction == 0.2
    assert s.max_in_flight == 4
    assert s.breaker_limit(1000) == 10  # the absolute cap binds
    assert s.breaker_limit(20) == 4  # the fraction binds
    with pytest.raises(PolicyError) as caught:
        parse_guard_settings(
            {
                "max_inflight": 2,
                "rate_max": "lots",
                "windows": [{"days": ["someday"]}, {"start": "25:00", "end": "x"}],
            }
        )
    assert len(caught.value.problems) == 5
