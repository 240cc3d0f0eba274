"""Request body limits, as plain ASGI so they run before any parsing.

The body is read (up to the limit) and replayed to the app; anything larger gets a 413 that says
the limit, whether the client declared its length or streamed it. A JSON body (any body but a
form's) nested deeper than daemon/engine/inputs.py allows gets a 422 naming where: every JSON
route, and both paths of /v1/events, are spared a parser or serializer that gives up (a 500).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daemon.engine.inputs import depth_problem, too_deep
from daemon.web.asgi import answer

FORMS = (b"application/x-www-form-urlencoded", b"multipart/form-data")


#: A body too large is not read: the connection closes after the answer.
CLOSE = {"connection": "close"}


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if not _header(scope, b"content-type").lower().startswith(FORMS) and (
            where := too_deep(body)
        ):
            await _invalid(send, where, depth_problem())
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        detail = f"the limit is {self.max_bytes} bytes (server.max_body_bytes)"
        content = {"error": "request body too large", "detail": detail}
        await answer(send, 413, json.dumps(content).encode(), b"application/json", CLOSE)


async def _invalid(send: Send, field: str, message: str) -> None:
    """As daemon/web/app.py answers a request that does not validate."""
    content = {
        "error": "invalid request",
        "detail": f"{field}: {message}",
        "problems": [{"field": field, "message": message}],
    }
    await answer(send, 422, json.dumps(content).encode(), b"application/json")


def _header(scope: Scope, wanted: bytes) -> bytes:
    return next((value for name, value in scope["headers"] if name == wanted), b"")


def _content_length(scope: Scope) -> int | None:
    try:
        return int(_header(scope, b"content-length"))
    except ValueError:
        return None
