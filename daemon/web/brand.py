"""The business's logo, which HTML emails show from `public_url/brand/logo` ([email.voice]
logo): the owner's file, read from the config in force, so a reload brings a new one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from daemon.config import LOGO_TYPES
from daemon.web import state

router = APIRouter(include_in_schema=False)


@router.get("/brand/logo", response_class=FileResponse)
async def logo(request: Request) -> Response:
    config = state.services(request).config
    chosen = config.settings.email.voice.logo
    path = config.resolve(chosen) if chosen else None
    if path is None or not path.is_file():
        return PlainTextResponse("no logo", status_code=404)
    return FileResponse(
        path,
        media_type=LOGO_TYPES[path.suffix.lower()],
        headers={"Cache-Control": "public, max-age=86400"},
    )
