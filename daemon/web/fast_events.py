"""POST /v1/events, accepted without FastAPI's per-request machinery.

Events are the one endpoint called hundreds of times a second. Under bench/load.py (500 a
second), FastAPI's routing, dependency solving and response building took more of the daemon's
CPU than recording the events did (py-spy). This plain ASGI layer answers an authorised event
that validates, with exactly what the route in `api.py` answers (the same token check, the same
model validated the same way from the same JSON, `accept_event`, the same JSON receipt). It
declines everything else: another path or method, no token or a wrong one, a body that is not
JSON or does not validate, an event `accept_event` refuses. Those go on to FastAPI unchanged, so
every refusal, and the OpenAPI schema, still come from the route.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daemon.errors import StoreUnavailable
from daemon.intake.accept import Refused, accept_event
from daemon.intake.events import EventIn
from daemon.run.services import Services
from daemon.web.api import event_answer, unavailable_answer
from daemon.web.asgi import answer_json
from daemon.web.auth import bearer_ok

PATH = "/v1/events"


class FastEvents:
    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != PATH
            or not self._ours(scope)
        ):
            await self.app(scope, receive, send)
            return
        body, messages = await _read(receive)
        event = _event(body)
        if event is None:  # the route says what is wrong with it
            await self.app(scope, _replay(messages, receive), send)
            return
        try:
            outcome = await accept_event(self.services, event)
        except Refused:  # nothing recorded: the route refuses it in the same words
            await self.app(scope, _replay(messages, receive), send)
            return
        except StoreUnavailable as exc:  # e.g. the disk is full: nothing recorded, try again
            status, content, headers = unavailable_answer(exc)
        else:
            status, content, headers = event_answer(event, outcome)
        await answer_json(send, status, content, headers)

    def _ours(self, scope: Scope) -> bool:
        """Authorised by the routes' own check (`auth.bearer_ok`), and sent as
        application/json (other JSON types are left to FastAPI)."""
        authorization = content_type = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-type":
                content_type = value
        return content_type.split(b";")[0].strip().lower() == b"application/json" and bearer_ok(
            authorization.decode("latin-1"), self.services.config.secrets.api_token
        )


def _event(body: bytes) -> EventIn | None:
    """The event, validated as FastAPI validates the route's body (JSON, then the model)."""
    try:
        return EventIn.model_validate(json.loads(body))
    except (ValueError, ValidationError, RecursionError):  # not JSON, UTF-8 or a valid event
        return None


async def _read(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole body (BodyLimit, further out, has already bounded it), and the messages it
    came in, to hand on unchanged if this layer declines."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
