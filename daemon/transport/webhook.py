"""The HTTP transport for webhook rows: POST the stored body, signed now, to the row's URL.

It speaks the mail transports' interface (daemon/transport/base.py), so the sender's leases,
retries with backoff and batched outcomes serve webhooks unchanged: a 2xx is sent; 408, 429, 5xx,
a timeout or a connection error is a TemporaryDeliveryError (tried again later); any other answer
is a PermanentDeliveryError carrying the status and the start of the answer's body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from daemon.clock import Clock
from daemon.config import Config
from daemon.engine.webhooks import SIGNATURE_HEADER, Verdict, signature, verdict
from daemon.errors import PermanentDeliveryError, TemporaryDeliveryError

_KEEP = 300  # characters of an endpoint's answer kept in last_error


class WebhookTransport:
    """Endpoints and secrets come from the config in force at each send (a reload applies)."""

    def __init__(self, config: Callable[[], Config], clock: Clock, concurrency: int = 4) -> None:
        self.concurrency = concurrency
        self._config = config
        self._clock = clock
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,  # no proxy picked up from the environment by surprise
            limits=httpx.Limits(max_connections=concurrency),
        )

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, key: str) -> str:
        config = self._config()
        hook = next((h for h in config.settings.webhooks if h.url == recipient), None)
        secret = config.secrets.webhook_secrets.get(recipient)
        if hook is None or secret is None:
            raise PermanentDeliveryError(
                f"{recipient} is no longer a configured webhook (or its secret is not set)"
            )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Vouch-Webhooks/1",
            "Vouch-Event-Id": key,
            SIGNATURE_HEADER: signature(secret, int(self._clock.now().timestamp()), message),
        }
        try:
            async with asyncio.timeout(hook.timeout_seconds):  # the whole exchange, not per read
                async with self._client.stream(
                    "POST", recipient, content=message, headers=headers
                ) as answer:
                    status, text = answer.status_code, await _start_of(answer)
        except TimeoutError:
            raise TemporaryDeliveryError(f"no answer within {hook.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise TemporaryDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        said = f"HTTP {status}" + (f": {text}" if text else "")
        decided = verdict(status)
        if decided is Verdict.RETRY:
            raise TemporaryDeliveryError(said, status)
        if decided is Verdict.FAILED:
            raise PermanentDeliveryError(said, status)
        return said

    async def aclose(self) -> None:
        await self._client.aclose()


async def _start_of(answer: httpx.Response) -> str:
    """The first few hundred characters of an answer (an endpoint may say why), read no further."""
    head = b""
    async for chunk in answer.aiter_bytes():
        head += chunk
        if len(head) >= _KEEP:
            break
    return " ".join(head[:_KEEP].decode("utf-8", "replace").split())
