"""Merging one stored incident into another, as correlation does when a cause turns out to
explain both."""

from __future__ import annotations

from pathlib import Path

from foreshock.model import Alert, fingerprint
from foreshock.store.state import StateStore


def _alert(name: str) -> Alert:
    labels = {"alertname": name, "instance": "n1"}
    return Alert(fingerprint(labels), labels, {}, 100.0)


def test_merge_moves_the_alerts_and_resolves_the_source(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "state.db") as store:
        a, b, c = _alert("A"), _alert("B"), _alert("C")
        store.upsert_alerts([a, b, c], now=100)
        first = store.create_incident("rack r1", started_at=100, fingerprints=[a.fingerprint])
        second = store.create_incident(
            "pdu p1", started_at=101, fingerprints=[b.fingerprint, c.fingerprint]
        )
        merged = store.merge_incidents(first.id, second.id, now=200)
        assert sorted(link.fingerprint for link in merged.alerts) == sorted(
            [a.fingerprint, b.fingerprint, c.fingerprint]
        )
        source = store.incident(first.id)
        assert source is not None
        assert source.status == "resolved"
        assert source.title == f"merged into incident {second.id}: rack r1"
        assert list(source.alerts) == []
        # Each alert belongs to one incident only.
        assert [i.id for i in store.incidents(fingerprint=a.fingerprint)] == [second.id]


def test_setting_an_incident_s_alerts_moves_some_to_another(tmp_path: Path) -> None:
    """Correlation found that one alert of an incident had another cause: the incident keeps
    the rest, and the alert is linked where it belongs."""
    with StateStore.open(tmp_path / "state.db") as store:
        a, b, c = _alert("A"), _alert("B"), _alert("C")
        store.upsert_alerts([a, b, c], now=100)
        storm = store.create_incident(
            "cdu", started_at=100, fingerprints=[a.fingerprint, b.fingerprint, c.fingerprint]
        )
        link = store.create_incident("nic", started_at=100, fingerprints=[])
        assert store.set_incident_alerts(storm.id, [a.fingerprint, b.fingerprint], now=150) == []
        added = store.set_incident_alerts(link.id, [c.fingerprint], now=150)
        assert added == [c.fingerprint]
        kept = store.incident(storm.id)
        assert kept is not None
        assert sorted(x.fingerprint for x in kept.alerts) == sorted([a.fingerprint, b.fingerprint])
        assert [i.id for i in store.incidents(fingerprint=c.fingerprint)] == [link.id]
