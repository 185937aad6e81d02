"""The web UI in a real headless Chromium: every page opens without console errors in both
themes, an incident can be followed from the list to its root cause, and the live view changes
when a change is published on the stream. Screenshots are saved in artifacts/ui/."""

from __future__ import annotations

import threading

from api_seed import PDU, T0
from conftest import LiveService, Page, sign_in


def test_every_page_opens_in_both_themes_without_console_errors(page: Page, live: LiveService):
    sign_in(page, live.tokens["operator"])
    p = page.page
    assert p.url.endswith("/ui/")
    incident = live.seeded.incident
    pages = [
        ("fleet", "/ui/", "#fleet-map[data-state=rendered]"),
        ("incidents", "/ui/incidents", "#incident-list"),
        ("incident", f"/ui/incidents/{incident}", "#causal-graph"),
        ("entity", f"/ui/entities/{live.seeded.symptoms[0]}", "#series[data-state=rendered]"),
        ("live", "/ui/live", "#stream-state[data-state=live]"),
        ("actions", "/ui/actions", "#audit-log"),
    ]
    for theme in ("light", "dark"):
        for name, path, ready in pages:
            page.goto(path)
            p.wait_for_selector(ready, timeout=15_000)
            if p.evaluate("document.documentElement.dataset.theme") != theme:
                p.click("#theme-toggle")
            assert p.evaluate("document.documentElement.dataset.theme") == theme
            page.shot(f"{name}-{theme}")
    page.goto("/ui/")
    p.wait_for_selector("#fleet-map[data-state=rendered]")
    assert int(p.get_attribute("#fleet-map", "data-cells")) > 64
    assert p.locator("#fleet-map .hm, #fleet-map canvas, #fleet-map image").count() >= 1
    assert page.errors == []
    page.goto("/ui/incidents/999")  # an error page, not JSON; its 404 is the only console error
    assert "no incident 999" in p.inner_text("#error-detail")
    page.shot("not-found")
    assert [e for e in page.errors if "status of 404" not in e] == []


def test_follow_an_incident_from_the_list_to_its_root_cause(page: Page, live: LiveService):
    sign_in(page, live.tokens["viewer"], "/ui/incidents")
    p = page.page
    p.click("a.incident-link")
    p.wait_for_selector("#causal-graph")
    root = p.locator("#causal-graph .node.root")
    assert root.count() == 1
    assert root.get_attribute("data-entity") == PDU
    assert p.locator("#causal-graph .node.symptom").count() == len(live.seeded.symptoms)
    assert "symptom of dc1/h1/pdu-001" in p.inner_text("#suppressed")
    assert p.inner_text("#blast-radius")
    assert "all GPUs of r001 dropped at once" in p.inner_text("#evidence")
    page.shot("incident-followed")
    p.click("a.root-cause-link")
    p.wait_for_selector("#entity-health")
    assert PDU in p.inner_text("h1")
    assert p.inner_text("#entity-health") == "critical"
    assert p.inner_text("#what-if")
    page.shot("root-cause-entity")
    assert page.errors == []


def test_acknowledging_from_the_incident_page(page: Page, live: LiveService):
    sign_in(page, live.tokens["operator"], f"/ui/incidents/{live.seeded.incident}")
    p = page.page
    p.click("#ack")
    p.wait_for_selector("#incident-status:text('acknowledged')")
    p.fill("#comment-text", "breaker reset scheduled")
    p.click("#add-comment")
    p.wait_for_selector("#timeline :text('breaker reset scheduled')")
    row = live.store.incident(live.seeded.incident)
    assert row is not None
    assert row.status == "acknowledged"
    assert row.acknowledged_by == "operator"
    assert page.errors == []


def test_the_live_view_changes_when_an_incident_is_published(page: Page, live: LiveService):
    sign_in(page, live.tokens["viewer"], "/ui/live")
    p = page.page
    p.wait_for_selector("#stream-state[data-state=live]", timeout=15_000)
    p.wait_for_selector("tr.live-incident")
    assert p.inner_text("#count-open") == "1"
    page.shot("live-before")

    def fault() -> None:  # as the pipeline would: store the incident, then publish, off-loop
        row = live.store.create_incident(
            "Injected: CDU pump failure",
            started_at=T0 + 100,
            root_causes=[{"entity": "dc1/h1/row01/cdu", "score": 0.9, "evidence": []}],
        )
        live.state.broadcaster.publish("incident", {"id": row.id, "status": "open"})

    threading.Thread(target=fault).start()
    p.wait_for_selector("li.live-event[data-kind=incident]", timeout=10_000)
    p.wait_for_function("document.getElementById('count-open').textContent === '2'")
    assert "Injected: CDU pump failure" in p.inner_text("#live-incidents")
    page.shot("live-after")
    assert page.errors == []
