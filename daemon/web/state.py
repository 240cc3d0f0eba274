"""What the app holds for its routes, read one way by all of them."""

from __future__ import annotations

from fastapi import Request

from daemon.run.services import Services


def services(request: Request) -> Services:
    """The daemon's services, which the app was built with (`app.state.services`)."""
    found: Services = request.app.state.services
    return found
