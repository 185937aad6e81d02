"""Alerts, findings and events → incidents: deduplicated, grouped by cause, symptoms
suppressed with the reason."""

from foreshock.correlate.correlator import Correlator, correlate

__all__ = ["Correlator", "correlate"]
