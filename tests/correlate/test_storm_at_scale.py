"""A storm too big to see at once: a utility feed behind several UPSes fails on a 30,000-GPU
fleet, and the alerts of each UPS's share arrive mixed over two minutes."""

from __future__ import annotations

from foreshock.bench.rca import _storm
from foreshock.correlate import correlate
from foreshock.sim import FleetShape, generate_fleet
from foreshock.topology import Topology


def test_a_feed_outage_seen_ups_by_ups_is_one_incident_about_the_feed() -> None:
    entities, relations = generate_fleet(FleetShape(gpus=30_000, feeds=1))
    topo = Topology(entities, relations)
    cause, alerts = _storm(topo, 3_000)
    assert topo.kind_of(cause) == "utility_feed"  # several UPSes each alert first
    incidents = correlate(topo, alerts)
    assert len(incidents) == 1
    assert incidents[0].root_causes[0].entity == cause
    assert len(incidents[0].alerts) == len(alerts)
