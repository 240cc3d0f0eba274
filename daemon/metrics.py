"""Prometheus metrics, on a registry of our own (one per app, never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from daemon.outbox import State


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "vouch_events_received",
            "Events recorded, by type (replays of a known id not counted).",
            ["type"],
            registry=self.registry,
        )
        self.outbox = Gauge(
            "vouch_outbox_rows", "Outbox rows by state.", ["state"], registry=self.registry
        )
        self.sends = Counter(
            "vouch_sends",
            "Delivery attempts by result (sent, retry, failed, suppressed).",
            ["result"],
            registry=self.registry,
        )
        self.send_seconds = Histogram(
            "vouch_send_seconds",
            "Time to hand one message to the transport.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )

    def set_outbox(self, counts: dict[State, int]) -> None:
        for state, count in counts.items():
            self.outbox.labels(state.value).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
