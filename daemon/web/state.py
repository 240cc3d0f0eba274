"""What the app holds for its routes, read one way by all of them."""

from __future__ import annotations

from fastapi import Request

from daemon.run.services import Services
from daemon.words import PageWords


def services(request: Request) -> Services:
    """The daemon's services, which the app was built with (`app.state.services`)."""
    found: Services = request.app.state.services
    return found


def words(request: Request) -> PageWords:
    """The pages' words of the config in force (a reload brings the owner's edits)."""
    return services(request).config.words
