"""Prometheus metrics of the serving API, in a registry of their own (one per app).

Queue depths (open cases, open agent tasks, outbox by status) are read from the store when
``/metrics`` is scraped, so they are never stale and cost nothing between scrapes.

>>> metrics = ApiMetrics()
>>> metrics.events.labels(kind="call", result="accepted").inc(3)
>>> b"fraud_brain_events_total" in metrics.render()
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _QueueCollector(Collector):
    """Reads queue depths at scrape time through a callback returning ``{(queue, state): depth}``."""

    def __init__(self, read: Callable[[], dict[tuple[str, str], float]]):
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "fraud_brain_queue_depth", "Items waiting, by queue and state", labels=["queue", "state"],
        )
        for (queue, state), depth in sorted(self._read().items()):
            family.add_metric([queue, state], depth)
        yield family


class ApiMetrics:
    """The counters, histograms and gauges the API exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "fraud_brain_request_seconds", "Request latency by route and status class",
            ["route", "method", "status"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.events = Counter(
            "fraud_brain_events", "Records received, by kind and result", ["kind", "result"], registry=self.registry,
        )
        self.alerts = Counter("fraud_brain_alerts", "Alerts raised by ingest", registry=self.registry)
        self.actions = Counter(
            "fraud_brain_actions", "Actions requested through the API, by kind", ["kind"], registry=self.registry,
        )
        self.checks = Counter(
            "fraud_brain_transfer_checks", "Pre-transfer checks, by decision", ["decision"], registry=self.registry,
        )
        self.rejected = Counter(
            "fraud_brain_rejected_requests", "Requests refused before routing, by reason", ["reason"],
            registry=self.registry,
        )
        self.event_streams = Gauge("fraud_brain_event_streams", "Console event streams open", registry=self.registry)
        self.model_versions = Info(
            "fraud_brain_models", "Versions of the models and rules in use", registry=self.registry,
        )

    def watch_queues(self, read: Callable[[], dict[tuple[str, str], float]]) -> None:
        """Export queue depths read by ``read`` at every scrape."""
        self.registry.register(_QueueCollector(read))

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)
