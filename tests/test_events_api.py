"""POST /v1/events: auth, idempotency, clear 422/413s, commit before the 202; healthz, metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from daemon.run.services import Services
from daemon.web import create_app
from daemon.web.fast_events import FastEvents

from helpers import TOKEN, query

AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json"}


def body(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "order-1001",
        "type": "purchase.completed",
        "occurred_at": "2026-03-01T10:00:00Z",
        "customer": {
            "email": "ann@example.com",
            "name": "Ann Example",
            "timezone": "America/New_York",
            "locale": "en-US",
            "tags": ["kitchen"],
        },
        "data": {"order": "1001", "total": 4200},
    }
    event.update(changes)
    return event


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as c:
        yield c


async def test_event_needs_the_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}):
        answer = await client.post("/v1/events", json=body(), headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"


async def test_event_is_committed_before_the_202(
    client: httpx.AsyncClient, services: Services
) -> None:
    answer = await client.post("/v1/events", json=body(), headers=AUTH)
    assert answer.status_code == 202
    assert answer.json() == {"id": "order-1001", "type": "purchase.completed", "status": "recorded"}
    # A separate connection sees the row: it is committed, not just written.
    rows = query(services.store, "SELECT id, type FROM events")
    customers = query(services.store, "SELECT email, name, timezone FROM customers")
    assert rows == [("order-1001", "purchase.completed")]
    assert customers == [("ann@example.com", "Ann Example", "America/New_York")]


async def test_same_id_twice_records_one_event(
    client: httpx.AsyncClient, services: Services
) -> None:
    first = await client.post("/v1/events", json=body(), headers=AUTH)
    second = await client.post("/v1/events", json=body(), headers=AUTH)
    assert second.status_code == 202 and second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await services.store.event_counts() == {"purchase.completed": 1}


async def test_same_id_different_event_is_a_conflict(client: httpx.AsyncClient) -> None:
    await client.post("/v1/events", json=body(), headers=AUTH)
    answer = await client.post("/v1/events", json=body(data={"order": "other"}), headers=AUTH)
    assert answer.status_code == 409
    assert "different body" in answer.json()["detail"]


async def test_unknown_type_is_stored_and_reported(
    client: httpx.AsyncClient, services: Services
) -> None:
    answer = await client.post("/v1/events", json=body(type="carrier.pigeon_landed"), headers=AUTH)
    assert answer.status_code == 202
    assert "unknown event type 'carrier.pigeon_landed'" in answer.json()["warnings"][0]
    assert await services.store.event_counts() == {"carrier.pigeon_landed": 1}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"customer": {"email": "not-an-email"}}, "customer.email", "email address"),
        ({"occurred_at": "2026-03-01T10:00:00"}, "occurred_at", "time zone offset"),
        ({"occurred_at": "yesterday"}, "occurred_at", "datetime"),
        ({"type": "Purchase Completed"}, "type", "pattern"),
        ({"id": ""}, "id", "at least 1 character"),
        (
            {"customer": {"email": "a@example.com", "timezone": "Nowhere/Land"}},
            "customer.timezone",
            "time zone",
        ),
        ({"surprise": 1}, "surprise", "Extra inputs are not permitted"),
    ],
)
async def test_malformed_event_422_names_the_field(
    client: httpx.AsyncClient, changes: dict[str, Any], field: str, words: str
) -> None:
    answer = await client.post("/v1/events", json=body(**changes), headers=AUTH)
    assert answer.status_code == 422
    problems = answer.json()["problems"]
    assert [p["field"] for p in problems] == [field]
    assert words in problems[0]["message"]
    assert answer.json()["detail"].startswith(f"{field}: ")


async def test_missing_field_and_bad_json(client: httpx.AsyncClient) -> None:
    event = body()
    del event["occurred_at"]
    answer = await client.post("/v1/events", json=event, headers=AUTH)
    assert answer.status_code == 422
    assert answer.json()["problems"] == [{"field": "occurred_at", "message": "Field required"}]
    bad = await client.post(
        "/v1/events", content=b'{"id": ', headers={**AUTH, "Content-Type": "application/json"}
    )
    assert bad.status_code == 422
    assert bad.json()["problems"][0]["message"].startswith("not valid JSON")


async def test_oversized_body_gets_413(client: httpx.AsyncClient, services: Services) -> None:
    huge = body(data={"blob": "x" * (256 * 1024)})
    answer = await client.post("/v1/events", json=huge, headers=AUTH)
    assert answer.status_code == 413
    assert "262144 bytes" in answer.json()["detail"]
    assert answer.headers["connection"] == "close"  # the rest of the body is never read
    assert answer.headers["content-type"] == "application/json"

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(300):
            yield b"x" * 1024

    chunked = await client.post("/v1/events", content=streamed(), headers=AUTH)
    assert chunked.status_code == 413
    assert await services.store.event_counts() == {}


async def test_healthz_and_metrics(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    await client.post("/v1/events", json=body(), headers=AUTH)
    await client.post("/v1/events", json=body(id="x-2", type="mystery.thing"), headers=AUTH)
    assert (await client.get("/metrics")).status_code == 401
    text = (await client.get("/metrics", headers=AUTH)).text
    assert 'vouch_events_received_total{type="purchase.completed"} 1.0' in text
    assert 'vouch_events_received_total{type="other"} 1.0' in text
    assert 'vouch_outbox_rows{state="queued"} 0.0' in text
    assert "vouch_send_seconds_bucket" in text


async def test_the_fast_path_answers_exactly_as_the_route(
    client: httpx.AsyncClient, services: Services
) -> None:
    """application/json events are answered by web/fast_events.py; FastAPI's route answers
    the other JSON types (`+json`). Same event, same answers: new, replay, conflict."""

    async def post(event: dict[str, Any], content_type: str) -> httpx.Response:
        return await client.post(
            "/v1/events",
            content=json.dumps(event).encode(),
            headers={**AUTH, "Content-Type": content_type},
        )

    answers: dict[str, list[httpx.Response]] = {}
    for content_type, event_id in (
        ("application/json", "fast-1"),
        ("application/vnd.vouch+json", "route-1"),
    ):
        event = body(id=event_id)
        answers[content_type] = [
            await post(event, content_type),
            await post(event, content_type),  # a replay
            await post({**event, "data": {"order": "other"}}, content_type),  # a conflict
        ]
    fast, route = answers["application/json"], answers["application/vnd.vouch+json"]
    for a, b in zip(fast, route, strict=True):
        assert a.status_code == b.status_code
        assert a.content.replace(b"fast-1", b"route-1") == b.content
        assert {k: v for k, v in a.headers.items() if k != "content-length"} == {
            k: v for k, v in b.headers.items() if k != "content-length"
        }
    assert [a.status_code for a in fast] == [202, 202, 409]
    assert fast[1].headers["idempotent-replayed"] == "true"
    counts = await services.store.event_counts()
    assert counts == {"purchase.completed": 2}


async def test_the_fast_path_leaves_refusals_to_the_route(client: httpx.AsyncClient) -> None:
    """A wrong token, a body that is not an event: FastAPI's own answers, body intact."""
    wrong = await client.post(
        "/v1/events", json=body(), headers={"Authorization": "Bearer not-the-token"}
    )
    assert wrong.status_code == 401
    invalid = await client.post("/v1/events", json=body(type="Not A Type"), headers=AUTH)
    assert invalid.status_code == 422
    assert [p["field"] for p in invalid.json()["problems"]] == ["type"]


async def test_the_fast_path_records_what_it_accepts_and_hands_on_the_rest(
    services: Services,
) -> None:
    """FastEvents alone, in front of an app that records what reaches it: an authorised,
    valid event never reaches it; anything else reaches it with its body as it came."""
    reached: list[bytes] = []

    async def behind(scope: Any, receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        reached.append(b"".join(chunks))
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=FastEvents(behind, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as c:
        accepted = await c.post("/v1/events", json=body(id="fast-only"), headers=AUTH)
        invalid = json.dumps(body(id="x", occurred_at="yesterday")).encode()
        declined = [
            await c.post("/v1/events", content=invalid, headers={**AUTH, **JSON}),
            await c.post("/v1/events", json=body(id="no-token")),
            await c.get("/v1/events", headers=AUTH),
        ]
    assert accepted.status_code == 202
    receipt = {"id": "fast-only", "type": "purchase.completed", "status": "recorded"}
    assert accepted.json() == receipt
    assert [d.status_code for d in declined] == [418, 418, 418]
    assert reached[0] == invalid
    assert json.loads(reached[1])["id"] == "no-token"
    assert await services.store.event_counts() == {"purchase.completed": 1}


async def test_both_event_paths_agree_on_every_spelling_of_the_token(
    client: httpx.AsyncClient,
) -> None:
    """One check (`auth.bearer_ok`) serves the fast path (application/json) and the route
    (other JSON types): each spelling of the header is let in by both or by neither."""
    spellings = {
        f"Bearer {TOKEN}": 202,
        f"bearer {TOKEN}": 202,  # the scheme's case does not matter
        f"BEARER   {TOKEN}  ": 202,  # nor spaces around the token
        f"Bearer {TOKEN}x": 401,
        f"Bearer {TOKEN[:-1]}": 401,
        f"Basic {TOKEN}": 401,
        TOKEN: 401,
        "Bearer": 401,
        "Bearer \xe9": 401,  # latin-1 in a header, read as Starlette reads it
    }
    for n, (authorization, status) in enumerate(spellings.items()):
        for content_type in ("application/json", "application/vnd.vouch+json"):
            answer = await client.post(
                "/v1/events",
                content=json.dumps(body(id=f"spelling-{n}-{content_type}")).encode("utf-8"),
                headers=[
                    (b"Authorization", authorization.encode("latin-1")),
                    (b"Content-Type", content_type.encode()),
                ],
            )
            assert answer.status_code == status, (authorization, content_type)
