"""Bearer-token check for the admin API, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


def bearer_ok(authorization: str, expected: str | None) -> bool:
    """Whether an Authorization header carries the admin API's bearer token: the one check for
    the routes and the events' fast path (which reads the header as Starlette does, latin-1)."""
    scheme, _, given = authorization.partition(" ")
    return bool(
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), expected.encode())
    )


def has_token(request: Request) -> bool:
    """Whether the request carries the admin API's bearer token."""
    expected = request.app.state.services.config.secrets.api_token
    return bearer_ok(request.headers.get("authorization", ""), expected)


async def require_token(request: Request) -> None:
    """Async on purpose: a plain def would run in a thread pool, a round-trip per request."""
    if not has_token(request):
        raise HTTPException(
            status_code=401,
            detail="missing or wrong bearer token (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
