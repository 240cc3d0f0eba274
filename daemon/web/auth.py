"""Bearer-token check for the admin API, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


async def require_token(request: Request) -> None:
    """Async on purpose: a plain def would run in a thread pool, a round-trip per request."""
    expected = request.app.state.services.config.secrets.api_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(given.strip().encode(), expected.encode())
    ):
        raise HTTPException(
            status_code=401,
            detail="missing or wrong bearer token (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
