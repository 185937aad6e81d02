"""Which GPU or node an XID line is about.

A kernel log line names a host and a PCI address, not a GPU. The GPU behind an address is
learned from dcgm-exporter series, which carry both `pci_bus_id` and the host, or read from
topology entities that record a `pci_bus_id` label. When neither knows the address, the event
belongs to the host's node, which is still the right place to look.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from foreshock.ingest.kmsg import normalise_pci
from foreshock.ingest.series import SeriesTable
from foreshock.model import Event
from foreshock.topology import Topology

_HOST_KEYS = ("hostname", "Hostname")


class EventResolver:
    def __init__(self, topology: Topology, table: SeriesTable | None = None) -> None:
        self.topology = topology
        self.table = table
        self._pci: dict[tuple[str, str], str] = {}
        self._learned_upto = 0
        for e in topology.entities():
            host = e.labels.get("hostname") or e.labels.get("Hostname")
            pci = e.labels.get("pci_bus_id")
            if host and pci:
                self._pci[(host, normalise_pci(pci))] = e.id

    def _learn(self) -> None:
        table = self.table
        if table is None or self._learned_upto == len(table):
            return
        for sid in range(self._learned_upto, len(table)):
            series = table[sid]
            if series.entity < 0:
                continue
            labels = dict(series.labels)
            pci = labels.get("pci_bus_id")
            host = next((labels[k] for k in _HOST_KEYS if k in labels), None)
            if pci and host:
                self._pci.setdefault((host, normalise_pci(pci)), self.topology.id_at(series.entity))
        self._learned_upto = len(table)

    def resolve(self, event: Event) -> Event:
        if event.entity is not None or event.host is None:
            return event
        self._learn()
        entity = self._pci.get((event.host, event.pci))
        if entity is None:
            entity = self.topology.map_labels({"hostname": event.host})
        return replace(event, entity=entity)

    def device(self, host: str, pci: str) -> str | None:
        """The GPU (or NVSwitch) at a PCI address of a host, if known."""
        self._learn()
        return self._pci.get((host, normalise_pci(pci)))

    def alert_mapper(self) -> Callable[[Mapping[str, str]], str | None]:
        """Label → entity mapping for alerts that also knows PCI addresses: an alert a kernel
        log rule raises for a host but whose `pci_bus_id` names one of its GPUs (XID 79) is
        about that GPU."""

        def mapper(labels: Mapping[str, str]) -> str | None:
            pci = labels.get("pci_bus_id")
            host = next((labels[k] for k in _HOST_KEYS if k in labels), None)
            if pci and host:
                found = self.device(host, pci)
                if found is not None:
                    return found
            return self.topology.map_labels(labels)

        return mapper
