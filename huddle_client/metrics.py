"""Prometheus metrics for a cluster, read live at scrape time.

A :class:`ClusterCollector` turns the cluster's state into metric families when Prometheus
scrapes, so nothing is updated on the request path. Each cluster gets a registry of its own
(:func:`cluster_registry`), which keeps two clusters in one process from colliding. Series
are labelled by upstream id and ring only: never by request path, so their number stays
bounded whatever traffic arrives.

Needs ``prometheus-client`` (``pip install "huddle-client[prometheus]"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cluster import HuddleCluster

try:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'huddle_client.metrics needs prometheus-client: pip install "huddle-client[prometheus]"'
    ) from exc


class ClusterCollector(Collector):
    """Exposes one cluster's rings, temperatures and latencies as Prometheus metrics."""

    def __init__(self, cluster: HuddleCluster) -> None:
        self._cluster = cluster

    def collect(self) -> Iterator[Metric]:
        c = self._cluster
        servers = c.all_servers()

        def per_server(name: str, doc: str, value: Any, with_ring: bool = False) -> Metric:
            labels = ["server", "ring"] if with_ring else ["server"]
            family = GaugeMetricFamily(name, doc, labels=labels)
            for up in servers:
                values = [up.id, up.position.value] if with_ring else [up.id]
                family.add_metric(values, float(value(up)))
            return family

        yield per_server(
            "huddle_server_temperature",
            "EMA temperature of the upstream (0 cool, 1 hot)",
            lambda u: u.temperature,
            with_ring=True,
        )
        yield per_server(
            "huddle_server_avg_latency_ms",
            "Mean latency of the upstream's recent successful calls",
            lambda u: u.avg_latency_ms,
        )
        yield per_server(
            "huddle_server_anomaly_score",
            "Relative latency anomaly of the upstream (0 normal, 1 at least 3x the median)",
            lambda u: u.anomaly,
        )
        yield per_server(
            "huddle_server_error_rate", "Share of failed recent calls", lambda u: u.error_rate
        )
        yield per_server("huddle_server_in_flight", "Calls in flight", lambda u: u.in_flight)
        yield per_server(
            "huddle_server_healthy", "1 when the upstream is healthy", lambda u: u.healthy
        )
        rotations = CounterMetricFamily(
            "huddle_server_rotations", "Moves of the upstream between rings", labels=["server"]
        )
        requests = CounterMetricFamily(
            "huddle_server_requests", "Outcomes reported for the upstream", labels=["server"]
        )
        failures = CounterMetricFamily(
            "huddle_server_failures", "Failed outcomes reported for the upstream", labels=["server"]
        )
        for up in servers:
            rotations.add_metric([up.id], up.rotation_count)
            requests.add_metric([up.id], up.requests)
            failures.add_metric([up.id], up.failures)
        yield rotations
        yield requests
        yield failures
        inner = sum(1 for u in servers if u.position.value == "inner")
        yield GaugeMetricFamily(
            "huddle_cluster_inner_count", "Upstreams in the inner ring", value=inner
        )
        yield GaugeMetricFamily(
            "huddle_cluster_fairness_gini",
            "Gini coefficient of inner-ring duty time",
            value=c.fairness_score(),
        )
        yield GaugeMetricFamily(
            "huddle_cluster_heat_threshold", "Heat threshold in force", value=c.heat_threshold
        )
        yield GaugeMetricFamily(
            "huddle_cluster_cool_threshold", "Cool threshold in force", value=c.cool_threshold
        )
        yield GaugeMetricFamily(
            "huddle_cluster_p95_latency_ms",
            "P95 latency over the inner ring's windows at the last tick",
            value=c.cluster_p95_ms,
        )


def cluster_registry(cluster: HuddleCluster) -> CollectorRegistry:
    """A fresh registry holding only this cluster's collector."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ClusterCollector(cluster))
    return registry


def render_metrics(cluster: HuddleCluster) -> str:
    """The cluster's metrics in the Prometheus text format."""
    return generate_latest(cluster_registry(cluster)).decode("utf-8")
