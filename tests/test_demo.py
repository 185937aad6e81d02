"""`foreshock demo` end to end: the live simulator over HTTP into the real service, which
prints the incident of the first fault with its root cause."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from foreshock.demo import Demo, DemoOptions


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_demo_finds_the_first_fault_and_serves_the_ui(tmp_path) -> None:
    lines: list[str] = []
    port = _free_port()
    checked: dict[str, object] = {}

    def say(line: str) -> None:
        lines.append(line)
        if line.startswith("incident ") and "ui" not in checked:
            # While it runs, the UI answers and the API lists the incident.
            token = next(x for x in lines if x.startswith("sign in: ")).split("token=")[1]
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/incidents",
                headers={"Authorization": f"Bearer {token}"},
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                checked["ui"] = json.loads(resp.read())

    options = DemoOptions(
        gpus=128, duration=40, port=port, speed=20, data_dir=str(tmp_path), seed=3
    )
    count = Demo(options, say).run()
    assert count >= 1, "\n".join(lines)
    first_fault = next(x for x in lines if x.startswith("first fault: "))
    root = first_fault.split(" at ")[1].split(",")[0]
    assert any(x.startswith("incident ") and f"root cause {root} " in x for x in lines), lines
    assert checked.get("ui"), "the API answered while the demo ran"
