"""A per-address token bucket for the public pages (/s/, /u/, /r/, /p/, /review/), as plain ASGI.

Each client address may make `rate_per_minute` requests a minute with bursts of `burst`; beyond
that it gets a plain 429 page with `Retry-After`. The address is the connection's peer, unless
that peer is one of `server.trusted_proxies`: then it is the right-most X-Forwarded-For entry
that is not itself a trusted proxy. Buckets live in memory, at most `max_buckets` of them; the
least recently seen go first (a forgotten bucket is a full one, so eviction only ever forgives).
Admin endpoints need the token and are not limited here.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from daemon.clock import Clock
from daemon.web.asgi import answer

PUBLIC_PREFIXES = ("/s/", "/u/", "/r/", "/p/", "/review/")

_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Too many requests</title>
<link rel="stylesheet" href="/static/page.css"></head>
<body><main><h1>Too many requests</h1>
<p>This page was asked for too often from your connection. Please wait a minute and try again.</p>
</main></body></html>
"""


class TokenBuckets:
    """Buckets keyed by address: `burst` tokens, refilled at `rate_per_minute / 60` a second."""

    def __init__(
        self, clock: Clock, rate_per_minute: int, burst: int, max_buckets: int = 10_000
    ) -> None:
        self.clock = clock
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """0 when a request may go ahead (and a token is spent), else seconds until it may."""
        now = self.clock.monotonic()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate if self.rate > 0 else math.inf
        self._buckets[key] = (tokens, now)  # most recently seen last
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
        return wait


class PublicRateLimit:
    def __init__(
        self,
        app: ASGIApp,
        clock: Clock,
        rate_per_minute: int,
        burst: int,
        trusted_proxies: Iterable[str] = (),
        max_buckets: int = 10_000,
    ) -> None:
        self.app = app
        self.buckets = TokenBuckets(clock, rate_per_minute, burst, max_buckets)
        self.trusted = frozenset(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(self.address(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = str(max(1, math.ceil(wait))) if math.isfinite(wait) else "60"
        headers = {"retry-after": retry, "cache-control": "no-store"}
        await answer(send, 429, _PAGE, b"text/html; charset=utf-8", headers)

    def address(self, scope: Scope) -> str:
        return client_address(scope, self.trusted)


def client_address(scope: Scope, trusted: frozenset[str]) -> str:
    """The connection's peer, or behind a trusted proxy the right-most untrusted
    X-Forwarded-For entry (also what the dashboard's login guard counts by)."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if peer not in trusted:
        return peer
    forwarded: list[str] = []
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            forwarded.extend(p.strip() for p in value.decode("latin-1").split(","))
    for hop in reversed(forwarded):
        if hop and hop not in trusted:
            return hop
    return peer


def client_scheme(scope: Scope, trusted: frozenset[str]) -> str:
    """The scheme the client used: the connection's, or behind a trusted proxy the last
    X-Forwarded-Proto (a TLS-terminating proxy talks plain http to the daemon). uvicorn's own
    proxy handling is off (daemon/run/runtime.py), so this is the only place that believes it."""
    client = scope.get("client")
    if client and str(client[0]) in trusted:
        said: list[bytes] = [v for n, v in scope["headers"] if n == b"x-forwarded-proto"]
        if said:
            return said[-1].decode("latin-1").split(",")[-1].strip().lower()
    scheme: str = scope.get("scheme", "http")
    return scheme
