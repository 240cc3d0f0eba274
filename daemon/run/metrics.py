"""Prometheus metrics, on a registry of our own (one per app, never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from daemon.mail.outbox import State
from daemon.run.health import Report


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

        self.healthy = Gauge(
            "vouch_healthy", "1 when /healthz answers 200, else 0.", registry=self.registry
        )
        self.last_pass = Gauge(
            "vouch_loop_last_pass_timestamp_seconds",
            "When each loop (scheduler, sender) last completed a pass, Unix time.",
            ["loop"],
            registry=self.registry,
        )
        self.store_writable = Gauge(
            "vouch_store_writable", "1 when the store can write, else 0.", registry=self.registry
        )
        self.sending_paused = Gauge(
            "vouch_sending_paused", "1 when sending is paused, else 0.", registry=self.registry
        )
        self.set_aside = Gauge(
            "vouch_set_aside_items",
            "Items the scheduler set aside with an error (shown on the dashboard).",
            registry=self.registry,
        )

    def set_health(self, report: Report, set_aside: int) -> None:
        self.healthy.set(int(report.healthy))
        for name, loop in report.loops.items():
            if loop.passed is not None:
                self.last_pass.labels(name).set(loop.passed.timestamp())
        self.store_writable.set(int(report.store_error is None))
        self.sending_paused.set(int(report.paused is not None))
        self.set_aside.set(set_aside)

    def set_outbox(self, counts: dict[State, int]) -> None:
        for state, count in counts.items():
            self.outbox.labels(state.value).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
