"""Answers written straight to ASGI by the layers in front of FastAPI (the body limit, the
public rate limit, the events' fast path): one way to send a whole answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.types import Send


async def answer(
    send: Send, status: int, body: bytes, content_type: bytes, headers: Mapping[str, str] = {}
) -> None:
    """A complete answer: its length and type, then `headers` (names in any case)."""
    raw = [(b"content-length", str(len(body)).encode()), (b"content-type", content_type)]
    raw += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def answer_json(
    send: Send, status: int, content: Any, headers: Mapping[str, str] = {}
) -> None:
    """JSON as Starlette's JSONResponse renders it."""
    body = json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()
    await answer(send, status, body, b"application/json", headers)
