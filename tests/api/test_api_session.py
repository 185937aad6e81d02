"""Signing in to the UI with a token, the session cookie, CSRF, and the pages behind it."""

from __future__ import annotations

import re

from api_seed import PDU, seed_power_incident

from foreshock.api.auth import Principal
from foreshock.api.session import COOKIE, Sessions


def sign_in(service, role="operator", next_url="/ui/"):
    client = service.client
    r = client.post(
        "/ui/login",
        data={"token": service.tokens[role], "next": next_url},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return r


def csrf_of(html):
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def test_pages_redirect_to_sign_in_and_back(service):
    r = service.client.get("/ui/incidents", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=/ui/incidents"
    page = service.client.get("/ui/login?next=/ui/incidents")
    assert page.status_code == 200
    assert 'name="next" value="/ui/incidents"' in page.text
    r = sign_in(service, next_url="/ui/incidents")
    assert r.headers["location"] == "/ui/incidents"
    cookie = r.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert service.client.get("/ui/incidents").status_code == 200


def test_bad_tokens_and_open_redirects_are_refused(service):
    r = service.client.post("/ui/login", data={"token": "wrong"}, follow_redirects=False)
    assert r.status_code == 200
    assert "not valid" in r.text
    assert COOKIE not in r.cookies
    r = service.client.post(
        "/ui/login", data={"token": service.tokens["ingest"]}, follow_redirects=False
    )
    assert "ingest tokens cannot sign in" in r.text
    for evil in ("https://evil.example/", "//evil.example/ui/", "/api/v1/incidents"):
        assert sign_in(service, next_url=evil).headers["location"] == "/ui/"


def test_the_cookie_works_for_the_api_and_changes_need_csrf(service):
    seeded = seed_power_incident(service.store, service.topology)
    sign_in(service)
    client = service.client
    assert client.get("/api/v1/incidents").json()["total"] == 1
    url = f"/api/v1/incidents/{seeded.incident}/acknowledge"
    assert client.post(url).status_code == 403  # no CSRF token
    assert client.post(url, headers={"X-CSRF-Token": "guess"}).status_code == 403
    token = csrf_of(client.get("/ui/incidents").text)
    r = client.post(url, headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    assert r.json()["acknowledged_by"] == "operator"


def test_viewer_sessions_cannot_change_incidents(service):
    seeded = seed_power_incident(service.store, service.topology)
    sign_in(service, role="viewer")
    page = service.client.get(f"/ui/incidents/{seeded.incident}")
    assert page.status_code == 200
    assert 'value="acknowledge"' not in page.text
    token = csrf_of(page.text)
    r = service.client.post(
        f"/ui/incidents/{seeded.incident}",
        data={"csrf": token, "action": "acknowledge"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert service.store.incident(seeded.incident).status == "open"


def test_incident_forms_acknowledge_and_comment(service):
    seeded = seed_power_incident(service.store, service.topology)
    sign_in(service)
    url = f"/ui/incidents/{seeded.incident}"
    token = csrf_of(service.client.get(url).text)
    r = service.client.post(url, data={"action": "acknowledge"}, follow_redirects=False)
    assert r.status_code == 403  # the form's CSRF field is missing
    for data in ({"action": "acknowledge"}, {"action": "comment", "text": "on it"}):
        r = service.client.post(url, data={"csrf": token, **data}, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == url
    row = service.store.incident(seeded.incident)
    assert row.status == "acknowledged"
    assert [c.text for c in row.comments] == ["on it"]
    r = service.client.post(url, data={"csrf": token, "action": "explode"})
    assert r.status_code == 422


def test_every_page_renders(service):
    seeded = seed_power_incident(service.store, service.topology)
    sign_in(service, role="viewer")
    for path in (
        "/ui/",
        "/ui/incidents",
        "/ui/incidents?status=open&q=power",
        f"/ui/incidents/{seeded.incident}",
        f"/ui/entities/{PDU}",
        f"/ui/entities/{seeded.symptoms[0]}",
        "/ui/live",
        "/ui/plotly.min.js",
        "/ui/static/style.css",
        "/favicon.ico",
    ):
        r = service.client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
    page = service.client.get(f"/ui/incidents/{seeded.incident}").text
    assert 'class="node root"' in page
    assert f'data-entity="{PDU}"' in page
    assert "symptom of dc1/h1/pdu-001" in page
    assert service.client.get("/ui/incidents/999").status_code == 404
    assert service.client.get("/ui/entities/no/such/thing").status_code == 404
    service.assert_no_internal_errors()


def test_sign_out_ends_the_session(service):
    sign_in(service)
    token = csrf_of(service.client.get("/ui/").text)
    r = service.client.post("/ui/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    service.client.cookies.clear()
    assert service.client.get("/ui/", follow_redirects=False).status_code == 303
    assert len(service.client.app.state.sessions) == 0


def test_sessions_expire():
    now = [1000.0]
    sessions = Sessions(60, clock=lambda: now[0])
    cookie, session = sessions.start(Principal("alice", "viewer"))
    assert sessions.get(cookie) == session
    assert sessions.get("other") is None
    now[0] += 61
    assert sessions.get(cookie) is None
    sessions.start(Principal("bob", "viewer"))  # starting a session sweeps expired ones
    assert len(sessions) == 1
